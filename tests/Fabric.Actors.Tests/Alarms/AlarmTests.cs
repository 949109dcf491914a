using Akka.Actor;
using Akka.TestKit.Xunit2;
using Fabric.Actors.Alarms;
using Fabric.Actors.Locations;
using Fabric.Dataplane.Packets;

namespace Fabric.Actors.Tests.Alarms;

public class AlarmBookTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_repeat_refreshes_the_alarm_and_keeps_when_it_was_first_raised()
    {
        var book = new AlarmBook("n1");
        var first = book.Raise("address-conflict", "vni 1 ip 10.0.0.9", "a", T0);
        Assert.NotNull(first);
        Assert.Null(book.Raise("address-conflict", "vni 1 ip 10.0.0.9", "b", T0.AddMinutes(1)));
        var held = Assert.Single(book.Current());
        Assert.Equal((T0, "b", "n1"), (held.Since, held.Detail, held.Node));
    }

    [Fact]
    public void An_observed_condition_clears_only_after_the_hold_without_a_repeat()
    {
        var book = new AlarmBook("n1");
        book.Raise("address-conflict", "k", "d", T0);
        book.Raise("address-conflict", "k", "d", T0.AddMinutes(4));
        Assert.Empty(book.Expire("address-conflict", TimeSpan.FromMinutes(5), T0.AddMinutes(6)));
        Assert.Single(book.Expire("address-conflict", TimeSpan.FromMinutes(5), T0.AddMinutes(10)));
        Assert.Empty(book.Current());
    }

    [Fact]
    public void Expiry_leaves_other_kinds_and_clear_removes_one()
    {
        var book = new AlarmBook("n1");
        book.Raise("path-mtu", "p", "d", T0);
        book.Raise("address-conflict", "k", "d", T0);
        book.Expire("address-conflict", TimeSpan.FromSeconds(1), T0.AddHours(1));
        Assert.Equal("path-mtu", Assert.Single(book.Current()).Kind);
        Assert.NotNull(book.Clear("path-mtu", "p"));
        Assert.Null(book.Clear("path-mtu", "p"));
    }

    [Fact]
    public void The_book_is_bounded()
    {
        var book = new AlarmBook("n1", capacity: 3);
        for (var i = 0; i < 5; i++) book.Raise("address-conflict", $"k{i}", "d", T0);
        Assert.Equal(3, book.Count);
        Assert.Equal(2, book.Suppressed);
    }
}

public class PathMtuPlanTests
{
    [Fact]
    public void The_ladder_starts_at_the_target_and_ends_at_the_floor()
    {
        var ladder = PathMtuPlan.Ladder(1500);
        Assert.Equal(1500, ladder[0]);
        Assert.Equal(PathMtuPlan.Floor, ladder[^1]);
        Assert.Contains(1400, ladder);
        Assert.Equal(ladder.Distinct().Count(), ladder.Length);
        Assert.True(ladder.Zip(ladder.Skip(1)).All(p => p.Item1 > p.Item2));
    }

    [Theory]
    [InlineData(new[] { 1500, 1400, 128 }, PathMtuVerdict.Fits, 1500)]
    [InlineData(new[] { 1400, 1280, 128 }, PathMtuVerdict.TooSmall, 1400)]
    [InlineData(new int[0], PathMtuVerdict.Unknown, 0)]
    public void Judging_the_answers(int[] answered, PathMtuVerdict verdict, int largest)
        => Assert.Equal((verdict, largest), PathMtuPlan.Judge(1500, answered));

    [Fact]
    public void Each_round_probes_at_most_the_budget_urgent_first_then_round_robin_covering_everyone()
    {
        var plan = new PathMtuPlan(budget: 4);
        var peers = Enumerable.Range(0, 10).Select(i => $"n{i:00}").ToArray();
        var first = plan.Pick(peers, ["n07", "gone"]);
        Assert.Equal(4, first.Count);
        Assert.Equal("n07", first[0]);
        var seen = new HashSet<string>(first);
        for (var round = 0; round < 3; round++)
        {
            var next = plan.Pick(peers, []);
            Assert.True(next.Count <= 4);
            seen.UnionWith(next);
        }
        Assert.Equal(peers.Length, seen.Count);
    }
}

