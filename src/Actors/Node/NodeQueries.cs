namespace Fabric.Actors.Node;

// Questions any node can ask another about what it forwards with. They cross the wire (the HTTP endpoint of any
// node answers for the whole cluster), so they are Fabric messages with plain-data answers.

/// <summary>FDB of one network on this node (or every network when Vni is null).</summary>
public sealed record GetFdb(int? Vni) : IFabricMessage;
public sealed record FdbRow(int Vni, string Mac, string? Ip, string Location, string Source, long Seq) : IFabricMessage;
public sealed record FdbListing(string Node, IReadOnlyList<FdbRow> Entries) : IFabricMessage;

public sealed record GetRoutes(int Vni, string? RouteTable) : IFabricMessage;
public sealed record RouteRow(string RouteTable, string Destination, string Target, string? Detail) : IFabricMessage;
public sealed record RouteListing(string Node, IReadOnlyList<RouteRow> Routes) : IFabricMessage;

public sealed record GetFloodGroup(int Vni) : IFabricMessage;
public sealed record FloodGroupListing(string Node, int Vni, IReadOnlyList<string> Members, IReadOnlyList<string> AcceptedFrom) : IFabricMessage;

public sealed record GetCounters : IFabricMessage { public static readonly GetCounters Instance = new(); }
public sealed record CounterSet(string Name, long RxPackets, long RxBytes, long TxPackets, long TxBytes, long Encapsulated, long Decapsulated,
    long Flooded, long ArpAnswered, IReadOnlyDictionary<string, long> Drops) : IFabricMessage;
public sealed record CounterListing(string Node, IReadOnlyList<CounterSet> Ports, IReadOnlyList<CounterSet> Networks,
    IReadOnlyDictionary<string, long> GlobalDrops, long EventsLost, long SnapshotVersion) : IFabricMessage;

/// <summary>Ping from a guest endpoint hosted on the node that receives this.</summary>
public sealed record PingFromEndpoint(string EndpointId, string Target, int Count, int Ttl) : IFabricMessage;
public sealed record PingReply(int Sent, int Received, IReadOnlyList<double> RttMs, IReadOnlyList<int> ReplyTtl, string? Error = null) : IFabricMessage;

/// <summary>The last dropped packets this node sampled, newest first: of one reason (a DropReason name) or of all.</summary>
public sealed record GetDrops(string? Reason, int Limit) : IFabricMessage;
/// <summary>One sampled drop, its headers decoded on the node that sampled it.</summary>
/// <param name="Port">The ingress port's name (a frame from a local port).</param>
/// <param name="Vtep">The VTEP it came from, IP:port (a frame from the underlay).</param>
/// <param name="Vni">The network it was bound to; null before one was known (unknown VNI or port).</param>
/// <param name="Length">The frame's whole length; <paramref name="Hex"/> holds at most its first 128 bytes.</param>
/// <param name="Summary">One line: what it was, e.g. "10.20.1.10 → 10.20.9.9 icmp echo-request id 7 seq 1".</param>
public sealed record DropRow(string Reason, DateTimeOffset At, string? Port, string? Vtep, int? Vni, int Length, DropEthernet? Ethernet,
    DropArp? Arp, DropIpv4? Ipv4, DropTransport? Transport, string? Vxlan, string Summary, string Hex) : IFabricMessage;
public sealed record DropEthernet(string Source, string Destination, string EtherType, int? Vlan) : IFabricMessage;
public sealed record DropArp(string Operation, string SenderMac, string SenderIp, string TargetMac, string TargetIp) : IFabricMessage;
public sealed record DropIpv4(string Source, string Destination, string Protocol, int Ttl, int TotalLength, bool DontFragment, bool Fragment) : IFabricMessage;
/// <summary>TCP/UDP ports (and TCP flags), or ICMP type and code.</summary>
public sealed record DropTransport(string Protocol, int? SourcePort, int? DestinationPort, string? Flags, int? IcmpType, int? IcmpCode) : IFabricMessage;
/// <param name="Enabled">False when fabric.dataplane.drop-samples is off on that node (then Samples is empty).</param>
/// <param name="PerReason">K: how many drops of each reason the node keeps.</param>
public sealed record DropListing(string Node, bool Enabled, int PerReason, IReadOnlyList<DropRow> Samples) : IFabricMessage;
