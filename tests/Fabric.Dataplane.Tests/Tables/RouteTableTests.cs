using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Tables;

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

    [Fact]
    public void Ten_thousand_routes_build_and_resolve()
    {
        var rng = new Random(7);
        var routes = new Dictionary<Ipv4Prefix, Route>();
        while (routes.Count < 10_000)
        {
            var p = new Ipv4Prefix(new Ipv4Address((uint)rng.NextInt64(0, 1L << 32)), rng.Next(8, 33));
            routes.TryAdd(p, new Route(p, RouteTarget.ToNetwork(routes.Count + 1)));
        }
        var t = RouteTable.Build("big", routes.Values);
        foreach (var r in routes.Values.Take(500))
        {
            Assert.True(t.TryLookup(r.Destination.Network, out var found));
            Assert.True(found.Destination.Length >= r.Destination.Length);
        }
    }

    /// <summary>The trie agrees with a naive scan over every route, for random tables and random addresses.</summary>
    [Property(MaxTest = 300)]
    public bool Trie_lookup_equals_naive_longest_prefix_scan(uint[] seeds, byte[] lengths, uint[] probes)
    {
        var routes = new Dictionary<Ipv4Prefix, Route>();
        for (int i = 0; i < Math.Min(seeds.Length, lengths.Length); i++)
        {
            var p = new Ipv4Prefix(new Ipv4Address(seeds[i]), lengths[i] % 33);
            routes.TryAdd(p, new Route(p, RouteTarget.ToNetwork(i + 1)));
        }
        var t = RouteTable.Build("p", routes.Values);
        var addresses = probes.Concat(routes.Keys.Select(k => k.Network.Value)).Concat(routes.Keys.Select(k => k.Broadcast.Value));
        foreach (var a in addresses)
        {
            var ip = new Ipv4Address(a);
            var expected = routes.Values.Where(r => r.Destination.Contains(ip)).OrderByDescending(r => r.Destination.Length).Cast<Route?>().FirstOrDefault();
            var found = t.TryLookup(ip, out var r);
            if (found != expected.HasValue) return false;
            if (found && r != expected!.Value) return false;
        }
        return true;
    }
}
