namespace Fabric.Actors.Intent;

public sealed partial record FabricConfiguration
{
    private Decision DecideCreateSubnet(CreateSubnet c)
    {
        if (FindNetwork(c.NetworkId, out var network) is { } missing) return missing;
        if (RequireL3(network, "subnets") is { } notL3) return notL3;

        if (CheckName(c.Name, "name", "subnet name") is { } badName) return badName;
        if (network.Subnets.Values.FirstOrDefault(s => s.Name == c.Name) is { } sameName)
            return Rejection.Conflict("name", "name-in-use", $"subnet name '{c.Name}' is already used by {sameName.Id} in network {Describe(network.Network)}");

        if (ParsePrefix(c.Cidr, "cidr", "cidr", out var cidr) is { } badCidr) return badCidr;
        if (CheckRoomForHosts(cidr, "cidr", "subnet") is { } tooSmall) return tooSmall;
        var networkCidr = network.Network.Cidr!.Value;
        if (!networkCidr.Contains(cidr))
            return Rejection.Conflict("cidr", "cidr-outside-network", $"{cidr} is not inside {networkCidr}, the cidr of network {Describe(network.Network)}");
        if (network.Subnets.Values.OrderBy(s => s.Id, EntityIds.Order).FirstOrDefault(s => s.Cidr.Overlaps(cidr)) is { } sibling)
            return Rejection.Conflict("cidr", "cidr-overlaps-subnet", $"{cidr} overlaps subnet {sibling.Name} ({sibling.Id}, {sibling.Cidr})");

        var table = c.RouteTable ?? NetworkState.MainRouteTable;
        if (CheckName(table, "routeTable", "route table name") is { } badTable) return badTable;
        if (!network.RouteTables.ContainsKey(table))
            return Rejection.Conflict("routeTable", "route-table-not-found", $"network {Describe(network.Network)} has no route table '{table}'");

        var subnet = new Subnet(EntityIds.Subnet(NextSubnet), c.Name!, cidr, cidr.FirstHost, table);
        return Decision.Emit(new SubnetCreated(c.NetworkId, subnet));
    }

    /// <remarks>
    /// Scans the endpoints of this one network (its index, not the fabric's endpoints) for any in the subnet:
    /// O(endpoints of the network), e.g. 100 lookups for a network of 100; deleting a subnet is rare.
    /// </remarks>
    private Decision DecideDeleteSubnet(DeleteSubnet c)
    {
        if (!Networks.TryGetValue(c.NetworkId, out var network) || !network.Subnets.TryGetValue(c.SubnetId, out var subnet))
            return Decision.Unchanged;
        var endpoints = EndpointsOf(c.NetworkId).Where(e => e.Subnet == c.SubnetId).Select(e => e.Id).Order(EntityIds.Order).ToList();
        if (endpoints.Count > 0)
            return Rejection.Conflict("subnetId", "subnet-has-endpoints",
                $"subnet {subnet.Name} ({subnet.Id}) still has {endpoints.Count} endpoint(s): {string.Join(", ", endpoints.Take(5))}{(endpoints.Count > 5 ? ", ..." : "")}");
        return Decision.Emit(new SubnetDeleted(c.NetworkId, c.SubnetId));
    }

    private Decision DecideBindSubnetRouteTable(BindSubnetRouteTable c)
    {
        if (FindNetwork(c.NetworkId, out var network) is { } missing) return missing;
        if (!network.Subnets.TryGetValue(c.SubnetId, out var subnet))
            return Rejection.NotFound("subnetId", "subnet-not-found", $"network {Describe(network.Network)} has no subnet {c.SubnetId}");
        if (CheckName(c.RouteTable, "routeTable", "route table name") is { } badTable) return badTable;
        if (!network.RouteTables.ContainsKey(c.RouteTable!))
            return Rejection.Conflict("routeTable", "route-table-not-found", $"network {Describe(network.Network)} has no route table '{c.RouteTable}'");
        return subnet.RouteTable == c.RouteTable
            ? Decision.Unchanged
            : Decision.Emit(new SubnetRouteTableBound(c.NetworkId, c.SubnetId, c.RouteTable!));
    }
}
