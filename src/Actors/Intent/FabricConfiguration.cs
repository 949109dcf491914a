using System.Collections.Immutable;
using Fabric.Dataplane.Packets;

namespace Fabric.Actors.Intent;

/// <summary>The intended state of one network: the network and everything that lives inside it.</summary>
public sealed record NetworkState(
    Network Network,
    ImmutableDictionary<string, Subnet> Subnets,
    ImmutableDictionary<string, ImmutableDictionary<Ipv4Prefix, Route>> RouteTables,
    ImmutableHashSet<ExternalVtep> ExternalVteps)
{
    public const string MainRouteTable = "main";

    public static NetworkState Create(Network network) => new(
        network,
        ImmutableDictionary.Create<string, Subnet>(StringComparer.Ordinal),
        ImmutableDictionary.Create<string, ImmutableDictionary<Ipv4Prefix, Route>>(StringComparer.Ordinal)
            .Add(MainRouteTable, ImmutableDictionary<Ipv4Prefix, Route>.Empty),
        []);
}

/// <summary>
/// The intended configuration of the whole fabric as a pure value: <see cref="Decide"/> checks a command
/// against every rule and answers with the events that would carry it out (or a <see cref="Rejection"/>),
/// <see cref="Apply"/> folds an event in. Neither has side effects; the persistent actor only adds the
/// journal in between. Deciding never changes anything, so a rejected command cannot leave a trace.
/// </summary>
public sealed partial record FabricConfiguration
{
    public static readonly FabricConfiguration Empty = new();

    public ImmutableDictionary<string, NetworkState> Networks { get; init; } =
        ImmutableDictionary.Create<string, NetworkState>(StringComparer.Ordinal);

    public ImmutableDictionary<string, Endpoint> Endpoints { get; init; } =
        ImmutableDictionary.Create<string, Endpoint>(StringComparer.Ordinal);

    /// <summary>Counters behind the ids; they only ever rise (ids are never reused).</summary>
    public long NextNetwork { get; init; } = 1;
    public long NextSubnet { get; init; } = 1;
    public long NextEndpoint { get; init; } = 1;

    /// <summary>Folds one (already decided) event into the configuration.</summary>
    public FabricConfiguration Apply(ConfigurationEvent e) => e switch
    {
        NetworkCreated x => this with
        {
            Networks = Networks.Add(x.Network.Id, NetworkState.Create(x.Network)),
            NextNetwork = Math.Max(NextNetwork, NumberOf(x.Network.Id) + 1),
        },
        NetworkDeleted x => this with { Networks = Networks.Remove(x.NetworkId) },
        SubnetCreated x => UpdateNetwork(x.NetworkId, n => n with { Subnets = n.Subnets.Add(x.Subnet.Id, x.Subnet) }) with
        {
            NextSubnet = Math.Max(NextSubnet, NumberOf(x.Subnet.Id) + 1),
        },
        SubnetDeleted x => UpdateNetwork(x.NetworkId, n => n with { Subnets = n.Subnets.Remove(x.SubnetId) }),
        SubnetRouteTableBound x => UpdateNetwork(x.NetworkId, n => n with
        {
            Subnets = n.Subnets.SetItem(x.SubnetId, n.Subnets[x.SubnetId] with { RouteTable = x.RouteTable }),
        }),
        RouteTableCreated x => UpdateNetwork(x.NetworkId, n => n with
        {
            RouteTables = n.RouteTables.Add(x.RouteTable, ImmutableDictionary<Ipv4Prefix, Route>.Empty),
        }),
        RouteTableDeleted x => UpdateNetwork(x.NetworkId, n => n with { RouteTables = n.RouteTables.Remove(x.RouteTable) }),
        RouteAdded x => UpdateNetwork(x.NetworkId, n => n with
        {
            RouteTables = n.RouteTables.SetItem(x.RouteTable, n.RouteTables[x.RouteTable].Add(x.Route.Destination, x.Route)),
        }),
        RouteRemoved x => UpdateNetwork(x.NetworkId, n => n with
        {
            RouteTables = n.RouteTables.SetItem(x.RouteTable, n.RouteTables[x.RouteTable].Remove(x.Destination)),
        }),
        ExternalVtepAdded x => UpdateNetwork(x.NetworkId, n => n with { ExternalVteps = n.ExternalVteps.Add(x.Vtep) }),
        ExternalVtepRemoved x => UpdateNetwork(x.NetworkId, n => n with { ExternalVteps = n.ExternalVteps.Remove(x.Vtep) }),
        EndpointCreated x => this with
        {
            Endpoints = Endpoints.Add(x.Endpoint.Id, x.Endpoint),
            NextEndpoint = Math.Max(NextEndpoint, NumberOf(x.Endpoint.Id) + 1),
        },
        EndpointMoved x => this with
        {
            Endpoints = Endpoints.SetItem(x.EndpointId, Endpoints[x.EndpointId] with { Node = x.Node, MoveSeq = x.MoveSeq }),
        },
        EndpointDeleted x => this with { Endpoints = Endpoints.Remove(x.EndpointId) },
        _ => throw new ArgumentOutOfRangeException(nameof(e), e, "unknown configuration event"),
    };

    /// <summary>Applies events in order.</summary>
    public FabricConfiguration ApplyAll(IEnumerable<ConfigurationEvent> events)
        => events.Aggregate(this, (state, e) => state.Apply(e));

    private FabricConfiguration UpdateNetwork(string id, Func<NetworkState, NetworkState> update)
        => this with { Networks = Networks.SetItem(id, update(Networks[id])) };

    private static long NumberOf(string id)
        => long.Parse(id.AsSpan(id.LastIndexOf('-') + 1), System.Globalization.CultureInfo.InvariantCulture);

    private IEnumerable<Endpoint> EndpointsOf(string networkId)
        => Endpoints.Values.Where(e => e.Network == networkId);
}
