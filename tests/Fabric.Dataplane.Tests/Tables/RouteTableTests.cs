using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Tables;
using Fabric.Dataplane.Tests.Packets;

namespace Fabric.Dataplane.Tests.Tables;

public class RouteTableTests
{
    private static Route R(string cidr, RouteTarget? t = null) => new(Ipv4Prefix.Parse(cidr), t ?? RouteTarget.Blackhole);

    [Fact]
    public void Longest_prefix_match_across_all_three_trie_levels()
    {
        var t = RouteTable.Build("t", [R("0.0.0.0/0"), R("10.0.0.0/8"), R("10.1.0.0/16"), R("10.1.2.0/24"), R("10.1.2.128/25"), R("10.1.2.200/32")]);
        string Match(string ip) => t.TryLookup(Ipv4Address.Parse(ip), out var r) ? r.Destination.ToString() : "none";
        Assert.Equal("0.0.0.0/0", Match("11.0.0.1"));
        Assert.Equal("10.0.0.0/8", Match("10.2.0.1"));
        Assert.Equal("10.1.0.0/16", Match("10.1.3.1"));
        Assert.Equal("10.1.2.0/24", Match("10.1.2.1"));
        Assert.Equal("10.1.2.128/25", Match("10.1.2.129"));
        Assert.Equal("10.1.2.200/32", Match("10.1.2.200"));
        Assert.Equal("10.1.2.128/25", Match("10.1.2.201"));
    }

    [Fact]
    public void No_route_without_a_default()
    {
        var t = RouteTable.Build("t", [R("10.0.0.0/8")]);
        Assert.False(t.TryLookup(Ipv4Address.Parse("11.0.0.1"), out _));
    }

    [Fact]
    public void The_local_route_is_implicit_and_cannot_be_overridden()
    {
        var local = Ipv4Prefix.Parse("10.20.0.0/16");
        var t = RouteTable.Build("main", [R("0.0.0.0/0")], local);
        Assert.True(t.TryLookup(Ipv4Address.Parse("10.20.9.9"), out var r));
        Assert.Equal(RouteTargetKind.Local, r.Target.Kind);
        Assert.Throws<ArgumentException>(() => RouteTable.Build("main", [R("10.20.0.0/16")], local));
        Assert.Throws<ArgumentException>(() => RouteTable.Build("main", [R("10.20.5.0/24")], local));
        Assert.Throws<ArgumentException>(() => RouteTable.Build("main", [R("10.20.5.5/32")], local));
    }

    [Fact]
    public void Duplicate_destinations_are_refused()
        => Assert.Throws<ArgumentException>(() => RouteTable.Build("t", [R("10.0.0.0/8"), R("10.0.0.0/8", RouteTarget.ToNetwork(3))]));

    /// <summary>
    /// 10,000 routes of every length, half of them nested around 64 centres anywhere in the address space: every
    /// route's first and last address, the addresses just outside it, and random ones near it resolve to exactly the
    /// route a naive longest-prefix search names (not merely one at least as long).
    /// </summary>
    [Fact]
    public void Ten_thousand_routes_build_and_resolve_to_exactly_the_longest_match()
    {
        var rng = new Random(7);
        var centres = Enumerable.Range(0, 64).Select(_ => (uint)rng.NextInt64(0, 1L << 32)).ToArray();
        var routes = new Dictionary<Ipv4Prefix, Route>();
        while (routes.Count < 10_000)
        {
            var near = rng.Next(2) == 0;
            var a = near ? RouteCase.Near(centres[rng.Next(centres.Length)], rng.Next(0, 33), (uint)rng.NextInt64(0, 1L << 32)) : (uint)rng.NextInt64(0, 1L << 32);
            var p = new Ipv4Prefix(new Ipv4Address(a), near ? rng.Next(0, 33) : rng.Next(8, 33));
            routes.TryAdd(p, new Route(p, RouteTarget.ToNetwork(routes.Count + 1)));
        }
        var t = RouteTable.Build("big", routes.Values);
        var probes = routes.Keys.SelectMany(p => new[] { p.Network.Value, p.Broadcast.Value, p.Network.Value - 1, p.Broadcast.Value + 1 })
            .Concat(Enumerable.Range(0, 20_000).Select(_ => RouteCase.Near(centres[rng.Next(centres.Length)], rng.Next(0, 33), (uint)rng.NextInt64(0, 1L << 32))))
            .Concat(Enumerable.Range(0, 5_000).Select(_ => (uint)rng.NextInt64(0, 1L << 32)));
        var checkedCount = 0;
        foreach (var a in probes)
        {
            var ip = new Ipv4Address(a);
            // Naive: try every length from 32 down to 0 (independent of the trie's levels and expansion).
            Route? expected = null;
            for (int len = 32; len >= 0 && expected is null; len--)
                if (routes.TryGetValue(new Ipv4Prefix(ip, len), out var r)) expected = r;
            var found = t.TryLookup(ip, out var actual);
            Assert.True(found == expected.HasValue, $"{ip}: trie {(found ? actual.Destination.ToString() : "none")}, expected {expected?.Destination.ToString() ?? "none"}");
            if (found) Assert.True(actual == expected!.Value, $"{ip}: trie {actual.Destination} → {actual.Target.Vni}, expected {expected!.Value.Destination} → {expected.Value.Target.Vni}");
            checkedCount++;
        }
        Assert.True(checkedCount > 60_000);
    }

