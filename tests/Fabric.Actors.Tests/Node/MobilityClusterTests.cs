using Akka.Actor;
using Fabric.Actors.Locations;
using Fabric.Dataplane.Packets;
using static Fabric.Actors.Tests.Node.InProcessCluster;

namespace Fabric.Actors.Tests.Node;

/// <summary>EVPN duplicate detection across the cluster: a MAC that moves too often is frozen and alarmed everywhere.</summary>
[Collection("cluster")]
public class MobilityClusterTests
{
    [Fact]
    public async Task Six_moves_inside_180_seconds_freeze_the_entry_and_raise_the_alarm_on_every_node()
    {
        await using var c = new InProcessCluster(3);
        await c.StartAllAsync();
        var mac = MacAddress.Parse("02:00:00:00:77:01");
        var key = EndpointLocation.KeyOf(5001, mac);
        EndpointLocation? Where(int node) => c[node].Locations.Ask<LocationsChanged>(GetLocations.Instance, TimeSpan.FromSeconds(3)).Result
            .Locations.GetValueOrDefault(key);

        void Announce(int node)
        {
            var rt = c[node];
            rt.Locations.Tell(new AnnounceLocation(new EndpointLocation(5001, mac, Ipv4Address.Parse("10.1.0.9"), rt.Self.Vtep, rt.Self.Name, 0, LocationOrigin.GratuitousArp)));
        }

        // The MAC bounces between node-1 and node-2, as a looped or duplicated VM would: each node announces it.
        // The first announcement places it, the next five are five moves: still allowed.
        for (int move = 0; move <= 5; move++)
        {
            var at = move % 2;
            var rt = c[at];
            rt.Locations.Tell(new AnnounceLocation(new EndpointLocation(5001, mac, Ipv4Address.Parse("10.1.0.9"), rt.Self.Vtep, rt.Self.Name, 0, LocationOrigin.GratuitousArp)));
            var expected = rt.Self.Vtep;
            await Eventually(() => Enumerable.Range(0, 3).All(n => Where(n)?.Vtep == expected), TimeSpan.FromSeconds(5), $"move {move} converged");
            // The announcer shows its own move at once, before its replicator notifies it of the snapshot; give each
            // move a snapshot of its own so that every node pins the same place when the sixth one freezes it.
            await Task.Delay(250);
        }
        var lastGood = c[1].Self.Vtep;
        // The sixth move within 180 s: every node freezes the MAC where it was and raises the alarm.
        Announce(0);
        for (int n = 0; n < 3; n++)
        {
            var node = c[n];
            await Eventually(() => node.Locations.Ask<DuplicateMacAlarm[]>(GetMobilityAlarms.Instance, TimeSpan.FromSeconds(3)).Result
                .Any(a => a.Mac == mac && a.Vni == 5001), TimeSpan.FromSeconds(5), $"alarm on node-{n + 1}");
        }
        await Task.Delay(300);
        for (int n = 0; n < 3; n++)
        {
            Assert.Equal(lastGood, Where(n)!.Vtep);
            Assert.Equal(5, Where(n)!.Seq); // each accepted move raised the mobility sequence by one
        }
        var frozenAt = lastGood;

        // A further move is refused where it is attempted, and the entry stays where it froze everywhere.
        var mover = c[1];
        var reply = await mover.Locations.Ask<LocationRefused>(new AnnounceLocation(new EndpointLocation(5001, mac,
            Ipv4Address.Parse("10.1.0.9"), mover.Self.Vtep, mover.Self.Name, 0, LocationOrigin.GratuitousArp)), TimeSpan.FromSeconds(3));
        Assert.Contains("frozen", reply.Reason);
        await Task.Delay(300);
        for (int n = 0; n < 3; n++) Assert.Equal(frozenAt, Where(n)!.Vtep);
    }
}
