namespace Fabric.Dataplane.Counters;

/// <summary>
/// Why the dataplane dropped a frame. Every drop has exactly one reason; each is counted per VNI (or globally when
/// the VNI is not known yet) and per ingress port. Names are part of the metrics and HTTP contract: append, never rename.
/// </summary>
public enum DropReason : byte
{
    None = 0,
    /// <summary>A header did not parse: truncated, lying length, bad checksum, unsupported ARP format.</summary>
    Malformed,
    /// <summary>An <c>l3</c> network carries IPv4 only (IPv6, LLDP, raw Ethernet...).</summary>
    NotIpv4,
    /// <summary>Broadcast MAC or IPv4 broadcast address in an <c>l3</c> network.</summary>
    BroadcastInL3,
    /// <summary>Multicast MAC or IPv4 multicast address in an <c>l3</c> network.</summary>
    MulticastInL3,
    /// <summary>An 802.1Q/802.1ad tagged frame offered to an <c>l3</c> network.</summary>
    VlanTagInL3,
    /// <summary>VXLAN for a VNI this node does not serve.</summary>
    UnknownVni,
    /// <summary>VXLAN whose flags octet lacks the I bit (RFC 7348: such packets are discarded).</summary>
    VxlanFlagNotSet,
    /// <summary>VXLAN from an outer source that is not a member VTEP of the VNI.</summary>
    NotFromMember,
    /// <summary>A frame from a port the snapshot does not know (port removed while frames were queued).</summary>
    UnknownPort,
    /// <summary>No route in the subnet's route table matches the destination.</summary>
    NoRoute,
    /// <summary>The matching route is a blackhole.</summary>
    Blackhole,
    /// <summary>The route resolved, but no endpoint owns the destination IP (or its MAC has no location).</summary>
    NoNeighbour,
    /// <summary>Source MAC or IP is not the port's own (source check), or a group/zero source MAC.</summary>
    SpoofedSource,
    /// <summary>A gratuitous ARP claiming an address that another endpoint owns.</summary>
    AddressConflict,
    /// <summary>The VNI's FDB is full and the frame's source MAC could not be learned.</summary>
    FdbFull,
    /// <summary>A frame from the overlay whose destination is another VTEP: never sent back into the overlay.</summary>
    SplitHorizon,
    /// <summary>The destination is the port the frame came in on.</summary>
    Hairpin,
    /// <summary>Traffic addressed to the gateway of a subnet other than the sender's.</summary>
    OtherSubnetGateway,
    /// <summary>Traffic to the own gateway that is not an ICMP echo request (the gateway only answers ping).</summary>
    GatewayNotEcho,
    /// <summary>An <c>l3</c> ARP request for an address in the sender's subnet that no endpoint owns.</summary>
    ArpUnresolved,
    /// <summary>ARP arriving from the overlay into an <c>l3</c> network (ARP never leaves a host there).</summary>
    ArpFromOverlay,
    /// <summary>A frame from the overlay for a MAC that is not on this node (the sender's location table was stale).</summary>
    NoLocalEndpoint,
    /// <summary>The batch's transmit list was full (fan-out beyond the configured limit).</summary>
    TxOverflow,
    /// <summary>An <c>l3</c> route leads to a network this node has no state for.</summary>
    UnknownNetwork,
    /// <summary>
    /// The frame would not fit the underlay once encapsulated (inner frame + 36 bytes of outer IPv4, UDP and VXLAN
    /// above the underlay MTU). An <c>l3</c> network answers with ICMP fragmentation needed; an <c>l2</c> one only drops.
    /// </summary>
    TooBig,
}

public static class DropReasons
{
    public static readonly int Count = Enum.GetValues<DropReason>().Length;
    private static readonly string[] Names = Enum.GetNames<DropReason>();
    public static string Name(DropReason r) => Names[(int)r];
}
