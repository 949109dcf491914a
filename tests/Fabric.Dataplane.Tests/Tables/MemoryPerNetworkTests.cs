using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Tables;

namespace Fabric.Dataplane.Tests.Tables;

/// <summary>
/// Issue 10: a network a node holds costs under 20 KB, with nothing it does not use allocated up front, and a change
/// to one network costs the snapshot O(that network), not O(every network). Allocation is an upper bound of what is
/// retained, so these bound what a network keeps.
/// </summary>
public class MemoryPerNetworkTests
{
    private static readonly VtepEndpoint Self = new(Ipv4Address.Parse("192.0.2.1"));
    private static readonly VtepEndpoint Peer = new(Ipv4Address.Parse("192.0.2.2"));

    private static NetworkState TwoEndpointNetwork(int vni, bool l3)
    {
        var b = l3
            ? new NetworkStateBuilder(vni, $"n{vni}", NetworkKind.L3, Ipv4Prefix.Parse("10.1.0.0/16")) { LocalVtep = Self }.Subnet("s", Ipv4Prefix.Parse("10.1.1.0/24"))
            : new NetworkStateBuilder(vni, $"n{vni}", NetworkKind.L2) { LocalVtep = Self };
        b.AcceptFrom(Self).AcceptFrom(Peer).Member(Peer);
        b.Endpoint(new MacAddress(0x020000000001UL), Ipv4Address.Parse("10.1.1.10"), Location.Local(1));
        b.Endpoint(new MacAddress(0x020000000002UL), Ipv4Address.Parse("10.1.1.11"), Location.Remote(Peer), EntrySource.Gossip);
        return b.Build();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Building_a_network_with_two_endpoints_allocates_under_20_KB(bool l3)
    {
        TwoEndpointNetwork(5000, l3); // JIT and static tables out of the way
        var before = GC.GetAllocatedBytesForCurrentThread();
        var state = TwoEndpointNetwork(5001, l3);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 20_000, $"an {(l3 ? "l3" : "l2")} network with two endpoints allocated {allocated:N0} bytes to build");
        Assert.Equal(2, state.Fdb.Count);
        Assert.True(state.RouteTables.Sum(t => t.FootprintBytes) <= 4 * 1024, "route tables hold only the trie chunks their prefixes need");
    }

    [Fact]
    public void A_table_without_routes_holds_no_trie_and_a_cidr_holds_three_chunks()
    {
        Assert.Equal(0, RouteTable.Build("main", []).FootprintBytes);
        Assert.Equal(3 * 1024, RouteTable.Build("main", [], Ipv4Prefix.Parse("10.1.0.0/20")).FootprintBytes);
        var wide = RouteTable.Build("big", Enumerable.Range(0, RouteTable.WideRootRoutes + 1)
            .Select(i => new Route(new Ipv4Prefix(new Ipv4Address(0x0A000000u | (uint)i << 8), 24), RouteTarget.Blackhole)));
        Assert.True(wide.TryLookup(Ipv4Address.Parse("10.0.1.7"), out var r) && r.Destination == Ipv4Prefix.Parse("10.0.1.0/24"));
        Assert.False(wide.TryLookup(Ipv4Address.Parse("10.2.0.1"), out _));
    }

    [Fact]
    public void Installing_one_changed_network_into_a_snapshot_of_a_thousand_allocates_O_of_that_network()
    {
        var networks = Enumerable.Range(0, 1000).Select(i => TwoEndpointNetwork(100_000 + i, i % 2 == 1)).ToList();
        var ports = Enumerable.Range(1, 10_000).Select(i => new PortState(i, $"p{i}", 100_000 + i % 1000, new MacAddress(0x02UL << 40 | (uint)i), default, true, -1, new PortCounters()));
        var snapshot = ForwardingSnapshot.Create(Self, networks, ports);
        var changed = TwoEndpointNetwork(100_500, false);
        snapshot.WithNetwork(changed);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var b = snapshot.ToBuilder();
        b.SetNetwork(changed);
        b.SetPort(new PortState(77, "p77", 100_500, new MacAddress(0x02UL << 40 | 77), default, true, -1, new PortCounters()));
        b.RemovePort(78);
        var next = b.ToSnapshot(snapshot.Version + 1);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 4_000, $"one network and two ports changed in a snapshot of 1,000 networks and 10,000 ports allocated {allocated:N0} bytes");
        Assert.Same(changed, next.Networks[100_500]);
        Assert.Same(networks[3], next.Networks[100_003]);
        Assert.Same(snapshot.Ports[5], next.Ports[5]);
        Assert.Null(next.Port(78));
        Assert.Equal("p77", next.Port(77)!.Name);
        Assert.Equal(1000, next.Networks.Count);
        Assert.Equal(9_999, next.Ports.Count);
        Assert.Equal(10_000, snapshot.Ports.Count); // the live one is untouched
    }

    [Fact]
    public void A_port_must_be_attached_to_a_network_of_the_snapshot()
    {
        var b = ForwardingSnapshot.Empty.ToBuilder();
        b.SetPort(new PortState(1, "p", 5001, new MacAddress(0x020000000001UL), default, true, -1, new PortCounters()));
        Assert.Throws<ArgumentException>(() => b.ToSnapshot(1));
        Assert.Throws<ArgumentException>(() => ForwardingSnapshot.Create(Self, [TwoEndpointNetwork(5001, false)],
            [new PortState(1, "a", 5001, default, default, true, -1, new PortCounters()), new PortState(1, "b", 5001, default, default, true, -1, new PortCounters())]));
    }
}
