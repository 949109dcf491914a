using System.Runtime.CompilerServices;
using Fabric.Dataplane.Packets;

namespace Fabric.Dataplane.Tables;

public enum RouteTargetKind : byte
{
    /// <summary>The network's own CIDR: resolve the destination among the network's endpoints.</summary>
    Local,
    /// <summary>Hand the packet to an appliance endpoint (NAT, firewall) of the same network, destination IP untouched.</summary>
    Endpoint,
    /// <summary>Drop silently (counted).</summary>
    Blackhole,
    /// <summary>An explicit leak into another network, resolved among that network's endpoints.</summary>
    Network,
}

/// <summary>Where a route sends traffic. <see cref="EndpointMac"/> for Endpoint, <see cref="Vni"/> for Network.</summary>
public readonly record struct RouteTarget(RouteTargetKind Kind, MacAddress EndpointMac = default, int Vni = 0)
{
    public static readonly RouteTarget Local = new(RouteTargetKind.Local);
    public static readonly RouteTarget Blackhole = new(RouteTargetKind.Blackhole);
    public static RouteTarget ToEndpoint(MacAddress mac) => new(RouteTargetKind.Endpoint, mac);
    public static RouteTarget ToNetwork(int vni) => new(RouteTargetKind.Network, default, vni);
}

public readonly record struct Route(Ipv4Prefix Destination, RouteTarget Target);

/// <summary>
/// One VRF's IPv4 longest-prefix-match table, immutable once built. A 16-8-8 multibit trie with controlled prefix
/// expansion (DIR-16-8-8): a lookup is at most three array reads and no branches on prefix length, so its cost does
/// not grow with the number of routes. The network's own CIDR is the implicit <c>local</c> route; no route may
/// override it (equal to or inside it).
/// </summary>
public sealed class RouteTable
{
    // Entry encoding: 0 = no route; > 0 = index + 1 into _routes; < 0 = ~chunk (256 entries) of the next level.
    private readonly int[] _level1;
    private readonly int[] _level2;
    private readonly int[] _level3;
    private readonly Route[] _routes;

    public string Name { get; }
    public IReadOnlyList<Route> Routes => _routes;
    public int Count => _routes.Length;
    /// <summary>Bytes held by the trie arrays, for the memory figures in the benchmarks.</summary>
    public long FootprintBytes => 4L * (_level1.Length + _level2.Length + _level3.Length);

    private RouteTable(string name, Route[] routes, int[] l1, int[] l2, int[] l3)
    {
        Name = name; _routes = routes; _level1 = l1; _level2 = l2; _level3 = l3;
    }

    /// <summary>Builds a table. <paramref name="localPrefix"/>, when given, becomes the local route and may not be overridden.</summary>
    public static RouteTable Build(string name, IEnumerable<Route> routes, Ipv4Prefix? localPrefix = null)
    {
        var list = new List<Route>();
        if (localPrefix is { } local) list.Add(new Route(local, RouteTarget.Local));
        var seen = new HashSet<Ipv4Prefix>();
        if (localPrefix is { } lp) seen.Add(lp);
        foreach (var r in routes)
        {
            if (localPrefix is { } l && l.Contains(r.Destination))
                throw new ArgumentException($"route {r.Destination} would override the local route {l}");
            if (r.Target.Kind == RouteTargetKind.Local && localPrefix is not null)
                throw new ArgumentException($"route {r.Destination}: only the network's own CIDR is local");
            if (!seen.Add(r.Destination))
                throw new ArgumentException($"duplicate route for {r.Destination}");
            list.Add(r);
        }
        // Shorter prefixes first: a longer one then simply overwrites the expanded slots it covers.
        list.Sort(static (a, b) => a.Destination.Length != b.Destination.Length
            ? a.Destination.Length.CompareTo(b.Destination.Length)
            : a.Destination.Network.CompareTo(b.Destination.Network));

        var l1 = new int[1 << 16];
        var l2 = new List<int>();
        var l3 = new List<int>();
        for (int i = 0; i < list.Count; i++)
        {
            var p = list[i].Destination;
            var value = i + 1;
            var addr = p.Network.Value;
            if (p.Length <= 16)
            {
                var start = (int)(addr >> 16);
                var span = 1 << (16 - p.Length);
                Array.Fill(l1, value, start, span);
                continue;
            }
            var i1 = (int)(addr >> 16);
            var c2 = EnsureChunk(ref l1[i1], l2);
            if (p.Length <= 24)
            {
                var start = (int)((addr >> 8) & 0xFF);
                var span = 1 << (24 - p.Length);
                for (int k = 0; k < span; k++) l2[(c2 << 8) + start + k] = value;
                continue;
            }
            var i2 = (c2 << 8) + (int)((addr >> 8) & 0xFF);
            var slot = l2[i2];
            var c3 = EnsureChunk(ref slot, l3);
            l2[i2] = slot;
            var s3 = (int)(addr & 0xFF);
            var span3 = 1 << (32 - p.Length);
            for (int k = 0; k < span3; k++) l3[(c3 << 8) + s3 + k] = value;
        }
        return new RouteTable(name, list.ToArray(), l1, l2.ToArray(), l3.ToArray());
    }

    /// <summary>Turns a slot into a pointer to a child chunk (filled with the slot's former route) and returns the chunk.</summary>
    private static int EnsureChunk(ref int slot, List<int> level)
    {
        if (slot < 0) return ~slot;
        var chunk = level.Count >> 8;
        for (int k = 0; k < 256; k++) level.Add(slot);
        slot = ~chunk;
        return chunk;
    }

    /// <summary>Longest-prefix match. Returns false when no route (not even a default) covers the address.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryLookup(Ipv4Address destination, out Route route)
    {
        var ip = destination.Value;
        var e = _level1[ip >> 16];
        if (e < 0)
        {
            e = _level2[(~e << 8) | (int)((ip >> 8) & 0xFF)];
            if (e < 0) e = _level3[(~e << 8) | (int)(ip & 0xFF)];
        }
        if (e == 0)
        {
            route = default;
            return false;
        }
        route = _routes[e - 1];
        return true;
    }
}
