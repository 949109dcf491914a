using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Engine;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Ports.Guest;
using Fabric.Dataplane.Tables;

namespace Fabric.Dataplane.Tests.Engine;

/// <summary>Two dataplane engines with real UDP sockets on loopback: guests ping each other through real VXLAN.</summary>
public class DataplaneEngineTests
{
    private static readonly Ipv4Prefix Cidr = Ipv4Prefix.Parse("10.20.0.0/16");
    private static readonly Ipv4Prefix[] Subnets = [Ipv4Prefix.Parse("10.20.1.0/24"), Ipv4Prefix.Parse("10.20.2.0/24")];

    private static (EngineNode[] Nodes, GuestMachine[] Guests) Build(NetworkKind kind, params PlacedEndpoint[] eps)
    {
        var nodes = new[] { new EngineNode(EngineNode.FreeLoopbackVtep()), new EngineNode(EngineNode.FreeLoopbackVtep()) };
        Fabrics.Publish(nodes, 7001, kind, Cidr, Subnets, eps);
        var guests = eps.Select(e => new GuestMachine(e.Mac, e.Ip, Subnets[e.Subnet], Subnets[e.Subnet].FirstHost)).ToArray();
        for (int i = 0; i < eps.Length; i++)
            nodes[eps[i].Node].Engine.AddPortAsync(new GuestPort(eps[i].Port, eps[i].Name, guests[i])).Wait(TimeSpan.FromSeconds(5));
        return (nodes, guests);
    }

    private static readonly PlacedEndpoint Web1 = new("web1", 0, 1, MacAddress.Parse("02:00:00:00:20:10"), Ipv4Address.Parse("10.20.1.10"), 0);
    private static readonly PlacedEndpoint Web2 = new("web2", 1, 1, MacAddress.Parse("02:00:00:00:20:20"), Ipv4Address.Parse("10.20.1.20"), 0);
    private static readonly PlacedEndpoint Db1 = new("db1", 1, 2, MacAddress.Parse("02:00:00:00:22:10"), Ipv4Address.Parse("10.20.2.10"), 1);

    [Fact]
    public async Task Guests_on_two_nodes_ping_each_other_through_the_udp_underlay_in_an_l3_network()
    {
        var (nodes, guests) = Build(NetworkKind.L3, Web1, Web2, Db1);
        try
        {
            var same = await guests[0].PingAsync(Web2.Ip, count: 5);
            Assert.Equal(5, same.Received);
            var routed = await guests[0].PingAsync(Db1.Ip, count: 3, ttl: 9);
            Assert.Equal(3, routed.Received);
            Assert.All(routed.ReplyTtl, t => Assert.Equal(64, t)); // the reply's TTL is the sender's own, untouched
            Assert.True(nodes[0].Underlay.Datagrams > 0 && nodes[1].Underlay.Datagrams > 0);
            Assert.Equal(0, nodes[0].Underlay.SendErrors);
        }
        finally { foreach (var n in nodes) n.Dispose(); }
    }

    [Fact]
    public async Task A_guest_pings_its_gateway_and_not_the_other_subnets_gateway()
    {
        var (nodes, guests) = Build(NetworkKind.L3, Web1, Web2);
        try
        {
            Assert.Equal(2, (await guests[0].PingAsync(Ipv4Address.Parse("10.20.1.1"), count: 2)).Received);
            Assert.Equal(0, (await guests[0].PingAsync(Ipv4Address.Parse("10.20.2.1"), count: 1, timeout: TimeSpan.FromMilliseconds(300))).Received);
            Assert.True(nodes[0].Holder.Current.Networks[7001].Counters.Drop(DropReason.OtherSubnetGateway) >= 1);
        }
        finally { foreach (var n in nodes) n.Dispose(); }
    }

