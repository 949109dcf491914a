namespace Fabric.Actors.Intent;

// Targeted reads of the configuration: one endpoint, one network, pages of networks and of endpoints. Each answer is
// bounded (one entity, or a page of at most MaxPage entries), so no read fetches the whole fabric and none outgrows
// Akka.Remote's frame (128,000 bytes by default) when the singleton runs on another node. The configuration singleton
// answers them, and so does a node's replica from its projection (FabricConfiguration.Answer).

/// <summary>A read the configuration answers from its state without changing it.</summary>
public interface IConfigurationQuery : IFabricMessage;

/// <summary>One endpoint; the answer is an <see cref="EndpointAnswer"/> (Endpoint null: no such endpoint).</summary>
public sealed record GetEndpoint(string EndpointId) : IConfigurationQuery;

public sealed record EndpointAnswer(long Revision, Endpoint? Endpoint) : IFabricMessage;

/// <summary>One network with its subnets, route tables and external VTEPs; the answer is a <see cref="NetworkAnswer"/>.</summary>
public sealed record GetNetwork(string NetworkId) : IConfigurationQuery;

public sealed record NetworkAnswer(long Revision, NetworkView? Network) : IFabricMessage;

/// <summary>
/// Networks in id order after <paramref name="After"/> (null: from the first), at most <paramref name="Limit"/>
/// (1..<see cref="ConfigurationQueries.MaxNetworkPage"/>); the answer is a <see cref="NetworkPage"/>.
/// </summary>
public sealed record ListNetworks(string? After = null, int Limit = ConfigurationQueries.MaxNetworkPage) : IConfigurationQuery;

/// <summary>A page of networks; <see cref="Next"/> is the cursor of the next page (null: this was the last).</summary>
public sealed record NetworkPage(long Revision, IReadOnlyList<NetworkView> Networks, string? Next) : IFabricMessage;

/// <summary>
/// Endpoints, optionally only those of one network and/or one node, ordered by network id then endpoint id, after the
/// cursor (<paramref name="AfterNetwork"/>, <paramref name="AfterEndpoint"/>; both null: from the first), at most
/// <paramref name="Limit"/> (1..<see cref="ConfigurationQueries.MaxEndpointPage"/>); the answer is an <see cref="EndpointPage"/>.
/// </summary>
public sealed record ListEndpoints(
    string? Network = null, string? Node = null, string? AfterNetwork = null, string? AfterEndpoint = null,
    int Limit = ConfigurationQueries.MaxEndpointPage) : IConfigurationQuery;

/// <summary>A page of endpoints; the next page starts after (<see cref="NextNetwork"/>, <see cref="NextEndpoint"/>); both null: this was the last.</summary>
public sealed record EndpointPage(long Revision, IReadOnlyList<Endpoint> Endpoints, string? NextNetwork, string? NextEndpoint) : IFabricMessage
{
    public bool IsLast => NextNetwork is null;
}

/// <summary>The networks that carry these VNIs (for naming a node's FDB rows); the answer is a <see cref="NetworkVnis"/>.</summary>
public sealed record FindNetworksByVni(IReadOnlyList<int> Vnis) : IConfigurationQuery;

public sealed record NetworkVni(string Id, int Vni);

public sealed record NetworkVnis(long Revision, IReadOnlyList<NetworkVni> Networks) : IFabricMessage;

public static class ConfigurationQueries
{
    /// <summary>
    /// Endpoints per page: an endpoint is about 100 to 150 bytes in Hyperion (tests/…/Intent/QueryTests measures it),
    /// so a full page stays near 60 KB, half of Akka.Remote's default frame.
    /// </summary>
    public const int MaxEndpointPage = 400;

    /// <summary>Networks per page: a network with a few subnets and routes is a few hundred bytes.</summary>
    public const int MaxNetworkPage = 100;

    /// <summary>The most VNIs one <see cref="FindNetworksByVni"/> may ask for.</summary>
    public const int MaxVnis = 4096;
}

