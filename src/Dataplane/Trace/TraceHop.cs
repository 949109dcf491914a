using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Tables;

namespace Fabric.Dataplane.Tracing;

/// <summary>
/// The pipeline stage that recorded a hop. Append, never renumber: later stages (security groups, EVPN) take new
/// values and new <see cref="TraceAction"/>s; the hop record keeps its shape.
/// </summary>
public enum TraceStage : byte { None = 0, Input, Ethernet, ArpSuppression, ProxyArp, Bridge, Router, OverlayDeliver }

/// <summary>What a stage decided for a traced packet. Append, never renumber.</summary>
public enum TraceAction : byte
{
    None = 0,
    /// <summary>Taken from a local port (an injected probe, or the probed endpoint's reply).</summary>
    Received,
    /// <summary>Decapsulated from a member VTEP that had marked it.</summary>
    Decapsulated,
    /// <summary>A route matched (<see cref="TraceHop.Prefix"/>, <see cref="TraceHop.RouteKind"/>) and resolved to <see cref="TraceHop.Mac"/>.</summary>
    Routed,
    /// <summary>The FDB knows the destination MAC at <see cref="TraceHop.PortId"/> or <see cref="TraceHop.Vtep"/>.</summary>
    FdbHit,
    /// <summary>Broadcast, multicast or unknown unicast: flooded.</summary>
    Flooded,
    /// <summary>Answered on this node (ARP suppression, proxy ARP).</summary>
    ArpAnswered,
    /// <summary>The subnet gateway answered the echo request.</summary>
    GatewayEcho,
    /// <summary>Delivered to local port <see cref="TraceHop.PortId"/>.</summary>
    Delivered,
    /// <summary>Encapsulated towards the Fabric member <see cref="TraceHop.Vtep"/> (marked).</summary>
    Encapsulated,
    /// <summary>Sent to the external VTEP <see cref="TraceHop.Vtep"/>, unmarked: the trace ends here.</summary>
    SentExternal,
    /// <summary>Dropped for <see cref="TraceHop.Reason"/>.</summary>
    Dropped,
    /// <summary>Reached its last hop, port <see cref="TraceHop.PortId"/>, but was asked not to be delivered: counted, not sent.</summary>
    Stopped,
    /// <summary>
    /// An answer for the probe's sender (the gateway's echo reply, an ARP reply, the probed endpoint's reply) reached
    /// its port: kept from the VM, which never sent the probe.
    /// </summary>
    Absorbed,
    /// <summary>Delivered to the old port of an endpoint that moved away and still drains here.</summary>
    Draining,
}

/// <summary>
/// One step of a traced packet on one node: fixed size, written by the dataplane thread into a pre-allocated ring.
/// Which fields mean something depends on <see cref="Action"/>; the reader turns them into key/value details.
/// </summary>
public struct TraceHop
{
    /// <summary>Probe id with the reply bit (<see cref="TraceMark"/>).</summary>
    public int Probe;
    public TraceStage Stage;
    public TraceAction Action;
    public DropReason Reason;
    /// <summary>RouteTargetKind + 1 of the route that matched; 0: none.</summary>
    public byte RouteKind;
    public byte PrefixLength;
    public uint PrefixAddress;
    public int Vni;
    /// <summary>Local port (ingress for Received, egress for Delivered...), else -1.</summary>
    public int PortId;
    public VtepEndpoint Vtep;
    /// <summary>The MAC the decision was about (FDB key, route's next hop); 0: none.</summary>
    public ulong Mac;
    /// <summary>How many copies (Flooded), else 0.</summary>
    public int Count;
    public long SnapshotVersion;
    /// <summary>Stopwatch timestamp.</summary>
    public long AtTicks;
    /// <summary>The hop's number on this dataplane thread: orders the hops of one node.</summary>
    public long Sequence;
}
