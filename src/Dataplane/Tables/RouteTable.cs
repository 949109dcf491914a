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
/// One VRF's IPv4 longest-prefix-match table, immutable once built. An 8-8-8-8 multibit trie with controlled prefix
/// expansion: a lookup is at most four array reads and no branches on prefix length, so its cost does not grow with
/// the number of routes. Only the chunks (256 entries, 1 KB) that some prefix needs exist: a table with no route
/// shares one empty root, a network's /16 to /24 CIDR costs three chunks (3 KB). (It was DIR-16-8-8, whose 256 KB
/// first level was allocated for every table of every network, used or not.) The network's own CIDR is the
/// implicit <c>local</c> route; no route may override it (equal to or inside it).
/// </summary>
public sealed class RouteTable
{
    private const int Stride = 256;
    // No route at all: every table without one shares this root (never written after it is made).
    private static readonly int[] EmptyRoot = new int[Stride];

    // Chunks of 256 entries back to back, the root first. Entry encoding: 0 = no route; > 0 = index + 1 into
    // _routes; < 0 = ~chunk of the next level.
    private readonly int[] _chunks;
    private readonly Route[] _routes;

    public string Name { get; }
    public IReadOnlyList<Route> Routes => _routes;
    public int Count => _routes.Length;
    /// <summary>Bytes held by the trie, for the memory figures in the benchmarks (a shared empty root counts zero).</summary>
    public long FootprintBytes => ReferenceEquals(_chunks, EmptyRoot) ? 0 : 4L * _chunks.Length;

    private RouteTable(string name, Route[] routes, int[] chunks)
    {
        Name = name; _routes = routes; _chunks = chunks;
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
        if (list.Count == 0) return new RouteTable(name, [], EmptyRoot);
        // Shorter prefixes first: a longer one then simply overwrites the expanded slots it covers, and a chunk made
        // for a longer one starts as a copy of the shorter route that covered its slot.
        list.Sort(static (a, b) => a.Destination.Length != b.Destination.Length
            ? a.Destination.Length.CompareTo(b.Destination.Length)
            : a.Destination.Network.CompareTo(b.Destination.Network));

        var chunks = new List<int>(Stride);
        for (int k = 0; k < Stride; k++) chunks.Add(0);
        for (int i = 0; i < list.Count; i++)
        {
            var p = list[i].Destination;
            var addr = p.Network.Value;
            // Walk down one byte per level until the level whose byte the prefix ends in, making chunks on the way.
            var chunk = 0;
            var level = 0;
            while (p.Length > 8 * (level + 1))
            {
                var at = (chunk << 8) | (int)((addr >> (24 - 8 * level)) & 0xFF);
                var slot = chunks[at];
                if (slot >= 0)
                {
                    var made = chunks.Count >> 8;
                    for (int k = 0; k < Stride; k++) chunks.Add(slot);
                    chunks[at] = ~made;
                    chunk = made;
                }
                else chunk = ~slot;
                level++;
            }
            var start = (int)((addr >> (24 - 8 * level)) & 0xFF);
            var span = 1 << (8 * (level + 1) - p.Length);
            for (int k = 0; k < span; k++) chunks[(chunk << 8) + start + k] = i + 1;
        }
        return new RouteTable(name, list.ToArray(), chunks.ToArray());
    }

    /// <summary>Longest-prefix match: at most four dependent array reads. False when no route (not even a default) covers the address.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryLookup(Ipv4Address destination, out Route route)
    {
        var t = _chunks;
        var ip = destination.Value;
        var e = t[ip >> 24];
        if (e < 0)
        {
            e = t[(~e << 8) | (int)((ip >> 16) & 0xFF)];
            if (e < 0)
            {
                e = t[(~e << 8) | (int)((ip >> 8) & 0xFF)];
                if (e < 0) e = t[(~e << 8) | (int)(ip & 0xFF)];
            }
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
