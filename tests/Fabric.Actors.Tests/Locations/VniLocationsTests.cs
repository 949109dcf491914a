using Akka.Actor;
using Akka.TestKit.Xunit2;
using Fabric.Actors.Locations;
using Fabric.Dataplane.Packets;
using VtepEndpoint = Fabric.Dataplane.Tables.VtepEndpoint;

namespace Fabric.Actors.Tests.Locations;

/// <summary>
/// One VNI's sharded directory and a node's follower of it, each alone: the entity numbers what it pushes and
/// coalesces bursts; the follower applies deltas in order only, subscribes again on a gap or when the entity
/// terminates (re-sending what it owns), and keeps what a new incarnation lacks only for a grace period.
/// </summary>
public sealed class VniLocationsTests() : TestKit(Vtep.ConsumerFixtures.ClusterConfig)
{
    private static readonly VtepEndpoint Here = new(Ipv4Address.Parse("127.0.0.1"), 4789);
    private static readonly VtepEndpoint There = new(Ipv4Address.Parse("127.0.0.2"), 4789);

    private static EndpointLocation At(int mac, VtepEndpoint vtep, string node, long seq = 0, int vni = 5001)
        => new(vni, MacAddress.Parse($"02:00:00:00:00:{mac:x2}"), default, vtep, node, seq, LocationOrigin.GratuitousArp);