public sealed partial record FabricConfiguration
{
    /// <summary>
    /// Answers a query from this state (the singleton's, or a replica's projection). Costs: an endpoint or a network
    /// O(log n); a page of endpoints O(page × log n) in one network, plus, with a node filter, the endpoints of that
    /// node's networks it skips (O(size of those networks)); a page of networks O(M log M) to order them; VNIs O(M).
    /// </summary>
    public object Answer(IConfigurationQuery query, long revision) => query switch
    {
        GetEndpoint q => new EndpointAnswer(revision, q.EndpointId is not null && Endpoints.TryGetValue(q.EndpointId, out var e) ? e : null),
        GetNetwork q => new NetworkAnswer(revision, q.NetworkId is not null && Networks.TryGetValue(q.NetworkId, out var n) ? ViewOf(n) : null),
        ListNetworks q => PageOfNetworks(q, revision),
        ListEndpoints q => PageOfEndpoints(q, revision),
        FindNetworksByVni q => NetworksByVni(q, revision),
        ListTokens => ListOfTokens(revision),
        _ => throw new ArgumentOutOfRangeException(nameof(query), query, "unknown configuration query"),
    };

    /// <summary>One network as the API shows it, in the canonical order of <see cref="ConfigurationListing"/>.</summary>
    public static NetworkView ViewOf(NetworkState n) => new(
        n.Network.Id, n.Network.Name, n.Network.Vni, n.Network.Kind, n.Network.Cidr,
        n.Subnets.Values.OrderBy(s => s.Id, EntityIds.Order).ToArray(),
        n.RouteTables
            .OrderBy(t => t.Key, StringComparer.Ordinal)
            .Select(t => new RouteTableView(t.Key, t.Value.Values
                .OrderBy(r => r.Destination.Network).ThenBy(r => r.Destination.Length).ToArray()))
            .ToArray(),
        n.ExternalVteps.OrderBy(v => v.Address).ThenBy(v => v.Port).ToArray());

    private NetworkPage PageOfNetworks(ListNetworks q, long revision)
    {
        var limit = Math.Clamp(q.Limit, 1, ConfigurationQueries.MaxNetworkPage);
        var ordered = Networks.Keys
            .Where(id => q.After is null || EntityIds.Order.Compare(id, q.After) > 0)
            .Order(EntityIds.Order)
            .Take(limit + 1)
            .ToList();
        var more = ordered.Count > limit;
        if (more) ordered.RemoveAt(limit);
        return new NetworkPage(revision, ordered.Select(id => ViewOf(Networks[id])).ToArray(), more ? ordered[^1] : null);
    }

    private EndpointPage PageOfEndpoints(ListEndpoints q, long revision)
    {
        var limit = Math.Clamp(q.Limit, 1, ConfigurationQueries.MaxEndpointPage);
        IEnumerable<string> networks = q.Network is not null
            ? Networks.ContainsKey(q.Network) ? [q.Network] : []
            : q.Node is not null
                ? NodeNetworks.TryGetValue(q.Node, out var perNode) ? perNode.Keys : []
                : Networks.Keys;
        if (q.AfterNetwork is not null) networks = networks.Where(id => EntityIds.Order.Compare(id, q.AfterNetwork) >= 0);
        var page = new List<Endpoint>(limit);
        foreach (var networkId in networks.Order(EntityIds.Order))
        {
            if (!Networks.TryGetValue(networkId, out var network)) continue;
            var ids = network.Endpoints.Ids;
            var start = 0;
            if (networkId == q.AfterNetwork && q.AfterEndpoint is not null)
            {
                var at = ids.IndexOf(q.AfterEndpoint);
                start = at >= 0 ? at + 1 : ~at; // the cursor's endpoint may have been deleted since: resume at its place
            }
            for (var i = start; i < ids.Count; i++)
            {
                var e = Endpoints[ids[i]];
                if (q.Node is not null && e.Node != q.Node) continue;
                page.Add(e);
                if (page.Count == limit) return new EndpointPage(revision, page.ToArray(), networkId, e.Id);
            }
        }
        return new EndpointPage(revision, page.ToArray(), null, null);
    }

    private NetworkVnis NetworksByVni(FindNetworksByVni q, long revision)
    {
        var wanted = (q.Vnis ?? []).Take(ConfigurationQueries.MaxVnis).ToHashSet();
        return new NetworkVnis(revision, Networks.Values
            .Where(n => wanted.Contains(n.Network.Vni))
            .Select(n => new NetworkVni(n.Network.Id, n.Network.Vni))
            .OrderBy(n => n.Id, EntityIds.Order)
            .ToArray());
    }
}
