namespace Fabric.Actors.Tracing;

// The live trace's protocol (issue 12). It crosses the wire: the node that took the API call asks the endpoint's node
// to inject, then every member for the hops it recorded. Plain data only.

/// <summary>
/// Inject one probe per id at the port of the endpoint (by MAC, in the network with <paramref name="Vni"/>) hosted by
/// the node that receives this, as if its VM had sent them. Answered with <see cref="ProbesInjected"/>.
/// </summary>
/// <param name="Protocol">icmp, tcp or udp.</param>
/// <param name="StopAtLastHop">Counted at the last hop, never delivered to the destination VM.</param>
public sealed record InjectProbes(string Mac, int Vni, string Destination, string Protocol, int Port, IReadOnlyList<int> Probes, bool StopAtLastHop)
    : IFabricMessage;

/// <param name="Resolution">How the probe's destination MAC was found (gateway, neighbour, arp).</param>
/// <param name="Error">Why nothing was injected (no port here, no dataplane, ...); null when injected.</param>
public sealed record ProbesInjected(string Node, string? Resolution, string? Error = null) : IFabricMessage;

/// <summary>The hops this node recorded for these probe ids (their replies included). Answered with <see cref="TraceHopListing"/>.</summary>
public sealed record GetTraceHops(IReadOnlyList<int> Probes) : IFabricMessage;

/// <summary>
/// What a stage decided: a kind (routed, fdb-hit, dropped, delivered...) and free details (route, table entry, port,
/// VTEP, reason). Later stages (security groups, EVPN) add kinds and keys, never fields.
/// </summary>
public sealed record TraceDecision(string Kind, string Summary, IReadOnlyDictionary<string, string> Details) : IFabricMessage;

/// <summary>One hop as the node that recorded it describes it.</summary>
/// <param name="Reply">A hop of the probed endpoint's answer rather than of the probe.</param>
/// <param name="AtUs">Wall-clock time of the recording node, µs since the Unix epoch.</param>
/// <param name="Sequence">Order of the hops within one node.</param>
public sealed record TraceHopRow(int Probe, bool Reply, string Node, string Stage, TraceDecision Decision, long SnapshotVersion, long AtUs, long Sequence)
    : IFabricMessage;

public sealed record TraceHopListing(string Node, IReadOnlyList<TraceHopRow> Hops) : IFabricMessage;