    [Fact]
    public void The_entity_sends_a_snapshot_then_numbered_deltas_and_a_burst_is_one_delta()
    {
        var entity = Sys.ActorOf(VniLocationsActor.Props(5001));
        var node = CreateTestProbe();
        entity.Tell(new VniAnnounce(5001, At(1, There, "node-2"), 2, ActorRefs.Nobody));
        entity.Tell(new VniSubscribe(5001, node, 1, [At(2, Here, "node-1")]));
        var snapshot = node.ExpectMsg<VniLocationsSnapshot>();
        Assert.Equal(2, snapshot.Entries.Length);
        // What was pending when the node subscribed may follow as delta 1 (it is already in the snapshot).
        node.FishForMessage<VniLocationsDelta>(d => d.Seq == 1);

        for (var i = 10; i < 20; i++) entity.Tell(new VniAnnounce(5001, At(i, There, "node-2"), 2, ActorRefs.Nobody));
        var seen = new List<VniLocationsDelta>();
        while (seen.Sum(d => d.Set.Length) < 10) seen.Add(node.ExpectMsg<VniLocationsDelta>());
        Assert.Equal(Enumerable.Range(2, seen.Count).Select(i => (long)i), seen.Select(d => d.Seq));
        Assert.True(seen.Count < 10, $"10 announces in one mailbox drain were pushed as {seen.Count} deltas");
        Assert.All(seen, d => Assert.Equal(snapshot.Epoch, d.Epoch));

        // A move raises the sequence once; the same place again changes nothing.
        entity.Tell(new VniAnnounce(5001, At(1, Here, "node-1"), 1, ActorRefs.Nobody));
        Assert.Equal(1, node.ExpectMsg<VniLocationsDelta>().Set.Single().Seq);
        entity.Tell(new VniAnnounce(5001, At(1, Here, "node-1"), 1, ActorRefs.Nobody));
        entity.Tell(new VniWithdraw(5001, MacAddress.Parse("02:00:00:00:00:02")));
        var withdrawn = node.ExpectMsg<VniLocationsDelta>();
        Assert.Empty(withdrawn.Set);
        Assert.Equal([EndpointLocation.KeyOf(5001, MacAddress.Parse("02:00:00:00:00:02"))], withdrawn.Removed);

        // An unsubscribed node hears nothing more.
        entity.Tell(new VniUnsubscribe(5001, node));
        entity.Tell(new VniAnnounce(5001, At(30, There, "node-2"), 2, ActorRefs.Nobody));
        node.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public void Re_sent_entries_never_count_as_moves_and_the_highest_sequence_wins()
    {
        var entity = Sys.ActorOf(VniLocationsActor.Props(5001));
        var node = CreateTestProbe();
        entity.Tell(new VniAnnounce(5001, At(1, There, "node-2", seq: 4), 2, ActorRefs.Nobody));
        // node-1 once owned it (sequence 3) and re-sends that on subscribing: the newer place stays, unraised.
        entity.Tell(new VniSubscribe(5001, node, 1, [At(1, Here, "node-1", seq: 3)]));
        var only = Assert.Single(node.ExpectMsg<VniLocationsSnapshot>().Entries);
        Assert.Equal((There, 4L), (only.Vtep, only.Seq));
    }

    private static EndpointLocation Configured(int mac, VtepEndpoint vtep, string node, long moveSeq)
        => At(mac, vtep, node, moveSeq) with { Origin = LocationOrigin.Config };

    [Fact]
    public void A_configured_placement_older_than_the_announced_one_is_stale_and_changes_nothing()
    {
        var entity = Sys.ActorOf(VniLocationsActor.Props(5001));
        var node = CreateTestProbe();
        entity.Tell(new VniSubscribe(5001, node, 9, []));
        node.ExpectMsg<VniLocationsSnapshot>();
        entity.Tell(new VniAnnounce(5001, Configured(1, There, "node-2", 0), 2, ActorRefs.Nobody));
        Assert.Equal(("node-2", 0L), node.ExpectMsg<VniLocationsDelta>().Set.Select(l => (l.Node, l.Seq)).Single());
        // The configuration moved it to node-1 (move 1), and node-1 announced it first ...
        entity.Tell(new VniAnnounce(5001, Configured(1, Here, "node-1", 1), 1, ActorRefs.Nobody));
        Assert.Equal(("node-1", 1L), node.ExpectMsg<VniLocationsDelta>().Set.Select(l => (l.Node, l.Seq)).Single());
        // ... then node-2's re-announcement from before the move arrives: it must not win as a move (sequence 2).
        entity.Tell(new VniAnnounce(5001, Configured(1, There, "node-2", 0), 2, ActorRefs.Nobody));
        node.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        // A GARP move raises the sequence above the configuration's; the next configured move (2) still wins.
        entity.Tell(new VniAnnounce(5001, At(1, There, "node-2", 1), 2, ActorRefs.Nobody));
        Assert.Equal(("node-2", 2L), node.ExpectMsg<VniLocationsDelta>().Set.Select(l => (l.Node, l.Seq)).Single());
        entity.Tell(new VniAnnounce(5001, Configured(1, Here, "node-1", 2), 1, ActorRefs.Nobody));
        Assert.Equal(("node-1", 3L), node.ExpectMsg<VniLocationsDelta>().Set.Select(l => (l.Node, l.Seq)).Single());
    }

    [Fact]
    public void A_withdrawal_by_an_owner_removes_only_its_own_entry()
    {
        var entity = Sys.ActorOf(VniLocationsActor.Props(5001));
        var node = CreateTestProbe();
        entity.Tell(new VniSubscribe(5001, node, 9, []));
        node.ExpectMsg<VniLocationsSnapshot>();
        entity.Tell(new VniAnnounce(5001, Configured(1, There, "node-2", 0), 2, ActorRefs.Nobody));
        entity.Tell(new VniAnnounce(5001, Configured(1, Here, "node-1", 1), 1, ActorRefs.Nobody));
        node.FishForMessage<VniLocationsDelta>(d => d.Set.Any(l => l.Node == "node-1"));
        // node-2 (uid 2) no longer has it: node-1's entry stays.
        entity.Tell(new VniWithdraw(5001, MacAddress.Parse("02:00:00:00:00:01"), 2));
        node.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        // node-1 (uid 1) deleted it: gone.
        entity.Tell(new VniWithdraw(5001, MacAddress.Parse("02:00:00:00:00:01"), 1));
        Assert.Equal([EndpointLocation.KeyOf(5001, MacAddress.Parse("02:00:00:00:00:01"))], node.ExpectMsg<VniLocationsDelta>().Removed);
    }

    [Fact]
    public void The_follower_applies_deltas_in_order_and_subscribes_again_on_a_gap()
    {
        var shards = CreateTestProbe();
        var directory = Sys.ActorOf(LocationDirectoryActor.Props(shards));
        var vtep = CreateTestProbe();
        var entity = CreateTestProbe();
        directory.Tell(new SubscribeLocations(5001, vtep));
        var mine = At(1, Here, "node-1");
        directory.Tell(new AnnounceLocation(mine), vtep);
        var sub = shards.ExpectMsg<VniSubscribe>();
        Assert.Empty(sub.Locals);
        Assert.Equal(mine, shards.ExpectMsg<VniAnnounce>().Location);

        directory.Tell(new VniLocationsSnapshot(5001, 7, [mine]), entity);
        Assert.Single(vtep.ExpectMsg<LocationsChanged>().Locations);
        var a = At(2, There, "node-2");
        directory.Tell(new VniLocationsDelta(5001, 7, 1, [a], [], []), entity);
        Assert.Equal(2, vtep.ExpectMsg<LocationsChanged>().Locations.Count);
        // A duplicate and a delta of another incarnation are ignored.
        directory.Tell(new VniLocationsDelta(5001, 7, 1, [At(3, There, "node-2")], [], []), entity);
        directory.Tell(new VniLocationsDelta(5001, 8, 2, [At(4, There, "node-2")], [], []), entity);
        vtep.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        // Delta 2 was lost: delta 3 is not applied, the follower subscribes again with what it owns.
        directory.Tell(new VniLocationsDelta(5001, 7, 3, [At(5, There, "node-2")], [], []), entity);
        var again = shards.ExpectMsg<VniSubscribe>();
        Assert.Equal([mine], again.Locals);
        directory.Tell(new VniLocationsDelta(5001, 7, 4, [At(6, There, "node-2")], [], []), entity);
        vtep.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        directory.Tell(new VniLocationsSnapshot(5001, 7, [mine, a, At(5, There, "node-2"), At(6, There, "node-2")]), entity);
        Assert.Equal(4, vtep.ExpectMsg<LocationsChanged>().Locations.Count);
    }

    [Fact]
    public void When_the_entity_terminates_the_follower_rebuilds_it_and_keeps_what_it_lacks_only_for_the_grace()
    {
        var shards = CreateTestProbe();
        var directory = Sys.ActorOf(LocationDirectoryActor.Props(shards, TimeSpan.FromMilliseconds(500)));
        var vtep = CreateTestProbe();
        directory.Tell(new SubscribeLocations(5001, vtep));
        shards.ExpectMsg<VniSubscribe>();
        var mine = At(1, Here, "node-1");
        directory.Tell(new AnnounceLocation(mine), vtep);
        shards.ExpectMsg<VniAnnounce>();
        var old = Sys.ActorOf(Akka.TestKit.TestActors.BlackHoleActor.Props, "old-entity");
        var a = At(2, There, "node-2");
        var b = At(3, There, "node-3");
        directory.Tell(new VniLocationsSnapshot(5001, 7, [mine, a, b]), old);
        Assert.Equal(3, vtep.ExpectMsg<LocationsChanged>().Locations.Count);

        Sys.Stop(old);
        var resubscribe = shards.ExpectMsg<VniSubscribe>();
        Assert.Equal([mine], resubscribe.Locals);
        // The new incarnation knows only what has been re-sent so far: the rest stays while its owners re-send it.
        var fresh = CreateTestProbe();
        directory.Tell(new VniLocationsSnapshot(5001, 9, [mine]), fresh.Ref);
        Assert.Equal(3, vtep.ExpectMsg<LocationsChanged>().Locations.Count);
        directory.Tell(new VniLocationsDelta(5001, 9, 1, [a], [], []), fresh.Ref);
        vtep.ExpectMsg<LocationsChanged>();
        // node-3 never re-sent its entry (it is gone): dropped after the grace, node-2's kept.
        var after = vtep.ExpectMsg<LocationsChanged>(TimeSpan.FromSeconds(3));
        Assert.Equal(new[] { mine.Key, a.Key }.Order(), after.Locations.Keys.Order());
    }
}
