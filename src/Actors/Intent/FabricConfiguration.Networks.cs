using Fabric.Dataplane.Packets;

namespace Fabric.Actors.Intent;

public sealed partial record FabricConfiguration
{
    /// <remarks>
    /// Name and VNI uniqueness scan the networks: O(M) in the number of networks, independent of the endpoints. At
    /// 1,000 networks that is two passes over 1,000 entries (microseconds) per network created, which is rare; an index
    /// by name and VNI would cost more memory and upkeep on every replica than it saves.
    /// </remarks>
    private Decision DecideCreateNetwork(CreateNetwork c)
    {
        if (CheckName(c.Name, "name", "network name") is { } badName) return badName;
        var name = c.Name!;
        if (Networks.Values.FirstOrDefault(n => n.Network.Name == name) is { } sameName)
            return Rejection.Conflict("name", "name-in-use", $"network name '{name}' is already used by {sameName.Network.Id}");

        if (c.Vni is not { } vni)
            return Rejection.Invalid("vni", "vni-required", "vni is required");
        if (vni is < MinVni or > MaxVni)
            return Rejection.Invalid("vni", "vni-out-of-range", $"VNI {vni} is outside {MinVni}..{MaxVni}");
        if (Networks.Values.FirstOrDefault(n => n.Network.Vni == vni) is { } sameVni)
            return Rejection.Conflict("vni", "vni-in-use", $"VNI {vni} is already used by network {sameVni.Network.Name}");

        NetworkKind kind;
        switch (c.Kind)
        {
            case "l2": kind = NetworkKind.L2; break;
            case "l3": kind = NetworkKind.L3; break;
            case null or "": return Rejection.Invalid("kind", "kind-required", "kind is required: \"l2\" or \"l3\"");
            default: return Rejection.Invalid("kind", "kind-invalid", $"kind '{c.Kind}' is neither \"l2\" nor \"l3\"");
        }

        Ipv4Prefix? cidr = null;
        if (kind == NetworkKind.L3 && string.IsNullOrEmpty(c.Cidr))
            return Rejection.Invalid("cidr", "cidr-required", "an l3 network needs a cidr");
        if (!string.IsNullOrEmpty(c.Cidr))
        {
            if (ParsePrefix(c.Cidr, "cidr", "cidr", out var p) is { } badCidr) return badCidr;
            if (CheckRoomForHosts(p, "cidr", "network") is { } tooSmall) return tooSmall;
            cidr = p;
        }

        return Decision.Emit(new NetworkCreated(new Network(EntityIds.Network(NextNetwork), name, (int)vni, kind, cidr)));
    }

    /// <remarks>O(1) for its endpoints (the index count); O(M × routes per network) to find a route leaking into it: rare, and microseconds at 1,000 networks.</remarks>
    private Decision DecideDeleteNetwork(DeleteNetwork c)
    {
        // Deleting what is not there succeeds without an event: a retried DELETE must not fail.
        if (!Networks.TryGetValue(c.NetworkId, out var network)) return Decision.Unchanged;

        var endpoints = network.Endpoints.Ids;
        if (endpoints.Count > 0)
            return Rejection.Conflict("networkId", "network-has-endpoints",
                $"network {Describe(network.Network)} still has {endpoints.Count} endpoint(s): {string.Join(", ", endpoints.Take(5))}{(endpoints.Count > 5 ? ", ..." : "")}");

        foreach (var other in Networks.Values.OrderBy(n => n.Network.Id, EntityIds.Order))
            foreach (var (table, routes) in other.RouteTables.OrderBy(t => t.Key, StringComparer.Ordinal))
                foreach (var route in routes.Values)
                    if (route.Target.Kind == RouteTargetKind.Network && route.Target.Network == c.NetworkId)
                        return Rejection.Conflict("networkId", "network-is-route-target",
                            $"network {Describe(network.Network)} is the target of route {route.Destination} in table {table} of network {Describe(other.Network)}");

        return Decision.Emit(new NetworkDeleted(c.NetworkId));
    }

    private Decision DecideAddExternalVtep(AddExternalVtep c)
    {
        if (FindNetwork(c.NetworkId, out var network) is { } missing) return missing;
        if (ParseAddress(c.Address, "address", "address", out var address) is { } bad) return bad;
        if (address.IsZero || address.IsLimitedBroadcast || address.IsMulticast)
            return Rejection.Invalid("address", "address-invalid", $"{address} is not a unicast address");
        var port = c.Port ?? ExternalVtep.DefaultPort;
        if (port is < 1 or > 65535)
            return Rejection.Invalid("port", "port-out-of-range", $"port {port} is outside 1..65535");
        var vtep = new ExternalVtep(address, (int)port);
        if (network.ExternalVteps.Contains(vtep))
            return Rejection.Conflict("address", "external-vtep-exists", $"{vtep} is already an external VTEP of network {Describe(network.Network)}");
        return Decision.Emit(new ExternalVtepAdded(c.NetworkId, vtep));
    }

    private Decision DecideRemoveExternalVtep(RemoveExternalVtep c)
    {
        if (ParseAddress(c.Address, "address", "address", out var address) is { } bad) return bad;
        var vtep = new ExternalVtep(address, (int)(c.Port ?? ExternalVtep.DefaultPort));
        return Networks.TryGetValue(c.NetworkId, out var network) && network.ExternalVteps.Contains(vtep)
            ? Decision.Emit(new ExternalVtepRemoved(c.NetworkId, vtep))
            : Decision.Unchanged;
    }
}
