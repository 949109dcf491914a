using Fabric.Actors.Intent;
using Fabric.Dataplane.Packets;
using Route = Fabric.Actors.Intent.Route;

namespace Fabric.Nodes.Http;

/// <summary>
/// <c>/api/v1/networks</c>: networks and what lives inside them (subnets, route tables and their routes, external
/// VTEPs). Writes become configuration commands; reads come from the configuration singleton's listing.
/// Deletes are idempotent: deleting what does not exist is 204, like deleting it the first time.
/// </summary>
internal static class NetworkRoutes
{
    public static void Map(IEndpointRouteBuilder app)
    {
        var networks = app.MapGroup("/api/v1/networks").WithTags("networks").WithTokenProblems();

        networks.MapPost("", async (HttpContext http, FabricApi api, CancellationToken ct) =>
        {
            var body = await JsonBody<CreateNetworkRequest>.ReadAsync(http);
            if (body.Problem is { } bad) return bad;
            var r = body.Value!;
            return await api.ExecuteAsync(new CreateNetwork(r.Name, r.Vni, r.Kind, r.Cidr), a =>
            {
                var n = a.Events.OfType<NetworkCreated>().Single().Network;
                var view = new NetworkView(n.Id, n.Name, n.Vni, n.Kind, n.Cidr, [], [new RouteTableView(NetworkState.MainRouteTable, [])], []);
                return Results.Created($"/api/v1/networks/{n.Id}", view);
            }, ct);
        }).WithName("CreateNetwork").WithSummary("Create a network (a VNI)").WithJsonBody<CreateNetworkRequest>()
          .Produces<NetworkView>(StatusCodes.Status201Created).ProducesProblem(StatusCodes.Status409Conflict);

        networks.MapGet("", async (FabricApi api, CancellationToken ct) => Results.Ok(await api.ListNetworksAsync(ct)))
            .WithName("ListNetworks").WithSummary("Every network with its subnets, route tables and external VTEPs")
            .Produces<IReadOnlyList<NetworkView>>();

        networks.MapGet("/{networkId}", async (string networkId, FabricApi api, CancellationToken ct) =>
                await FindAsync(api, networkId, ct) is { } n ? Results.Ok(n) : FabricApi.NetworkNotFound(networkId))
            .WithName("GetNetwork").WithSummary("One network").Produces<NetworkView>().ProducesProblem(StatusCodes.Status404NotFound);

        networks.MapDelete("/{networkId}", (string networkId, FabricApi api, CancellationToken ct) =>
                api.ExecuteAsync(new DeleteNetwork(networkId), _ => Results.NoContent(), ct))
            .WithName("DeleteNetwork").WithSummary("Delete a network (409 while endpoints remain; 204 when it does not exist)")
            .Produces(StatusCodes.Status204NoContent).ProducesProblem(StatusCodes.Status409Conflict);

        MapSubnets(networks);
        MapRouteTables(networks);
        MapExternalVteps(networks);
    }

    private static void MapSubnets(RouteGroupBuilder networks)
    {
        networks.MapGet("/{networkId}/subnets", async (string networkId, FabricApi api, CancellationToken ct) =>
                await FindAsync(api, networkId, ct) is { } n ? Results.Ok(n.Subnets) : FabricApi.NetworkNotFound(networkId))
            .WithName("ListSubnets").WithSummary("A network's subnets").Produces<IReadOnlyList<Subnet>>().ProducesProblem(StatusCodes.Status404NotFound);

        networks.MapPost("/{networkId}/subnets", async (string networkId, HttpContext http, FabricApi api, CancellationToken ct) =>
        {
            var body = await JsonBody<CreateSubnetRequest>.ReadAsync(http);
            if (body.Problem is { } bad) return bad;
            var r = body.Value!;
            return await api.ExecuteAsync(new CreateSubnet(networkId, r.Name, r.Cidr, r.RouteTable), a =>
            {
                var s = a.Events.OfType<SubnetCreated>().Single().Subnet;
                return Results.Created($"/api/v1/networks/{networkId}/subnets/{s.Id}", s);
            }, ct);
        }).WithName("CreateSubnet").WithSummary("Create a subnet of an l3 network; its gateway is the first host address")
          .WithJsonBody<CreateSubnetRequest>().Produces<Subnet>(StatusCodes.Status201Created)
          .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);

