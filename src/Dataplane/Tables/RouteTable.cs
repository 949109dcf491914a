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
/// One VRF's IPv4 longest-prefix-match table, immutable once built. A multibit trie with controlled prefix expansion:
/// a root indexed by the first 8 bits, then one 256-entry chunk (1 KB) per further byte, made only where some prefix
/// needs it: a table with no route shares one empty root, a network's /16 to /24 CIDR costs three chunks (3 KB). A
/// table with more than <see cref="WideRootRoutes"/> routes has a 16-bit root instead (DIR-16-8-8: 256 KB, paid only
/// by big tables), so its lookups take one read less. A lookup is two to four dependent array reads and no branch on
/// prefix length; its cost does not grow with the number of routes. (The 256 KB root used to be allocated for every
/// table of every network.) The network's own CIDR is the implicit <c>local</c> route; no route may override it
/// (equal to or inside it).
/// </summary>
public sealed class RouteTable
{
    private const int Stride = 256;
    /// <summary>Above this many routes the root is indexed by 16 bits (256 KB) rather than 8 (1 KB).</summary>
    public const int WideRootRoutes = 256;
    // No route at all: every table without one shares this root (never written after it is made).
    private static readonly int[] EmptyRoot = new int[Stride];

    // The root (2^8 or 2^16 entries), then chunks of 256 entries back to back. Entry encoding: 0 = no route;
    // > 0 = index + 1 into _routes; < 0 = ~chunk of the next byte, chunk k starting at k * 256.
    private readonly int[] _chunks;
    private readonly int _rootShift;
    private readonly Route[] _routes;

    public string Name { get; }
    public IReadOnlyList<Route> Routes => _routes;
    public int Count => _routes.Length;
    /// <summary>Bytes held by the trie, for the memory figures in the benchmarks (a shared empty root counts zero).</summary>
    public long FootprintBytes => ReferenceEquals(_chunks, EmptyRoot) ? 0 : 4L * _chunks.Length;

    private RouteTable(string name, Route[] routes, int[] chunks, int rootShift)
    {
        Name = name; _routes = routes; _chunks = chunks; _rootShift = rootShift;
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
        if (list.Count == 0) return new RouteTable(name, [], EmptyRoot, 24);
        // Shorter prefixes first: a longer one then simply overwrites the expanded slots it covers, and a chunk made
        // for a longer one starts as a copy of the shorter route that covered its slot.
        list.Sort(static (a, b) => a.Destination.Length != b.Destination.Length
            ? a.Destination.Length.CompareTo(b.Destination.Length)
            : a.Destination.Network.CompareTo(b.Destination.Network));

        var rootBits = list.Count > WideRootRoutes ? 16 : 8;
        var chunks = new List<int>(1 << rootBits);
        for (int k = 0; k < 1 << rootBits; k++) chunks.Add(0);
        for (int i = 0; i < list.Count; i++)
        {
            var p = list[i].Destination;
            var addr = p.Network.Value;
            // Walk down one byte per level until the level the prefix ends in, making chunks on the way.
            var consumed = rootBits;
            var at = (int)(addr >> (32 - rootBits));
            while (p.Length > consumed)
            {
                var slot = chunks[at];
                int chunk;
                if (slot >= 0)
                {
                    chunk = chunks.Count >> 8;
                    for (int k = 0; k < Stride; k++) chunks.Add(slot);
                    chunks[at] = ~chunk;
                }
                else chunk = ~slot;
                consumed += 8;
                at = (chunk << 8) | (int)((addr >> (32 - consumed)) & 0xFF);
            }
            var span = 1 << (consumed - p.Length);
            for (int k = 0; k < span; k++) chunks[at + k] = i + 1;
        }
        return new RouteTable(name, list.ToArray(), chunks.ToArray(), 32 - rootBits);
    }

    /// <summary>Longest-prefix match: two to four dependent array reads. False when no route (not even a default) covers the address.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryLookup(Ipv4Address destination, out Route route)
    {
        var t = _chunks;
        var ip = destination.Value;
        var shift = _rootShift;
        var e = t[ip >> shift];
        while (e < 0)
        {
            shift -= 8;
            e = t[(~e << 8) | (int)((ip >> shift) & 0xFF)];
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
