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
        [])
    {
        Endpoints = NetworkEndpoints.Empty,
    };

    /// <summary>The network's endpoints and their per-network unique keys (name, MAC, IP): decisions look up, never scan.</summary>
    public NetworkEndpoints Endpoints { get; init; } = NetworkEndpoints.Empty;
}

/// <summary>
/// The endpoints of one network, indexed by what must be unique inside it. Every lookup and update is O(log n), so a
/// decision costs the same at 10 and at 100,000 endpoints. <see cref="Ids"/> is in id order (ep-2 before ep-10).
/// </summary>
public sealed record NetworkEndpoints(
    ImmutableSortedSet<string> Ids,
    ImmutableDictionary<string, string> ByName,
    ImmutableDictionary<MacAddress, string> ByMac,
    ImmutableDictionary<Ipv4Address, string> ByIp)
{
    public static readonly NetworkEndpoints Empty = new(
        ImmutableSortedSet.Create(EntityIds.Order),
        ImmutableDictionary.Create<string, string>(StringComparer.Ordinal),
        ImmutableDictionary<MacAddress, string>.Empty,
        ImmutableDictionary<Ipv4Address, string>.Empty);

    public int Count => Ids.Count;

    public NetworkEndpoints Add(Endpoint e) => new(
        Ids.Add(e.Id),
        ByName.SetItem(e.Name, e.Id),
        ByMac.SetItem(e.Mac, e.Id),
        e.Ip is { } ip ? ByIp.SetItem(ip, e.Id) : ByIp);

    public NetworkEndpoints Remove(Endpoint e) => new(
        Ids.Remove(e.Id),
        ByName.Remove(e.Name),
        ByMac.Remove(e.Mac),
        e.Ip is { } ip ? ByIp.Remove(ip) : ByIp);
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
        EndpointCreated x => UpdateNetworkIfPresent(x.Endpoint.Network, n => n with { Endpoints = n.Endpoints.Add(x.Endpoint) }) with
        {
            Endpoints = Endpoints.Add(x.Endpoint.Id, x.Endpoint),
            NextEndpoint = Math.Max(NextEndpoint, NumberOf(x.Endpoint.Id) + 1),
            NodeNetworks = Count(NodeNetworks, x.Endpoint.Node, x.Endpoint.Network, +1),
        },
        EndpointMoved x => Moved(Endpoints[x.EndpointId], x),
        EndpointDeleted x => Endpoints.TryGetValue(x.EndpointId, out var gone)
            ? UpdateNetworkIfPresent(gone.Network, n => n with { Endpoints = n.Endpoints.Remove(gone) }) with
            {
                Endpoints = Endpoints.Remove(x.EndpointId),
                NodeNetworks = Count(NodeNetworks, gone.Node, gone.Network, -1),
            }
            : this,
        NetworkReleased x => Release(x.NetworkId),
        TokenCreated or TokenRevoked => ApplyToken(e),
        _ => throw new ArgumentOutOfRangeException(nameof(e), e, "unknown configuration event"),
    };

    /// <summary>
    /// How many endpoints each node has in each network (node → network → count; no zero entries): which networks a
    /// node must hold (see Replication.Interest), found without scanning the endpoints.
    /// </summary>
    public ImmutableDictionary<string, ImmutableDictionary<string, int>> NodeNetworks { get; init; } =
        ImmutableDictionary.Create<string, ImmutableDictionary<string, int>>(StringComparer.Ordinal);

    private FabricConfiguration Moved(Endpoint before, EndpointMoved x)
    {
        var after = before with { Node = x.Node, MoveSeq = x.MoveSeq };
        return this with
        {
            Endpoints = Endpoints.SetItem(x.EndpointId, after),
            NodeNetworks = Count(Count(NodeNetworks, before.Node, before.Network, -1), after.Node, after.Network, +1),
        };
    }

    private static ImmutableDictionary<string, ImmutableDictionary<string, int>> Count(
        ImmutableDictionary<string, ImmutableDictionary<string, int>> counts, string node, string network, int delta)
    {
        var perNode = counts.GetValueOrDefault(node) ?? ImmutableDictionary.Create<string, int>(StringComparer.Ordinal);
        var n = perNode.GetValueOrDefault(network) + delta;
        perNode = n > 0 ? perNode.SetItem(network, n) : perNode.Remove(network);
        return perNode.IsEmpty ? counts.Remove(node) : counts.SetItem(node, perNode);
    }

    /// <summary>A replica's projection lets go of a network: the network and its endpoints leave it.</summary>
    private FabricConfiguration Release(string networkId)
    {
        if (!Networks.TryGetValue(networkId, out var n)) return this;
        var endpoints = Endpoints;
        var counts = NodeNetworks;
        foreach (var id in n.Endpoints.Ids)
        {
            if (!endpoints.TryGetValue(id, out var e)) continue;
            endpoints = endpoints.Remove(id);
            counts = Count(counts, e.Node, e.Network, -1);
        }
        return this with { Networks = Networks.Remove(networkId), Endpoints = endpoints, NodeNetworks = counts };
    }

    /// <summary>
    /// The events that build network <paramref name="networkId"/> as it is now, with everything inside it and its
    /// endpoints, in an order <see cref="Apply"/> accepts (tables before the subnets bound to them, endpoints last, in id
    /// order). Applied to a copy that lacks the network, they give it the same network as here: how a replica is handed
    /// a network it starts to hold, and how a snapshot is sent, as events in bounded chunks.
    /// </summary>
    public IEnumerable<ConfigurationEvent> EventsToBuild(string networkId)
    {
        if (!Networks.TryGetValue(networkId, out var n)) yield break;
        yield return new NetworkCreated(n.Network);
        foreach (var (table, routes) in n.RouteTables.OrderBy(t => t.Key, StringComparer.Ordinal))
        {
            if (table != NetworkState.MainRouteTable) yield return new RouteTableCreated(networkId, table);
            foreach (var r in routes.Values.OrderBy(r => r.Destination.Network).ThenBy(r => r.Destination.Length))
                yield return new RouteAdded(networkId, table, r);
        }
        foreach (var s in n.Subnets.Values.OrderBy(s => s.Id, EntityIds.Order)) yield return new SubnetCreated(networkId, s);
        foreach (var v in n.ExternalVteps.OrderBy(v => v.Address).ThenBy(v => v.Port)) yield return new ExternalVtepAdded(networkId, v);
        foreach (var id in n.Endpoints.Ids) yield return new EndpointCreated(Endpoints[id]);
    }

    /// <summary>The configuration a listing shows (its networks and the endpoints of those networks).</summary>
    public static FabricConfiguration FromListing(ConfigurationListing listing)
    {
        var state = Empty;
        foreach (var n in listing.Networks)
        {
            state = state.Apply(new NetworkCreated(new Network(n.Id, n.Name, n.Vni, n.Kind, n.Cidr)));
            foreach (var t in n.RouteTables)
            {
                if (t.Name != NetworkState.MainRouteTable) state = state.Apply(new RouteTableCreated(n.Id, t.Name));
                foreach (var r in t.Routes) state = state.Apply(new RouteAdded(n.Id, t.Name, r));
            }
            foreach (var s in n.Subnets) state = state.Apply(new SubnetCreated(n.Id, s));
            foreach (var v in n.ExternalVteps) state = state.Apply(new ExternalVtepAdded(n.Id, v));
        }
        foreach (var e in listing.Endpoints)
            if (state.Networks.ContainsKey(e.Network)) state = state.Apply(new EndpointCreated(e));
        return state;
    }

    /// <summary>Applies events in order.</summary>
    public FabricConfiguration ApplyAll(IEnumerable<ConfigurationEvent> events)
        => events.Aggregate(this, (state, e) => state.Apply(e));

    private FabricConfiguration UpdateNetwork(string id, Func<NetworkState, NetworkState> update)
        => this with { Networks = Networks.SetItem(id, update(Networks[id])) };

    /// <summary>As <see cref="UpdateNetwork"/>; a network this copy does not hold (a replica's projection) is left out.</summary>
    private FabricConfiguration UpdateNetworkIfPresent(string id, Func<NetworkState, NetworkState> update)
        => Networks.TryGetValue(id, out var n) ? this with { Networks = Networks.SetItem(id, update(n)) } : this;

    /// <summary>The number of a decided id (ep-12 → 12); an id the counters never issued (a test's, by hand) counts as 0.</summary>
    private static long NumberOf(string id)
        => long.TryParse(id.AsSpan(id.LastIndexOf('-') + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : 0;

    /// <summary>The network's endpoints in id order (from its index: no scan of the fabric).</summary>
    public IEnumerable<Endpoint> EndpointsOf(string networkId)
    {
        if (!Networks.TryGetValue(networkId, out var n)) yield break;
        foreach (var id in n.Endpoints.Ids) yield return Endpoints[id];
    }
}
