using System.Collections.Immutable;
using Akka.Actor;
using Fabric.Actors.Locations;
using Fabric.Dataplane.Packets;
using static Fabric.Actors.Tests.Node.InProcessCluster;

namespace Fabric.Actors.Tests.Node;

/// <summary>EVPN duplicate detection across the cluster: a MAC that moves too often is frozen and alarmed everywhere.</summary>
/// <remarks>
/// No sleeps: the test waits for what it needs to have happened, read from each node's directory as its subscribers
/// see it (the replicated view, after pins), by mobility sequence number, and uses a write from the node concerned,
/// seen everywhere, as the barrier before asserting that nothing else changed.
/// </remarks>
[Collection("cluster")]
public class MobilityClusterTests
{
    /// <summary>What one node's directory last told its subscribers.</summary>
    private sealed class Seen
    {
        public volatile ImmutableDictionary<int, ImmutableDictionary<string, EndpointLocation>> ByVni = ImmutableDictionary<int, ImmutableDictionary<string, EndpointLocation>>.Empty;

        public EndpointLocation? Get(int vni, string key) => ByVni.GetValueOrDefault(vni)?.GetValueOrDefault(key);
    }

    private sealed class Watcher : ReceiveActor
    {
        public Watcher(Seen seen) => Receive<LocationsChanged>(l => seen.ByVni = seen.ByVni.SetItem(l.Vni, l.Locations));
    }

    [Fact]
    public async Task Six_moves_inside_180_seconds_freeze_the_entry_and_raise_the_alarm_on_every_node()
    {
        await using var c = new InProcessCluster(3);
        await c.StartAllAsync();
        var mac = MacAddress.Parse("02:00:00:00:77:01");
        var key = EndpointLocation.KeyOf(5001, mac);
        var seen = new Seen[3];
        for (int n = 0; n < 3; n++)
        {
            var mine = seen[n] = new Seen(); // the actor is made later, on its own thread: it must not read n
            var watcher = c[n].System.ActorOf(Props.Create(() => new Watcher(mine)));
            // One map per VNI: the moving MAC's and the barrier's.
            c[n].Locations.Tell(new SubscribeLocations(5001, watcher));
            c[n].Locations.Tell(new SubscribeLocations(5002, watcher));
        }
        EndpointLocation? Replicated(int node) => seen[node].Get(5001, key);
        EndpointLocation? Where(int node) => c[node].Locations.Ask<LocationsChanged>(new GetLocations(5001), TimeSpan.FromSeconds(3)).Result
            .Locations.GetValueOrDefault(key);

        void Announce(int node)
        {
            var rt = c[node];
            rt.Locations.Tell(new AnnounceLocation(new EndpointLocation(5001, mac, Ipv4Address.Parse("10.1.0.9"), rt.Self.Vtep, rt.Self.Name, 0, LocationOrigin.GratuitousArp)));
        }

        // A write from `node` seen by every node: everything that node wrote before has been seen too.
        var barriers = 0;
        async Task Barrier(int node)
        {
            var rt = c[node];
            var sentinel = new EndpointLocation(5002, MacAddress.Parse($"02:00:00:00:78:{++barriers:x2}"), default, rt.Self.Vtep, rt.Self.Name, 0, LocationOrigin.Learned);
            rt.Locations.Tell(new AnnounceLocation(sentinel));
            await Eventually(() => Enumerable.Range(0, 3).All(n => seen[n].Get(5002, sentinel.Key) is not null), TimeSpan.FromSeconds(10), $"barrier from node-{node + 1}");
        }

        // The MAC bounces between node-1 and node-2, as a looped or duplicated VM would: each node announces it.
        // The first announcement places it (sequence 0), the next five are five moves (1..5): still allowed. Each
        // move is replicated to every node before the next one starts, so every node counts the same moves and pins
        // the same place when the sixth one freezes it.
        for (int move = 0; move <= 5; move++)
        {
            var at = move % 2;
            Announce(at);
            var expected = c[at].Self.Vtep;
            await Eventually(() => Enumerable.Range(0, 3).All(n => Replicated(n) is { } l && l.Vtep == expected && l.Seq == move),
                TimeSpan.FromSeconds(10), $"move {move} replicated to every node with sequence {move}");
        }
        var lastGood = c[1].Self.Vtep;
        // The sixth move within 180 s: every node freezes the MAC where it was and raises the alarm.
        Announce(0);
        for (int n = 0; n < 3; n++)
        {
            var node = c[n];
            await Eventually(() => node.Locations.Ask<DuplicateMacAlarm[]>(GetMobilityAlarms.Instance, TimeSpan.FromSeconds(3)).Result
                .Any(a => a.Mac == mac && a.Vni == 5001), TimeSpan.FromSeconds(10), $"alarm on node-{n + 1}");
        }
        await Barrier(0); // whatever node-1 wrote after the sixth move has reached every node, and was pinned away
        for (int n = 0; n < 3; n++)
        {
            Assert.Equal(lastGood, Where(n)!.Vtep);
            Assert.Equal(5, Where(n)!.Seq); // each accepted move raised the mobility sequence by one
            Assert.Equal(lastGood, Replicated(n)!.Vtep); // and the subscribers (the VTEP actors) were told the pin
        }
        var frozenAt = lastGood;

        // A further move is refused where it is attempted, and the entry stays where it froze everywhere.
        var mover = c[1];
        var reply = await mover.Locations.Ask<LocationRefused>(new AnnounceLocation(new EndpointLocation(5001, mac,
            Ipv4Address.Parse("10.1.0.9"), mover.Self.Vtep, mover.Self.Name, 0, LocationOrigin.GratuitousArp)), TimeSpan.FromSeconds(3));
        Assert.Contains("frozen", reply.Reason);
        await Barrier(1);
        for (int n = 0; n < 3; n++)
        {
            Assert.Equal(frozenAt, Where(n)!.Vtep);
            Assert.Equal(frozenAt, Replicated(n)!.Vtep);
        }
    }
}