    /// <summary>
    /// The trie agrees with a naive scan over every route, for random tables and addresses anywhere in the 32-bit
    /// space: prefixes of every length 0–32 nested around a few random centres, probed near the centres, at and just
    /// outside every route's edges, and uniformly. So all three trie levels see indices across their whole range.
    /// </summary>
    [Property(MaxTest = 400, Arbitrary = [typeof(RouteArbitraries)])]
    public void Trie_lookup_equals_naive_longest_prefix_scan(RouteCase c)
    {
        var routes = c.Routes;
        var t = RouteTable.Build("p", routes);
        var addresses = c.Probes
            .Concat(routes.SelectMany(r => new[] { r.Destination.Network.Value, r.Destination.Broadcast.Value, r.Destination.Network.Value - 1, r.Destination.Broadcast.Value + 1 }));
        foreach (var a in addresses)
        {
            var ip = new Ipv4Address(a);
            var expected = routes.Where(r => r.Destination.Contains(ip)).OrderByDescending(r => r.Destination.Length).Cast<Route?>().FirstOrDefault();
            var found = t.TryLookup(ip, out var r);
            Assert.True(found == expected.HasValue, $"{ip}: trie {(found ? r.Destination.ToString() : "none")}, expected {expected?.Destination.ToString() ?? "none"}");
            if (found) Assert.True(r == expected!.Value, $"{ip}: trie {r.Destination}, expected {expected!.Value.Destination}");
        }
    }
}

/// <summary>A route table and the addresses to look up in it (see <see cref="RouteArbitraries"/>).</summary>
public sealed record RouteCase(Route[] Routes, uint[] Probes)
{
    /// <summary>An address sharing its first <paramref name="commonBits"/> bits with <paramref name="centre"/>, the rest from <paramref name="noise"/>.</summary>
    public static uint Near(uint centre, int commonBits, uint noise)
    {
        var keep = Ipv4Prefix.MaskOf(commonBits);
        return (centre & keep) | (noise & ~keep);
    }

    public override string ToString()
        => $"routes [{string.Join(", ", Routes.Select(r => $"{r.Destination}→{r.Target.Vni}"))}] probes [{string.Join(", ", Probes.Select(p => new Ipv4Address(p).ToString()))}]";
}

/// <summary>
/// Route tables clustered around 1–4 random centres anywhere in the 32-bit space (so prefixes nest and compete),
/// with some prefixes anywhere at all; lengths 0–32; probes near the centres and uniform.
/// </summary>
public static class RouteArbitraries
{
    private static readonly Gen<uint> Any = WideArbitraries.AnyUInt32;

    public static Gen<RouteCase> Cases { get; } =
        from centres in Gen.Choose(1, 4).SelectMany(n => Gen.ArrayOf(Any, n))
        from routeCount in Gen.Choose(0, 40)
        from prefixes in Gen.ArrayOf(Prefix(centres), routeCount)
        from probes in Gen.ArrayOf(Gen.Frequency((3, NearOneOf(centres)), (1, Any)), 48)
        select Build(prefixes, probes);

    private static Gen<uint> NearOneOf(uint[] centres) =>
        from c in Gen.Elements(centres)
        from common in Gen.Choose(0, 32)
        from noise in Any
        select RouteCase.Near(c, common, noise);

    private static Gen<Ipv4Prefix> Prefix(uint[] centres) =>
        from a in Gen.Frequency((4, NearOneOf(centres)), (1, Any))
        from length in Gen.Choose(0, 32)
        select new Ipv4Prefix(new Ipv4Address(a), length);

    private static RouteCase Build(Ipv4Prefix[] prefixes, uint[] probes)
    {
        var routes = new Dictionary<Ipv4Prefix, Route>();
        foreach (var p in prefixes) routes.TryAdd(p, new Route(p, RouteTarget.ToNetwork(routes.Count + 1)));
        return new RouteCase(routes.Values.ToArray(), probes);
    }

    public static Arbitrary<RouteCase> RouteCases() => Cases.ToArbitrary();
}
