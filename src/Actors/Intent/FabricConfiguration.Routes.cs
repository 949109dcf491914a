namespace Fabric.Actors.Intent;

public sealed partial record FabricConfiguration
{
    private Decision DecideCreateRouteTable(CreateRouteTable c)
    {
        if (FindNetwork(c.NetworkId, out var network) is { } missing) return missing;
        if (RequireL3(network, "route tables") is { } notL3) return notL3;
        if (CheckName(c.Name, "name", "route table name") is { } badName) return badName;
        if (network.RouteTables.ContainsKey(c.Name!))
            return Rejection.Conflict("name", "route-table-exists", $"network {Describe(network.Network)} already has a route table '{c.Name}'");
        return Decision.Emit(new RouteTableCreated(c.NetworkId, c.Name!));
    }

    private Decision DecideDeleteRouteTable(DeleteRouteTable c)
    {
        if (c.RouteTable == NetworkState.MainRouteTable && Networks.ContainsKey(c.NetworkId))
            return Rejection.Conflict("routeTable", "main-route-table", "the main route table belongs to the network and cannot be deleted");
        if (!Networks.TryGetValue(c.NetworkId, out var network) || !network.RouteTables.ContainsKey(c.RouteTable))
            return Decision.Unchanged;
        var bound = network.Subnets.Values.Where(s => s.RouteTable == c.RouteTable).Select(s => s.Id).Order(EntityIds.Order).ToList();
        if (bound.Count > 0)
            return Rejection.Conflict("routeTable", "route-table-in-use", $"route table '{c.RouteTable}' is bound to subnet(s) {string.Join(", ", bound)}");
        return Decision.Emit(new RouteTableDeleted(c.NetworkId, c.RouteTable));
    }

    private Decision DecideAddRoute(AddRoute c)
    {
        if (FindNetwork(c.NetworkId, out var network) is { } missing) return missing;
        if (RequireL3(network, "routes") is { } notL3) return notL3;
        if (!network.RouteTables.TryGetValue(c.RouteTable, out var routes))
            return Rejection.NotFound("routeTable", "route-table-not-found", $"network {Describe(network.Network)} has no route table '{c.RouteTable}'");

        if (ParsePrefix(c.Destination, "destination", "destination", out var destination) is { } badDestination) return badDestination;
        var local = network.Network.Cidr!.Value;
        if (local.Contains(destination))
            return Rejection.Conflict("destination", "local-route-override",
                $"cannot override the local route {local} of network {Describe(network.Network)}: {destination} is {(destination == local ? "the network's own cidr" : "inside it")}");
        if (routes.ContainsKey(destination))
            return Rejection.Conflict("destination", "route-exists", $"route table '{c.RouteTable}' already has a route to {destination} ({routes[destination].Target})");

        var (target, badTarget) = DecideTarget(c.Target, network);
        if (badTarget is not null) return badTarget;
        return Decision.Emit(new RouteAdded(c.NetworkId, c.RouteTable, new Route(destination, target!)));
    }

    private (RouteTarget? Target, Rejection? Rejection) DecideTarget(RouteTargetSpec? spec, NetworkState network)
    {
        switch (spec?.Kind)
        {
            case null or "":
                return (null, Rejection.Invalid("target.kind", "target-kind-required", "target.kind is required: \"endpoint\", \"blackhole\" or \"network\""));

            case "blackhole":
                if (spec.Endpoint is not null || spec.Network is not null)
                    return (null, Rejection.Invalid("target", "target-invalid", "a blackhole target names neither an endpoint nor a network"));
                return (RouteTarget.Blackhole, null);

            case "endpoint":
                if (spec.Network is not null)
                    return (null, Rejection.Invalid("target.network", "target-invalid", "an endpoint target names no network"));
                if (string.IsNullOrEmpty(spec.Endpoint))
                    return (null, Rejection.Invalid("target.endpoint", "target-endpoint-required", "an endpoint target needs target.endpoint"));
                if (!Endpoints.TryGetValue(spec.Endpoint, out var endpoint))
                    return (null, Rejection.Conflict("target.endpoint", "target-endpoint-not-found", $"endpoint {spec.Endpoint} does not exist"));
                if (endpoint.Network != network.Network.Id)
                    return (null, Rejection.Conflict("target.endpoint", "target-endpoint-other-network",
                        $"endpoint {endpoint.Id} is in network {endpoint.Network}, not in {Describe(network.Network)}"));
                return (RouteTarget.ToEndpoint(endpoint.Id), null);

            case "network":
                if (spec.Endpoint is not null)
                    return (null, Rejection.Invalid("target.endpoint", "target-invalid", "a network target names no endpoint"));
                if (string.IsNullOrEmpty(spec.Network))
                    return (null, Rejection.Invalid("target.network", "target-network-required", "a network target needs target.network"));
                if (!Networks.ContainsKey(spec.Network))
                    return (null, Rejection.Conflict("target.network", "target-network-not-found", $"network {spec.Network} does not exist"));
                if (spec.Network == network.Network.Id)
                    return (null, Rejection.Conflict("target.network", "target-network-self", $"a route cannot leak network {Describe(network.Network)} into itself"));
                return (RouteTarget.ToNetwork(spec.Network), null);

            default:
                return (null, Rejection.Invalid("target.kind", "target-kind-invalid", $"target kind '{spec.Kind}' is not \"endpoint\", \"blackhole\" or \"network\""));
        }
    }

    private Decision DecideRemoveRoute(RemoveRoute c)
    {
        if (ParsePrefix(c.Destination, "destination", "destination", out var destination) is { } badDestination) return badDestination;
        return Networks.TryGetValue(c.NetworkId, out var network)
               && network.RouteTables.TryGetValue(c.RouteTable, out var routes)
               && routes.ContainsKey(destination)
            ? Decision.Emit(new RouteRemoved(c.NetworkId, c.RouteTable, destination))
            : Decision.Unchanged;
    }
}
