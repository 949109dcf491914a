using Fabric.Actors.Intent;
using Fabric.Actors.Node;
using Fabric.Dataplane.Counters;

namespace Fabric.Nodes.Http;

/// <summary>
/// <c>/api/v1/nodes/{node}/…</c>: what a node forwards with right now, read from the snapshot its dataplane uses
/// (FDB, effective routes, flood group, counters, drop samples). Any node answers for any other: the question goes to the
/// named node's <c>query</c> actor.
/// </summary>
internal static class NodeRoutes
{
    public static void Map(IEndpointRouteBuilder app)
    {
        var nodes = app.MapGroup("/api/v1/nodes/{node}").WithTags("nodes").WithTokenProblems();
        // A member that leaves between the check and the question: AskNodeAsync no longer finds it.
        nodes.AddEndpointFilter(async (context, next) =>
        {
            try { return await next(context); }
            catch (KeyNotFoundException e) { return Problems.NotFound("node", "node-not-found", e.Message); }
        });

        nodes.MapGet("/fdb", async (string node, string? network, FabricApi api, CancellationToken ct) =>
            {
                if (NodeMissing(api, node) is { } missing) return missing;
                NetworkView? net = null;
                if (network is not null && (net = await api.NodeViewNetworkAsync(network, ct)) is null)
                    return NetworkParameterNotFound(network);
                var fdb = await api.Runtime.AskNodeAsync<FdbListing>(node, new GetFdb(net?.Vni), ct: ct);
                var byVni = net is not null
                    ? new Dictionary<int, string> { [net.Vni] = net.Id }
                    : await api.NetworkIdsAsync(fdb.Entries.Select(e => e.Vni).ToHashSet(), ct);
                return Results.Ok(new FdbResponse(fdb.Node, net?.Id, fdb.Entries
                    .Select(e => new FdbEntry(byVni.GetValueOrDefault(e.Vni, $"vni-{e.Vni}"), e.Vni, e.Mac, e.Ip, e.Location, e.Source, e.Seq))
                    .ToArray()));
            })
            .WithName("GetFdb").WithSummary("A node's FDB for ?network=ID (every network when omitted): MAC, IP, location local:PORT or vtep:IP, source, seq")
            .Produces<FdbResponse>().ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status504GatewayTimeout);

        nodes.MapGet("/routes", async (string node, string? network, string? routeTable, FabricApi api, CancellationToken ct) =>
            {
                if (NodeMissing(api, node) is { } missing) return missing;
                if (await RequireNetworkAsync(api, network, ct) is not { Network: { } net }) return NetworkProblem(network);
                if (routeTable is not null && net.RouteTables.All(t => t.Name != routeTable))
                    return Problems.NotFound("routeTable", "route-table-not-found", $"network {net.Name} ({net.Id}) has no route table '{routeTable}'");
                var routes = await api.Runtime.AskNodeAsync<RouteListing>(node, new GetRoutes(net.Vni, routeTable), ct: ct);
                return Results.Ok(new EffectiveRoutesResponse(routes.Node, net.Id, net.Vni, routes.Routes));
            })
            .WithName("GetEffectiveRoutes").WithSummary("The routes a node resolves for ?network=ID (&routeTable=NAME): local, endpoint, blackhole, network")
            .Produces<EffectiveRoutesResponse>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status504GatewayTimeout);

        nodes.MapGet("/flood-groups", async (string node, string? network, FabricApi api, CancellationToken ct) =>
            {
                if (NodeMissing(api, node) is { } missing) return missing;
                if (await RequireNetworkAsync(api, network, ct) is not { Network: { } net }) return NetworkProblem(network);
                var group = await api.Runtime.AskNodeAsync<FloodGroupListing>(node, new GetFloodGroup(net.Vni), ct: ct);
                return Results.Ok(new FloodGroupResponse(group.Node, net.Id, group.Vni, group.Members, group.AcceptedFrom));
            })
            .WithName("GetFloodGroup").WithSummary("The VTEPs a node floods to for ?network=ID, and those it accepts VXLAN from")
            .Produces<FloodGroupResponse>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status504GatewayTimeout);

        nodes.MapGet("/counters", async (string node, FabricApi api, CancellationToken ct) =>
            {
                if (NodeMissing(api, node) is { } missing) return missing;
                return Results.Ok(await api.Runtime.AskNodeAsync<CounterListing>(node, GetCounters.Instance, ct: ct));
            })
            .WithName("GetCounters").WithSummary("A node's counters per port and per network: rx, tx, encap, decap, flooded, drops by reason")
            .Produces<CounterListing>().ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status504GatewayTimeout);

        MapDrops(nodes);
    }

    /// <summary>Most samples one answer carries: every reason's whole ring at the largest sensible K.</summary>
    public const int MaxDropLimit = 1000;

    private static void MapDrops(RouteGroupBuilder nodes)
        => nodes.MapGet("/drops", async (string node, string? reason, string? limit, FabricApi api, CancellationToken ct) =>
            {
                DropReason? r = null;
                if (reason is not null)
                {
                    if (!Enum.TryParse<DropReason>(reason, ignoreCase: true, out var parsed) || parsed == DropReason.None || int.TryParse(reason, out _))
                        return Problems.Invalid("reason", "invalid-reason",
                            $"reason '{reason}' is not a drop reason; one of: {string.Join(", ", Enum.GetNames<DropReason>().Skip(1))}");
                    r = parsed;
                }
                var n = 50;
                if (limit is not null && (!int.TryParse(limit, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out n)
                                          || n < 1 || n > MaxDropLimit))
                    return Problems.Invalid("limit", "invalid-limit", $"limit must be a whole number from 1 to {MaxDropLimit}, not '{limit}'");
                if (NodeMissing(api, node) is { } missing) return missing;
                return Results.Ok(await api.Runtime.AskNodeAsync<DropListing>(node, new GetDrops(r is { } x ? DropReasons.Name(x) : null, n), ct: ct));
            })
            .WithName("GetDrops")
            .WithSummary("The last packets a node dropped, newest first (?reason=R of DropReason, ?limit=N, default 50, at most 1000): reason, time, port or VTEP, decoded headers")
            .Produces<DropListing>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status504GatewayTimeout);

    private static IResult? NodeMissing(FabricApi api, string node)
        => api.Runtime.FindMember(node) is null ? Problems.NotFound("node", "node-not-found", $"no cluster member is named '{node}'") : null;

    private sealed record Required(NetworkView? Network);

    private static async Task<Required> RequireNetworkAsync(FabricApi api, string? network, CancellationToken ct)
        => string.IsNullOrEmpty(network)
            ? new Required(null)
            : new Required(await api.NodeViewNetworkAsync(network, ct));

    private static IResult NetworkProblem(string? network) => string.IsNullOrEmpty(network)
        ? Problems.Invalid("network", "network-required", "the query parameter network (a network id) is required: ?network=net-1")
        : NetworkParameterNotFound(network);

    private static IResult NetworkParameterNotFound(string network)
        => Problems.NotFound("network", "network-not-found", $"network {network} does not exist");
}