        networks.MapGet("/{networkId}/subnets/{subnetId}", async (string networkId, string subnetId, FabricApi api, CancellationToken ct) =>
            {
                if (await FindAsync(api, networkId, ct) is not { } n) return FabricApi.NetworkNotFound(networkId);
                return n.Subnets.FirstOrDefault(s => s.Id == subnetId) is { } subnet ? Results.Ok(subnet) : SubnetNotFound(n, subnetId);
            })
            .WithName("GetSubnet").WithSummary("One subnet").Produces<Subnet>().ProducesProblem(StatusCodes.Status404NotFound);

        networks.MapDelete("/{networkId}/subnets/{subnetId}", (string networkId, string subnetId, FabricApi api, CancellationToken ct) =>
                api.ExecuteAsync(new DeleteSubnet(networkId, subnetId), _ => Results.NoContent(), ct))
            .WithName("DeleteSubnet").WithSummary("Delete a subnet (409 while endpoints remain in it; 204 when it does not exist)")
            .Produces(StatusCodes.Status204NoContent).ProducesProblem(StatusCodes.Status409Conflict);

        networks.MapPut("/{networkId}/subnets/{subnetId}/route-table", async (string networkId, string subnetId, HttpContext http, FabricApi api, CancellationToken ct) =>
        {
            var body = await JsonBody<BindRouteTableRequest>.ReadAsync(http);
            if (body.Problem is { } bad) return bad;
            // The answer describes this binding, not what later writes did (as with moves, EndpointRoutes): only a
            // binding changes a subnet, so the subnet read before plus the accepted event is the subnet it left.
            var before = (await FindAsync(api, networkId, ct))?.Subnets.FirstOrDefault(s => s.Id == subnetId);
            return await api.ExecuteAsync(new BindSubnetRouteTable(networkId, subnetId, body.Value!.RouteTable), async a =>
            {
                if (a.Events.OfType<SubnetRouteTableBound>().SingleOrDefault() is { } bound && before is not null)
                    return Results.Ok(before with { RouteTable = bound.RouteTable });
                var n = await FindAsync(api, networkId, ct);
                return n?.Subnets.FirstOrDefault(s => s.Id == subnetId) is { } s ? Results.Ok(s) : FabricApi.NetworkNotFound(networkId);
            }, ct);
        }).WithName("BindSubnetRouteTable").WithSummary("Choose the route table a subnet uses").WithJsonBody<BindRouteTableRequest>()
          .Produces<Subnet>().ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
    }

    private static void MapRouteTables(RouteGroupBuilder networks)
    {
        networks.MapGet("/{networkId}/route-tables", async (string networkId, FabricApi api, CancellationToken ct) =>
                await FindAsync(api, networkId, ct) is { } n ? Results.Ok(n.RouteTables) : FabricApi.NetworkNotFound(networkId))
            .WithName("ListRouteTables").WithSummary("A network's route tables with their routes")
            .Produces<IReadOnlyList<RouteTableView>>().ProducesProblem(StatusCodes.Status404NotFound);

        networks.MapPost("/{networkId}/route-tables", async (string networkId, HttpContext http, FabricApi api, CancellationToken ct) =>
        {
            var body = await JsonBody<CreateRouteTableRequest>.ReadAsync(http);
            if (body.Problem is { } bad) return bad;
            return await api.ExecuteAsync(new CreateRouteTable(networkId, body.Value!.Name), a =>
            {
                var name = a.Events.OfType<RouteTableCreated>().Single().RouteTable;
                return Results.Created($"/api/v1/networks/{networkId}/route-tables/{name}", new RouteTableView(name, []));
            }, ct);
        }).WithName("CreateRouteTable").WithSummary("Create a route table (every network has \"main\")")
          .WithJsonBody<CreateRouteTableRequest>().Produces<RouteTableView>(StatusCodes.Status201Created)
          .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);

        networks.MapGet("/{networkId}/route-tables/{routeTable}", async (string networkId, string routeTable, FabricApi api, CancellationToken ct) =>
            {
                if (await FindAsync(api, networkId, ct) is not { } n) return FabricApi.NetworkNotFound(networkId);
                return FindTable(n, routeTable) is { } t ? Results.Ok(t) : RouteTableNotFound(n, routeTable);
            })
            .WithName("GetRouteTable").WithSummary("One route table with its routes").Produces<RouteTableView>().ProducesProblem(StatusCodes.Status404NotFound);

        networks.MapDelete("/{networkId}/route-tables/{routeTable}", (string networkId, string routeTable, FabricApi api, CancellationToken ct) =>
                api.ExecuteAsync(new DeleteRouteTable(networkId, routeTable), _ => Results.NoContent(), ct))
            .WithName("DeleteRouteTable").WithSummary("Delete a route table (409 for main or while a subnet uses it; 204 when it does not exist)")
            .Produces(StatusCodes.Status204NoContent).ProducesProblem(StatusCodes.Status409Conflict);

        networks.MapGet("/{networkId}/route-tables/{routeTable}/routes", async (string networkId, string routeTable, FabricApi api, CancellationToken ct) =>
            {
                if (await FindAsync(api, networkId, ct) is not { } n) return FabricApi.NetworkNotFound(networkId);
                return FindTable(n, routeTable) is { } t ? Results.Ok(t.Routes) : RouteTableNotFound(n, routeTable);
            })
            .WithName("ListRoutes").WithSummary("The routes of a route table (the implicit local route is not listed)")
            .Produces<IReadOnlyList<Route>>().ProducesProblem(StatusCodes.Status404NotFound);

        networks.MapPost("/{networkId}/route-tables/{routeTable}/routes", async (string networkId, string routeTable, HttpContext http, FabricApi api, CancellationToken ct) =>
        {
            var body = await JsonBody<AddRouteRequest>.ReadAsync(http);
            if (body.Problem is { } bad) return bad;
            var r = body.Value!;
            var target = r.Target is { } t ? new RouteTargetSpec(t.Kind, t.Endpoint, t.Network) : null;
            return await api.ExecuteAsync(new AddRoute(networkId, routeTable, r.Destination, target), a =>
            {
                var route = a.Events.OfType<RouteAdded>().Single().Route;
                return Results.Created($"/api/v1/networks/{networkId}/route-tables/{routeTable}/routes/{route.Destination}", route);
            }, ct);
        }).WithName("AddRoute")
          .WithSummary("Add a route: target endpoint (an appliance), blackhole, or network (a leak); the network's own cidr cannot be overridden (409)")
          .WithJsonBody<AddRouteRequest>().Produces<Route>(StatusCodes.Status201Created)
          .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);

        // The destination is a CIDR, slash included: .../routes/10.9.0.0/16 (or 10.9.0.0%2F16).
        networks.MapGet("/{networkId}/route-tables/{routeTable}/routes/{**destination}",
                async (string networkId, string routeTable, string destination, FabricApi api, CancellationToken ct) =>
            {
                if (await FindAsync(api, networkId, ct) is not { } n) return FabricApi.NetworkNotFound(networkId);
                if (FindTable(n, routeTable) is not { } t) return RouteTableNotFound(n, routeTable);
                var text = Uri.UnescapeDataString(destination);
                if (!Ipv4Prefix.TryParse(text, out var prefix, out var error)) return Problems.Invalid("destination", "destination-invalid", error);
                return t.Routes.FirstOrDefault(r => r.Destination == prefix) is { } route
                    ? Results.Ok(route)
                    : Problems.NotFound("destination", "route-not-found", $"route table '{routeTable}' has no route to {prefix}");
            })
            .WithName("GetRoute").WithSummary("One route, by destination CIDR").Produces<Route>()
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound);

        networks.MapDelete("/{networkId}/route-tables/{routeTable}/routes/{**destination}",
                (string networkId, string routeTable, string destination, FabricApi api, CancellationToken ct) =>
                    api.ExecuteAsync(new RemoveRoute(networkId, routeTable, Uri.UnescapeDataString(destination)), _ => Results.NoContent(), ct))
            .WithName("RemoveRoute").WithSummary("Remove a route (204 when there is none)")
            .Produces(StatusCodes.Status204NoContent).ProducesValidationProblem();
    }

    private static void MapExternalVteps(RouteGroupBuilder networks)
    {
        networks.MapGet("/{networkId}/external-vteps", async (string networkId, FabricApi api, CancellationToken ct) =>
                await FindAsync(api, networkId, ct) is { } n ? Results.Ok(n.ExternalVteps) : FabricApi.NetworkNotFound(networkId))
            .WithName("ListExternalVteps").WithSummary("VTEPs outside the cluster in the network's flood group")
            .Produces<IReadOnlyList<ExternalVtep>>().ProducesProblem(StatusCodes.Status404NotFound);

        networks.MapPost("/{networkId}/external-vteps", async (string networkId, HttpContext http, FabricApi api, CancellationToken ct) =>
        {
            var body = await JsonBody<AddExternalVtepRequest>.ReadAsync(http);
            if (body.Problem is { } bad) return bad;
            var r = body.Value!;
            return await api.ExecuteAsync(new AddExternalVtep(networkId, r.Address, r.Port), a =>
            {
                var v = a.Events.OfType<ExternalVtepAdded>().Single().Vtep;
                return Results.Created($"/api/v1/networks/{networkId}/external-vteps/{v.Address}:{v.Port}", v);
            }, ct);
        }).WithName("AddExternalVtep").WithSummary("Add a VTEP outside the cluster (a kernel vxlan device, a switch) to the network's flood group")
          .WithJsonBody<AddExternalVtepRequest>().Produces<ExternalVtep>(StatusCodes.Status201Created)
          .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);

        networks.MapDelete("/{networkId}/external-vteps/{vtep}", (string networkId, string vtep, FabricApi api, CancellationToken ct) =>
            {
                // ADDRESS or ADDRESS:PORT (port 4789 when omitted).
                var colon = vtep.LastIndexOf(':');
                long? port = null;
                var address = vtep;
                if (colon >= 0)
                {
                    if (!long.TryParse(vtep.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var p))
                        return Task.FromResult(Problems.Invalid("vtep", "vtep-invalid", $"'{vtep}' is neither ADDRESS nor ADDRESS:PORT"));
                    port = p;
                    address = vtep[..colon];
                }
                return api.ExecuteAsync(new RemoveExternalVtep(networkId, address, port), _ => Results.NoContent(), ct);
            })
            .WithName("RemoveExternalVtep").WithSummary("Remove an external VTEP, given as ADDRESS or ADDRESS:PORT (204 when it is not there)")
            .Produces(StatusCodes.Status204NoContent).ProducesValidationProblem();
    }

    /// <summary>One network, one targeted query (not the whole configuration).</summary>
    internal static Task<NetworkView?> FindAsync(FabricApi api, string networkId, CancellationToken ct) => api.GetNetworkAsync(networkId, ct);

    private static RouteTableView? FindTable(NetworkView n, string name) => n.RouteTables.FirstOrDefault(t => t.Name == name);

    private static IResult SubnetNotFound(NetworkView n, string subnetId)
        => Problems.NotFound("subnetId", "subnet-not-found", $"network {n.Name} ({n.Id}) has no subnet {subnetId}");

    private static IResult RouteTableNotFound(NetworkView n, string name)
        => Problems.NotFound("routeTable", "route-table-not-found", $"network {n.Name} ({n.Id}) has no route table '{name}'");
}
