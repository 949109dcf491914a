using System.Collections.Immutable;
using Fabric.Dataplane.Packets;

namespace Fabric.Actors.Intent;

public sealed partial record FabricConfiguration
{
    /// <summary>
    /// Assigned MACs are locally administered unicast: 02:fb followed by the endpoint's number (32 bits),
    /// so they are unique among assigned MACs everywhere and the same on every replay. Should someone
    /// have configured that very MAC by hand in the network, the next free one is taken.
    /// </summary>
    public const ulong AssignedMacBase = 0x02FB_0000_0000UL;

    /// <summary>
    /// Item by item against the configuration with the earlier items applied, so that items conflict with each other as
    /// with what exists; the first refusal names its item (<c>endpoints[i].field</c>) and nothing is emitted. Each item
    /// costs what a single create costs (O(log n) lookups in its network's indexes); the free-address search resumes
    /// where the previous item of the same subnet left it, as nothing is freed inside the request.
    /// </summary>
    private Decision DecideCreateEndpoints(CreateEndpoints c)
    {
        if (c.Items is not { Count: > 0 } items)
            return Rejection.Invalid("endpoints", "endpoints-required", "endpoints is required: a list of 1 to 10000 endpoint bodies");
        if (items.Count > CreateEndpoints.MaxItems)
            return Rejection.Invalid("endpoints", "too-many-endpoints", $"{items.Count} endpoints in one request; at most {CreateEndpoints.MaxItems}");
        var state = this;
        var events = new ConfigurationEvent[items.Count];
        var floors = new Dictionary<(string Network, string? Subnet), uint>();
        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i];
            if (item is null)
                return Rejection.Invalid($"endpoints[{i}]", "endpoint-required", $"endpoints[{i}] is null: expected an endpoint body");
            switch (state.DecideCreateEndpoint(item, floors))
            {
                case Decision.Reject r:
                    return Itemized(r.Rejection, $"endpoints[{i}]");
                case Decision.Accept { Events: [var created] }:
                    events[i] = created;
                    state = state.Apply(created);
                    break;
                default:
                    throw new InvalidOperationException("an endpoint create emits exactly one event");
            }
        }
        return new Decision.Accept(events);
    }

    /// <summary>
    /// Every id must exist (404 naming <c>ids[i]</c>) and be no route's target (409 naming <c>ids[i]</c>); a repeated id is
    /// 400. O(log n) per id plus the route tables of its network.
    /// </summary>
    private Decision DecideDeleteEndpoints(DeleteEndpoints c)
    {
        if (c.Ids is not { Count: > 0 } ids)
            return Rejection.Invalid("ids", "ids-required", "ids is required: a list of 1 to 10000 endpoint ids");
        if (ids.Count > CreateEndpoints.MaxItems)
            return Rejection.Invalid("ids", "too-many-ids", $"{ids.Count} ids in one request; at most {CreateEndpoints.MaxItems}");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var events = new ConfigurationEvent[ids.Count];
        for (var i = 0; i < ids.Count; i++)
        {
            var field = $"ids[{i}]";
            var id = ids[i];
            if (string.IsNullOrEmpty(id))
                return Rejection.Invalid(field, "id-required", $"{field} is empty: expected an endpoint id");
            if (!seen.Add(id))
                return Rejection.Invalid(field, "id-duplicate", $"{field}: {id} appears more than once in the request");
            if (!Endpoints.ContainsKey(id))
                return Rejection.NotFound(field, "endpoint-not-found", $"{field}: endpoint {id} does not exist; nothing was deleted");
            switch (DecideDeleteEndpoint(new DeleteEndpoint(id)))
            {
                case Decision.Reject r:
                    return Itemized(r.Rejection, field, replaceField: true);
                case Decision.Accept { Events: [var deleted] }:
                    events[i] = deleted;
                    break;
                default:
                    throw new InvalidOperationException("deleting an existing endpoint emits exactly one event");
            }
        }
        return new Decision.Accept(events);
    }

    /// <summary>A single item's refusal as the bulk request's: its field under the item's path, the item named in the detail.</summary>
    private static Rejection Itemized(Rejection r, string item, bool replaceField = false)
        => r with
        {
            Field = replaceField || string.IsNullOrEmpty(r.Field) ? item : $"{item}.{r.Field}",
            Detail = $"{item}: {r.Detail}; nothing was written",
        };

    private Decision DecideCreateEndpoint(CreateEndpoint c) => DecideCreateEndpoint(c, null);

    /// <param name="floors">In a bulk create: per (network, subnet), the address below which every address is taken.</param>
    private Decision DecideCreateEndpoint(CreateEndpoint c, Dictionary<(string Network, string? Subnet), uint>? floors)
    {
        if (CheckName(c.Name, "name", "endpoint name") is { } badName) return badName;
        if (string.IsNullOrEmpty(c.Network))
            return Rejection.Invalid("network", "network-required", "network is required");
        if (!Networks.TryGetValue(c.Network, out var network))
            return Rejection.Conflict("network", "network-not-found", $"network {c.Network} does not exist");
        var index = network.Endpoints;
        if (index.ByName.TryGetValue(c.Name!, out var sameNameId) && Endpoints[sameNameId] is var sameName)
            return Rejection.Conflict("name", "name-in-use", $"endpoint name '{c.Name}' is already used by {sameName.Id} in network {Describe(network.Network)}");

        if (CheckName(c.Node, "node", "node name") is { } badNode) return badNode;

        var (port, badPort) = DecidePort(c.Port);
        if (badPort is not null) return badPort;

        // MAC
        MacAddress mac;
        if (c.Mac is not null)
        {
            if (!MacAddress.TryParse(c.Mac, out mac))
                return Rejection.Invalid("mac", "mac-invalid", $"'{c.Mac}' is not a MAC address (expected aa:bb:cc:dd:ee:ff)");
            if (!mac.IsUnicast)
                return Rejection.Invalid("mac", "mac-not-unicast", $"{mac} is not a unicast address");
            if (index.ByMac.TryGetValue(mac, out var sameMacId) && Endpoints[sameMacId] is var sameMac)
                return Rejection.Conflict("mac", "mac-in-use", $"MAC {mac} is already used by {sameMac.Id} ({sameMac.Name}) in network {Describe(network.Network)}");
        }
        else
        {
            var serial = (uint)NextEndpoint;
            while (index.ByMac.ContainsKey(new MacAddress(AssignedMacBase | serial))) serial++;
            mac = new MacAddress(AssignedMacBase | serial);
        }

        // Subnet and IP. The ip may carry the VM's prefix (a.b.c.d/len): where the network has no CIDR it is the only
        // place the prefix can come from; where it has one, it must agree.
        var (ipText, prefixLength, badPrefix) = SplitPrefix(c.Ip);
        if (badPrefix is not null) return badPrefix;
        var usedIps = new UsedAddresses(index.ByIp, Endpoints);
        Subnet? subnet = null;
        Ipv4Address? ip = null;
        if (network.Network.Kind == NetworkKind.L3)
        {
            var subnets = network.Subnets.Values.OrderBy(s => s.Id, EntityIds.Order).ToList();
            if (c.Subnet is not null && !network.Subnets.TryGetValue(c.Subnet, out subnet))
                return Rejection.Conflict("subnet", "subnet-not-found", $"network {Describe(network.Network)} has no subnet {c.Subnet}");
            if (c.Ip is not null)
            {
                if (ParseAddress(ipText, "ip", "ip", out var wanted) is { } badIp) return badIp;
                if (subnet is null)
                {
                    subnet = subnets.FirstOrDefault(s => s.Cidr.Contains(wanted));
                    if (subnet is null)
                        return Rejection.Conflict("ip", "ip-outside-subnets", $"{wanted} is in no subnet of network {Describe(network.Network)}");
                }
                else if (!subnet.Cidr.Contains(wanted))
                    return Rejection.Conflict("ip", "ip-outside-subnet", $"{wanted} is outside subnet {subnet.Name} ({subnet.Cidr})");
                if (prefixLength is { } given && given != subnet.Cidr.Length)
                    return Rejection.Invalid("ip", "ip-prefix-mismatch", $"{c.Ip} has prefix /{given}, but subnet {subnet.Name} is {subnet.Cidr}: write {wanted}/{subnet.Cidr.Length} or just {wanted}");
                if (wanted == subnet.Cidr.Network)
                    return Rejection.Conflict("ip", "ip-reserved", $"{wanted} is the network address of subnet {subnet.Name} ({subnet.Cidr})");
                if (wanted == subnet.Gateway)
                    return Rejection.Conflict("ip", "ip-reserved", $"{wanted} is the gateway of subnet {subnet.Name} ({subnet.Cidr})");
                if (wanted == subnet.Cidr.Broadcast)
                    return Rejection.Conflict("ip", "ip-reserved", $"{wanted} is the broadcast address of subnet {subnet.Name} ({subnet.Cidr})");
                if (usedIps.TryGetValue(wanted, out var holder))
                    return Rejection.Conflict("ip", "ip-in-use", $"{wanted} is already used by {holder.Id} ({holder.Name}) in network {Describe(network.Network)}");
                ip = wanted;
            }
            else if (subnet is not null)
            {
                ip = FirstFree(new Ipv4Address(subnet.Gateway.Value + 1), subnet.Cidr.Broadcast, usedIps, floors, (c.Network!, subnet.Id));
                if (ip is null)
                    return Rejection.Conflict("ip", "subnet-full", $"subnet {subnet.Name} ({subnet.Cidr}) has no free address");
            }
            else
            {
                if (subnets.Count == 0)
                    return Rejection.Conflict("subnet", "network-has-no-subnet", $"network {Describe(network.Network)} has no subnet to place the endpoint in");
                foreach (var candidate in subnets)
                {
                    ip = FirstFree(new Ipv4Address(candidate.Gateway.Value + 1), candidate.Cidr.Broadcast, usedIps, floors, (c.Network!, candidate.Id));
                    if (ip is not null) { subnet = candidate; break; }
                }
                if (ip is null)
                    return Rejection.Conflict("ip", "no-free-address", $"every subnet of network {Describe(network.Network)} is full");
            }
        }
        else
        {
            if (c.Subnet is not null)
                return Rejection.Conflict("subnet", "network-not-l3", $"subnets only exist in l3 networks; network {Describe(network.Network)} is l2");
            var cidr = network.Network.Cidr;
            if (c.Ip is not null)
            {
                if (ParseAddress(ipText, "ip", "ip", out var wanted) is { } badIp) return badIp;
                if (cidr is { } p)
                {
                    if (!p.Contains(wanted))
                        return Rejection.Conflict("ip", "ip-outside-network", $"{wanted} is outside {p}, the cidr of network {Describe(network.Network)}");
                    if (wanted == p.Network || wanted == p.Broadcast)
                        return Rejection.Conflict("ip", "ip-reserved", $"{wanted} is the {(wanted == p.Network ? "network" : "broadcast")} address of {p}");
                    if (prefixLength is { } given && given != p.Length)
                        return Rejection.Invalid("ip", "ip-prefix-mismatch", $"{c.Ip} has prefix /{given}, but network {Describe(network.Network)} is {p}: write {wanted}/{p.Length} or just {wanted}");
                }
                else
                {
                    if (wanted.IsZero || wanted.IsLimitedBroadcast || wanted.IsMulticast)
                        return Rejection.Invalid("ip", "ip-invalid", $"{wanted} is not a unicast host address");
                    if (prefixLength is { } given)
                    {
                        var own = new Ipv4Prefix(wanted, given);
                        if (given < 31 && (wanted == own.Network || wanted == own.Broadcast))
                            return Rejection.Conflict("ip", "ip-reserved", $"{wanted} is the {(wanted == own.Network ? "network" : "broadcast")} address of {own}");
                    }
                    // A TAP device is configured with the address and its prefix; without one it gets a /32 and no
                    // route, and the VM cannot reach anyone. A guest answers ARP for any target when it has no
                    // gateway, so it needs no prefix.
                    else if (port!.Kind == PortKind.Tap)
                        return Rejection.Invalid("ip", "ip-prefix-unknown",
                            $"network {Describe(network.Network)} has no cidr, so a tap endpoint's prefix must come with its ip: write {wanted}/24 (or the prefix the VMs share), or give the network a cidr");
                }
                if (usedIps.TryGetValue(wanted, out var holder))
                    return Rejection.Conflict("ip", "ip-in-use", $"{wanted} is already used by {holder.Id} ({holder.Name}) in network {Describe(network.Network)}");
                ip = wanted;
            }
            else if (cidr is { } p)
            {
                ip = FirstFree(p.FirstHost, p.Broadcast, usedIps, floors, (c.Network!, null));
                if (ip is null)
                    return Rejection.Conflict("ip", "no-free-address", $"network {Describe(network.Network)} ({p}) has no free address");
            }
        }

        var endpoint = new Endpoint(
            EntityIds.Endpoint(NextEndpoint), c.Name!, c.Network, subnet?.Id, c.Node!, mac, ip, port!, c.SourceCheck ?? true, MoveSeq: 0, prefixLength);
        return Decision.Emit(new EndpointCreated(endpoint));
    }

    /// <summary>Splits <c>a.b.c.d/len</c> into the address text and the prefix length (1..31); no slash: no prefix.</summary>
    private static (string? Address, int? PrefixLength, Rejection? Rejection) SplitPrefix(string? ip)
    {
        var slash = ip?.IndexOf('/') ?? -1;
        if (slash < 0) return (ip, null, null);
        var text = ip![(slash + 1)..];
        if (!int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var length) || length is < 1 or > 31)
            return (null, null, Rejection.Invalid("ip", "ip-prefix-invalid", $"'{ip}' has no usable prefix: expected a.b.c.d/len with len 1..31"));
        return (ip[..slash], length, null);
    }

    private static (EndpointPort? Port, Rejection? Rejection) DecidePort(EndpointPortSpec? spec)
    {
        if (spec is null)
            return (null, Rejection.Invalid("port", "port-required", "port is required: {\"kind\": \"guest\"} or {\"kind\": \"tap\"}"));
        switch (spec.Kind)
        {
            case "guest":
                return spec.Namespace is null
                    ? (new EndpointPort(PortKind.Guest), null)
                    : (null, Rejection.Invalid("port.namespace", "port-namespace-invalid", "only a tap port lives in a network namespace"));
            case "tap":
                if (spec.Namespace is not null && CheckName(spec.Namespace, "port.namespace", "namespace name") is { } bad) return (null, bad);
                return (new EndpointPort(PortKind.Tap, spec.Namespace), null);
            case null or "":
                return (null, Rejection.Invalid("port.kind", "port-kind-required", "port.kind is required: \"guest\" or \"tap\""));
            default:
                return (null, Rejection.Invalid("port.kind", "port-kind-invalid", $"port kind '{spec.Kind}' is neither \"guest\" nor \"tap\""));
        }
    }

    /// <summary>The network's addresses in use, looked up in its index.</summary>
    private readonly struct UsedAddresses(ImmutableDictionary<Ipv4Address, string> byIp, ImmutableDictionary<string, Endpoint> endpoints)
    {
        public bool ContainsKey(Ipv4Address ip) => byIp.ContainsKey(ip);
        public bool TryGetValue(Ipv4Address ip, out Endpoint holder)
        {
            holder = null!;
            if (!byIp.TryGetValue(ip, out var id)) return false;
            holder = endpoints[id];
            return true;
        }
    }

    /// <summary>
    /// The lowest address in [first, end) that no endpoint uses (end is exclusive: the broadcast address). Cost: one
    /// O(1) index lookup per used address below the answer, i.e. O(addresses used in the subnet) for a single create:
    /// about 100 lookups (microseconds) for a network of 100 endpoints, 100,000 (a few milliseconds) for a /16 holding
    /// 100,000. A bulk create passes <paramref name="floors"/> and resumes above the previous item's answer, so a
    /// request costs O(used + items), not O(used × items).
    /// </summary>
    private static Ipv4Address? FirstFree(Ipv4Address first, Ipv4Address end, UsedAddresses used,
        Dictionary<(string Network, string? Subnet), uint>? floors, (string Network, string? Subnet) key)
    {
        var start = first.Value;
        if (floors is not null && floors.TryGetValue(key, out var floor) && floor > start) start = floor;
        for (var v = start; v < end.Value; v++)
            if (!used.ContainsKey(new Ipv4Address(v)))
            {
                if (floors is not null) floors[key] = v + 1;
                return new Ipv4Address(v);
            }
        if (floors is not null) floors[key] = end.Value;
        return null;
    }

    private Decision DecideMoveEndpoint(MoveEndpoint c)
    {
        if (!Endpoints.TryGetValue(c.EndpointId, out var endpoint))
            return Rejection.NotFound("endpointId", "endpoint-not-found", $"endpoint {c.EndpointId} does not exist");
        if (CheckName(c.Node, "node", "node name") is { } badNode) return badNode;
        return endpoint.Node == c.Node
            ? Decision.Unchanged
            : Decision.Emit(new EndpointMoved(endpoint.Id, c.Node!, endpoint.MoveSeq + 1));
    }

    /// <summary>O(log n) for the endpoint, plus the routes of its own network (a handful) to refuse deleting an appliance.</summary>
    private Decision DecideDeleteEndpoint(DeleteEndpoint c)
    {
        if (!Endpoints.TryGetValue(c.EndpointId, out var endpoint)) return Decision.Unchanged;
        if (Networks.TryGetValue(endpoint.Network, out var network))
            foreach (var (table, routes) in network.RouteTables.OrderBy(t => t.Key, StringComparer.Ordinal))
                foreach (var route in routes.Values.OrderBy(r => r.Destination.Network).ThenBy(r => r.Destination.Length))
                    if (route.Target.Kind == RouteTargetKind.Endpoint && route.Target.Endpoint == endpoint.Id)
                        return Rejection.Conflict("endpointId", "endpoint-is-route-target",
                            $"endpoint {endpoint.Id} ({endpoint.Name}) is the target of route {route.Destination} in table {table}");
        return Decision.Emit(new EndpointDeleted(endpoint.Id));
    }
}