    [Fact]
    public async Task Guests_on_two_nodes_ping_each_other_in_an_l2_network_with_flooded_arp()
    {
        var w1 = Web1 with { Subnet = 0 };
        var w2 = Web2 with { Subnet = 0 };
        var nodes = new[] { new EngineNode(EngineNode.FreeLoopbackVtep()), new EngineNode(EngineNode.FreeLoopbackVtep()) };
        try
        {
            // l2 with no neighbour entries: ARP really floods over the underlay and the far guest answers it.
            for (int n = 0; n < 2; n++)
            {
                var b = new NetworkStateBuilder(5001, "blue", NetworkKind.L2) { LocalVtep = nodes[n].Vtep }.Member(nodes[0].Vtep).Member(nodes[1].Vtep);
                var ep = n == 0 ? w1 : w2;
                b.LocalPort(ep.Port);
                nodes[n].Holder.Publish(ForwardingSnapshot.Create(nodes[n].Vtep, [b.Build()],
                    [new PortState(ep.Port, ep.Name, 5001, ep.Mac, ep.Ip, true, -1, new PortCounters())]));
            }
            var g1 = new GuestMachine(w1.Mac, w1.Ip, Subnets[0]);
            var g2 = new GuestMachine(w2.Mac, w2.Ip, Subnets[0]);
            await nodes[0].Engine.AddPortAsync(new GuestPort(1, "g1", g1));
            await nodes[1].Engine.AddPortAsync(new GuestPort(1, "g2", g2));
            var r = await g1.PingAsync(w2.Ip, count: 3);
            Assert.Equal(3, r.Received);
            Assert.True(nodes[0].Holder.Current.Networks[5001].Counters.Flooded >= 1);
            // Both sides reported what they learned over the underlay.
            Assert.True(nodes[1].Engine.Events.Count > 0);
        }
        finally { foreach (var n in nodes) n.Dispose(); }
    }

    [Fact]
    public async Task The_engine_stops_cleanly_and_ports_can_be_removed_while_running()
    {
        var (nodes, guests) = Build(NetworkKind.L3, Web1, Web2);
        try
        {
            Assert.Equal(1, (await guests[0].PingAsync(Web2.Ip, count: 1)).Received);
            await nodes[1].Engine.RemovePortAsync(Web2.Port);
            Assert.Equal(0, (await guests[0].PingAsync(Web2.Ip, count: 1, timeout: TimeSpan.FromMilliseconds(200))).Received);
            Assert.True(nodes[1].Engine.TxToMissingPort >= 1);
        }
        finally { foreach (var n in nodes) n.Dispose(); }
        Assert.False(nodes[0].Engine.Running);
    }

    [Fact]
    public async Task Port_commands_racing_a_stop_neither_throw_nor_hang_nor_leak_a_port()
    {
        // Seen in the chaos suite: a node shutting down stopped its engine while its port manager, stopping too,
        // removed ports; the cleanup enumerated the port list as it changed ("Collection was modified").
        for (var round = 0; round < 20; round++)
        {
            using var node = new EngineNode(EngineNode.FreeLoopbackVtep());
            var guests = Enumerable.Range(0, 16).Select(i => new GuestPort(i, $"g{i}",
                new GuestMachine(new MacAddress(0x0200_0000_0000UL + (ulong)i), new Ipv4Address(0x0A14_0100u | (uint)(i + 10)), Subnets[0], Subnets[0].FirstHost))).ToArray();
            foreach (var g in guests.Take(8)) await node.Engine.AddPortAsync(g);
            using var go = new ManualResetEventSlim();
            var removals = Enumerable.Range(0, 8).Select(i => Task.Run(() => { go.Wait(); return node.Engine.RemovePortAsync(i); })).ToArray();
            var additions = guests.Skip(8).Select(g => Task.Run(() => { go.Wait(); return node.Engine.AddPortAsync(g); })).ToArray();
            var stop = Task.Run(() => { go.Wait(); node.Engine.Stop(); });
            go.Set();
            await stop;
            var all = removals.Concat(additions).ToArray();
            // Every command completes (late additions fail with ObjectDisposedException), none hangs.
            await Task.WhenAny(Task.WhenAll(all.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default))), Task.Delay(TimeSpan.FromSeconds(10)));
            Assert.True(all.All(t => t.IsCompleted), $"round {round}: a port command never completed");
            foreach (var t in all.Where(t => t.IsFaulted))
                Assert.IsType<ObjectDisposedException>(t.Exception!.InnerException);
            Assert.False(node.Engine.Running);
        }
    }

    [Fact]
    public void The_dataplane_thread_can_be_pinned_to_a_core()
    {
        using var node = new EngineNode(EngineNode.FreeLoopbackVtep(), new EngineOptions { Cpu = 0 });
        var status = File.ReadAllText($"/proc/{Environment.ProcessId}/task/{node.Engine.ThreadId}/status");
        var allowed = status.Split('\n').Single(l => l.StartsWith("Cpus_allowed_list:")).Split(':')[1].Trim();
        Assert.Equal("0", allowed);
    }
}
