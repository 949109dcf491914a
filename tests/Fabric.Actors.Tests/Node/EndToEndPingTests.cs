using Fabric.Actors.Intent;
using Fabric.Actors.Node;
using static Fabric.Actors.Tests.Node.InProcessCluster;

namespace Fabric.Actors.Tests.Node;

/// <summary>
/// The whole stack below HTTP: configuration through the singleton, ports plugged by each node's port manager,
/// forwarding state from the VTEP actors, and real VXLAN between the nodes' dataplane engines on loopback. A guest
/// pings another guest on another node, through the node that hosts it, asked from a third.
/// </summary>
[Collection("cluster")]
public class EndToEndPingTests
{
    [Fact]
    public async Task Guests_on_different_nodes_ping_across_the_fabric_before_and_after_a_move()
    {
        await using var c = new InProcessCluster(3, dataplane: true);
        await c.StartAllAsync();
        var net = ((NetworkCreated)(await c.Accept(new CreateNetwork("vpc", 7001, "l3", "10.20.0.0/16"))).Events[0]).Network.Id;
        var web = ((SubnetCreated)(await c.Accept(new CreateSubnet(net, "web", "10.20.1.0/24"))).Events[0]).Subnet.Id;
        var db = ((SubnetCreated)(await c.Accept(new CreateSubnet(net, "db", "10.20.2.0/24"))).Events[0]).Subnet.Id;
        var a = ((EndpointCreated)(await c.Accept(new CreateEndpoint("a", net, "node-1", new EndpointPortSpec("guest"), Subnet: web))).Events[0]).Endpoint;
        var b = ((EndpointCreated)(await c.Accept(new CreateEndpoint("b", net, "node-2", new EndpointPortSpec("guest"), Subnet: db))).Events[0]).Endpoint;
        for (int i = 0; i < 3; i++)
        {
            var rt = c[i];
            await Eventually(() => rt.Snapshots.Current.TryGetNetwork(7001, out var n) && n.Fdb.Count == 2, TimeSpan.FromSeconds(10), $"node-{i + 1} ready");
        }

        // Asked on node-3, run on node-1 where a lives, answered by b on node-2: routed between subnets.
        var r = await c[2].AskNodeAsync<PingReply>("node-1", new PingFromEndpoint(a.Id, b.Ip!.Value.ToString(), 5, 9), "ports");
        Assert.Null(r.Error);
        Assert.Equal(5, r.Received);
        Assert.All(r.ReplyTtl, t => Assert.Equal(64, t)); // b answers with its own TTL; the fabric never decrements
        Assert.True(r.RttMs.Order().ElementAt(2) < 50, $"median {r.RttMs.Order().ElementAt(2)} ms");

        // b moves to node-3; its new node announces it; a reaches it there.
        await c.Accept(new MoveEndpoint(b.Id, "node-3"));
        var v3 = c[2].Self.Vtep;
        await Eventually(() => c[0].Snapshots.Current.Networks[7001].Fdb.TryGet(b.Mac, out var e) && e.Location.IsRemote && e.Location.Vtep == v3,
            TimeSpan.FromSeconds(5), "node-1 sends to node-3");
        var again = await c[1].AskNodeAsync<PingReply>("node-1", new PingFromEndpoint(a.Id, b.Ip!.Value.ToString(), 3, 64), "ports");
        Assert.Equal(3, again.Received);
        Assert.True(c[2].Engine!.Counters.Packets > 0);
    }
}
