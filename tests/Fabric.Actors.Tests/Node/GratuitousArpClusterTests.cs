using Akka.Actor;
using Fabric.Actors.Intent;
using Fabric.Actors.Locations;
using Fabric.Actors.Node;
using Fabric.Actors.Vtep;
using Fabric.Dataplane.Events;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Tables;
using static Fabric.Actors.Tests.Node.InProcessCluster;

namespace Fabric.Actors.Tests.Node;

/// <summary>
/// What the VTEP actors make of the dataplane's events, across the cluster: a MAC learned on a port spreads to every
/// node; a gratuitous ARP from another node's port moves it there with a higher sequence; a conflict is an alarm.
/// The events are written into each node's live dataplane event ring, as the pipeline writes them, so the node's
/// event pump drains them and hands them to the VTEP actors: the same path a frame's event takes. The engines have
/// no ports and no peer sends them anything, so the test is the ring's only producer (it is single-producer).
/// </summary>
[Collection("cluster")]
public class GratuitousArpClusterTests
{
    private static void Inject(FabricRuntime rt, DataplaneEvent e)
    {
        var engine = rt.Engine!;
        Assert.Equal(0, engine.Counters.Packets); // no frame ever reached this engine: its thread writes no events
        Assert.True(engine.Events.TryWrite(e), "event ring full");
    }

    private static Location? At(FabricRuntime rt, int vni, MacAddress mac)
        => rt.Snapshots.Current.TryGetNetwork(vni, out var n) && n.Fdb.TryGet(mac, out var e) ? e.Location : null;

    private static long SeqAt(FabricRuntime rt, int vni, MacAddress mac)
        => rt.Snapshots.Current.TryGetNetwork(vni, out var n) && n.Fdb.TryGet(mac, out var e) ? e.Sequence : -1;

    [Fact]
    public async Task A_learned_mac_spreads_and_a_gratuitous_arp_elsewhere_moves_it_with_a_higher_sequence()
    {
        await using var c = new InProcessCluster(3, dataplane: true);
        await c.StartAllAsync();
        var blue = ((NetworkCreated)(await c.Accept(new CreateNetwork("blue", 5001, "l2", null))).Events[0]).Network.Id;
        // A node holds only networks it has an endpoint in (conditional monitoring): one idle guest on each node.
        for (int i = 0; i < 3; i++)
            await c.Accept(new CreateEndpoint($"anchor-{i + 1}", blue, $"node-{i + 1}", new EndpointPortSpec("guest")));
        for (int i = 0; i < 3; i++)
        {
            var rt = c[i];
            await Eventually(() => rt.Snapshots.Current.TryGetNetwork(5001, out _), TimeSpan.FromSeconds(10), "network on every node");
        }
        // A VM behind a bridge port on node-1 (no configured endpoint): the dataplane learns its MAC there.
        var mac = MacAddress.Parse("02:00:00:00:44:01");
        var ip = Ipv4Address.Parse("10.1.0.44");
        Inject(c[0], new DataplaneEvent(DataplaneEventKind.MacLearned, 5001, mac, default, Location.Local(7)));
        var v1 = c[0].Self.Vtep;
        await Eventually(() => At(c[1], 5001, mac) == Location.Remote(v1) && At(c[2], 5001, mac) == Location.Remote(v1),
            TimeSpan.FromSeconds(5), "node-2 and node-3 send the MAC to node-1");
        Assert.Equal(Location.Local(7), At(c[0], 5001, mac));
        var before = SeqAt(c[1], 5001, mac);

        // It migrates to node-3, whose hypervisor side announces it with a gratuitous ARP.
        Inject(c[2], new DataplaneEvent(DataplaneEventKind.GratuitousArp, 5001, mac, ip, Location.Local(3)));
        var v3 = c[2].Self.Vtep;
        await Eventually(() => At(c[0], 5001, mac) == Location.Remote(v3) && At(c[1], 5001, mac) == Location.Remote(v3),
            TimeSpan.FromSeconds(5), "node-1 and node-2 follow the move to node-3");
        Assert.True(SeqAt(c[1], 5001, mac) > before, "the move raised the mobility sequence");
        // Its IP came with the announcement: ARP suppression on node-2 can now answer for it.
        Assert.True(c[1].Snapshots.Current.Networks[5001].Neighbours.TryGet(ip, out var owner) && owner == mac);
    }

    [Fact]
    public async Task An_address_conflict_from_the_dataplane_raises_an_alarm_with_both_claimants()
    {
        await using var c = new InProcessCluster(1, dataplane: true);
        await c.StartAllAsync();
        var blue = ((NetworkCreated)(await c.Accept(new CreateNetwork("blue", 5001, "l2", null))).Events[0]).Network.Id;
        await c.Accept(new CreateEndpoint("anchor", blue, "node-1", new EndpointPortSpec("guest")));
        await Eventually(() => c[0].Snapshots.Current.TryGetNetwork(5001, out _), TimeSpan.FromSeconds(10), "network");
        var claimant = MacAddress.Parse("02:00:00:00:55:01");
        var owner = MacAddress.Parse("02:00:00:00:55:02");
        var ip = Ipv4Address.Parse("10.1.0.55");
        Inject(c[0], new DataplaneEvent(DataplaneEventKind.AddressConflict, 5001, claimant, ip, Location.Local(2), owner));
        var vtep = await c[0].System.ActorSelection("/user/vteps").Ask<IActorRef>(new GetVtep(5001), TimeSpan.FromSeconds(3));
        AddressConflictAlarm[] alarms = [];
        await Eventually(() => (alarms = vtep.Ask<AddressConflictAlarm[]>(GetConflictAlarms.Instance, TimeSpan.FromSeconds(3)).Result).Length > 0,
            TimeSpan.FromSeconds(5), "alarm raised");
        var a = Assert.Single(alarms);
        Assert.Equal((claimant, owner, ip, "node-1"), (a.Claimant, a.Owner, a.Ip, a.Node));
    }
}
