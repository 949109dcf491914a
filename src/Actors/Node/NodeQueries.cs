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