public class AlarmActorTests : TestKit
{
    [Fact]
    public async Task An_address_conflict_is_raised_and_clears_once_claims_stop_for_the_hold()
    {
        var alarms = Sys.ActorOf(AlarmActor.Props("n1", ActorRefs.Nobody, TimeSpan.FromMilliseconds(600), publishToCluster: false));
        var events = CreateTestProbe();
        Sys.EventStream.Subscribe(events.Ref, typeof(AlarmRaised));
        Sys.EventStream.Subscribe(events.Ref, typeof(AlarmCleared));
        Assert.NotNull(await alarms.Ask<AlarmListing>(GetAlarms.Instance, TimeSpan.FromSeconds(1))); // started and subscribed
        var conflict = new AddressConflictAlarm(5001, Ipv4Address.Parse("10.0.0.9"), MacAddress.Parse("02:00:00:00:00:01"),
            MacAddress.Parse("02:00:00:00:00:02"), "n1", DateTimeOffset.UtcNow);
        Sys.EventStream.Publish(conflict);
        var raised = events.ExpectMsg<AlarmRaised>().Alarm;
        Assert.Equal(("n1", AlarmKinds.AddressConflict), (raised.Node, raised.Kind));
        // Held now (how repeats keep it is AlarmBook's, tested above without a clock), then cleared once claims stop.
        Assert.Single((await alarms.Ask<AlarmListing>(GetAlarms.Instance, TimeSpan.FromSeconds(1))).Alarms);
        Assert.Equal(raised.Key, events.ExpectMsg<AlarmCleared>(TimeSpan.FromSeconds(3)).Alarm.Key);
        Assert.Empty((await alarms.Ask<AlarmListing>(GetAlarms.Instance, TimeSpan.FromSeconds(1))).Alarms);
    }

    [Fact]
    public async Task A_duplicate_mac_is_held_by_the_node_the_last_move_claimed_until_the_mac_moves_again()
    {
        var locations = CreateTestProbe();
        var alarms = Sys.ActorOf(AlarmActor.Props("n1", locations.Ref, publishToCluster: false));
        var mac = MacAddress.Parse("02:00:00:00:00:07");
        alarms.Tell(new DuplicateMacAlarm(5001, mac, 6, TimeSpan.FromSeconds(180), DateTimeOffset.UtcNow, "n2")); // another node's
        alarms.Tell(new DuplicateMacAlarm(5001, mac, 6, TimeSpan.FromSeconds(180), DateTimeOffset.UtcNow, "n1"));
        locations.ExpectMsg<SubscribeLocations>(s => s.Vni == 5001);
        Assert.Equal(AlarmKinds.DuplicateMac, Assert.Single((await alarms.Ask<AlarmListing>(GetAlarms.Instance, TimeSpan.FromSeconds(1))).Alarms).Kind);

        EndpointLocation At(long seq) => new(5001, mac, default, default, "n0", seq, LocationOrigin.Config);
        var key = EndpointLocation.KeyOf(5001, mac);
        var map = System.Collections.Immutable.ImmutableDictionary<string, EndpointLocation>.Empty;
        alarms.Tell(new LocationsChanged(5001, map.Add(key, At(4)))); // frozen where it was
        alarms.Tell(new LocationsChanged(5001, map.Add(key, At(4))));
        Assert.Single((await alarms.Ask<AlarmListing>(GetAlarms.Instance, TimeSpan.FromSeconds(1))).Alarms);
        alarms.Tell(new LocationsChanged(5001, map.Add(key, At(5)))); // the operator moved it: no longer frozen
        locations.ExpectMsg<UnsubscribeLocations>(u => u.Vni == 5001);
        Assert.Empty((await alarms.Ask<AlarmListing>(GetAlarms.Instance, TimeSpan.FromSeconds(1))).Alarms);
    }

    [Fact]
    public async Task Raise_and_clear_from_the_node_s_own_actors()
    {
        var alarms = Sys.ActorOf(AlarmActor.Props("n1", ActorRefs.Nobody, publishToCluster: false));
        alarms.Tell(new RaiseAlarm(AlarmKinds.PathMtu, "path n1 -> n2", "1400 fits"));
        Assert.Single((await alarms.Ask<AlarmListing>(GetAlarms.Instance, TimeSpan.FromSeconds(1))).Alarms);
        alarms.Tell(new ClearAlarm(AlarmKinds.PathMtu, "path n1 -> n2"));
        Assert.Empty((await alarms.Ask<AlarmListing>(GetAlarms.Instance, TimeSpan.FromSeconds(1))).Alarms);
    }
}
