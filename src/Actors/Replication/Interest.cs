using System.Collections.Immutable;
using Fabric.Actors.Intent;

namespace Fabric.Actors.Replication;

/// <summary>
/// Which networks a node holds (conditional monitoring, as OVN's <c>ovn-monitor-all=false</c> and EVPN route-target
/// filtering): those it has an endpoint in, those an actor of the node asked to hold (a VRF entity it runs), and the
/// networks any of those route to (a network route target: the dataplane needs that VNI to forward into it). Nothing
/// else of the fabric reaches the node.
/// </summary>
public static class Interest
{
    /// <summary>
    /// O(networks the node holds × their routes): independent of the fabric's size. At 1,000 nodes × 100 endpoints a
    /// node holds a handful of networks.
    /// </summary>
    public static ImmutableHashSet<string> Of(FabricConfiguration state, string node, IEnumerable<string> holds)
    {
        var direct = new List<string>();
        if (state.NodeNetworks.TryGetValue(node, out var own))
            foreach (var id in own.Keys) direct.Add(id);
        foreach (var id in holds)
            if (state.Networks.ContainsKey(id)) direct.Add(id);
        var all = ImmutableHashSet.CreateBuilder<string>(StringComparer.Ordinal);
        foreach (var id in direct)
        {
            all.Add(id);
            foreach (var table in state.Networks[id].RouteTables.Values)
                foreach (var route in table.Values)
                    if (route.Target is { Kind: RouteTargetKind.Network, Network: { } target } && state.Networks.ContainsKey(target))
                        all.Add(target);
        }
        return all.ToImmutable();
    }

    /// <summary>The projection of <paramref name="state"/> onto <paramref name="networks"/>: what a replica holding them must equal.</summary>
    public static FabricConfiguration Project(FabricConfiguration state, IEnumerable<string> networks)
    {
        var p = FabricConfiguration.Empty.ApplyAll(state.ClusterWideEvents()); // every replica holds the cluster-wide part
        foreach (var id in networks.Order(EntityIds.Order))
            foreach (var e in state.EventsToBuild(id))
                p = p.Apply(e);
        return p;
    }

    /// <summary>The network an event concerns, read in <paramref name="before"/> for endpoints it removes or moves.</summary>
    public static string? NetworkOf(ConfigurationEvent e, FabricConfiguration before, FabricConfiguration after)
        => ConfigurationEvent.NetworkOf(e, id => e is EndpointDeleted
            ? before.Endpoints.GetValueOrDefault(id)?.Network
            : (after.Endpoints.GetValueOrDefault(id) ?? before.Endpoints.GetValueOrDefault(id))?.Network);

    /// <summary>The nodes whose own networks an event may change (an endpoint's node before and after).</summary>
    public static void NodesOf(ConfigurationEvent e, FabricConfiguration before, ICollection<string> into)
    {
        switch (e)
        {
            case EndpointCreated x: into.Add(x.Endpoint.Node); break;
            case EndpointMoved x:
                into.Add(x.Node);
                if (before.Endpoints.TryGetValue(x.EndpointId, out var m)) into.Add(m.Node);
                break;
            case EndpointDeleted x:
                if (before.Endpoints.TryGetValue(x.EndpointId, out var d)) into.Add(d.Node);
                break;
        }
    }

    /// <summary>Whether an event may change which networks a holder of its network routes to.</summary>
    public static bool ChangesRouteTargets(ConfigurationEvent e)
        => e is RouteAdded or RouteRemoved or RouteTableDeleted or NetworkDeleted or NetworkCreated;
}
