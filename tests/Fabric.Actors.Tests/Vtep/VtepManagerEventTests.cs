using System.Collections.Immutable;
using System.Diagnostics;
using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Xunit.Abstractions;
using Fabric.Actors.Intent;
using Fabric.Actors.Locations;
using Fabric.Actors.Node;
using Fabric.Actors.Vrf;
using Fabric.Actors.Vtep;
using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Tables;
using static Fabric.Actors.Tests.Vtep.ConsumerFixtures;

namespace Fabric.Actors.Tests.Vtep;

/// <summary>
/// The VTEP manager and its VTEP actors driven by configuration updates with events, as the replica sends them: work
/// follows the change (the touched network only), not the size of the node's projection.
/// </summary>
public sealed class VtepManagerEventTests(ITestOutputHelper output) : TestKit(ClusterConfig)
{

    private (IActorRef Manager, TestProbe Publisher, TestProbe Locations) Start()
    {
        var publisher = CreateTestProbe("publisher");
        var locations = CreateTestProbe("locations");
        var vrfs = CreateTestProbe("vrfs");
        var manager = Sys.ActorOf(VtepManagerActor.Props(Self, publisher, locations, vrfs), "vteps");
        return (manager, publisher, locations);
    }

    /// <summary>Takes every NetworkStateBuilt until the VTEP actors are quiet; answers which VNIs built.</summary>
    private static List<int> Builds(TestProbe publisher, TimeSpan quiet) => Built(publisher, quiet).Select(b => b.Vni).ToList();

    private static List<NetworkStateBuilt> Built(TestProbe publisher, TimeSpan quiet)
    {
        var built = new List<NetworkStateBuilt>();
        while (publisher.TryReceiveOne(out var m, quiet))
            if (m.Message is NetworkStateBuilt b) built.Add(b);
        return built;
    }

    [Fact]
    public async Task One_endpoint_created_in_network_7_of_1000_rebuilds_only_network_7s_vtep()
    {
        var (manager, publisher, _) = Start();
        var state = Networks(1000, 2);
        manager.Tell(new ConfigurationUpdated(state, 1, [], true));
        var first = Builds(publisher, TimeSpan.FromSeconds(2));
        Assert.Equal(1000, first.Distinct().Count());
        // node-3 is a member (as far as network 7's VTEP actor knows), so its endpoints are installed.
        var vtep7 = await manager.Ask<IActorRef>(new GetVtep(VniOf(7)), TimeSpan.FromSeconds(3));
        var node3 = new NodeIdentity("node-3", new VtepEndpoint(Ipv4Address.Parse("127.0.0.3"), 4789), "");
        vtep7.Tell(new MembersUpdated(ImmutableDictionary<string, NodeIdentity>.Empty.Add("node-3", node3)));
        Assert.Equal([VniOf(7)], Builds(publisher, TimeSpan.FromSeconds(1)));

        manager.Tell(Apply(ref state, 2, new EndpointCreated(EndpointOf(9001, 7, "node-3"))));
        // Before: every VTEP actor was sent a new slice of the whole listing and rebuilt (1,000 builds).
        var after = Built(publisher, TimeSpan.FromSeconds(1));
        Assert.Equal([VniOf(7)], after.Select(b => b.Vni));
        Assert.True(after[0].State.Fdb.TryGet(MacOf(9001), out _), "the new endpoint is in network 7's forwarding state");

        // A move and a delete are found through the endpoint's network too (the delete from the state before it).
        manager.Tell(Apply(ref state, 3, new EndpointMoved("ep-13", "node-3", 1)));
        Assert.Equal([VniOf(7)], Builds(publisher, TimeSpan.FromSeconds(1)));
        manager.Tell(Apply(ref state, 4, new EndpointDeleted("ep-14")));
        Assert.Equal([VniOf(7)], Builds(publisher, TimeSpan.FromSeconds(1)));
    }

    /// <summary>
    /// Model check of the incremental path: a VTEP actor told only which endpoints changed (creates, moves, deletes,
    /// several per batch) must build the same forwarding state as one told to look at every endpoint each time.
    /// </summary>
    [Fact]
    public void A_vtep_told_only_what_changed_builds_what_one_told_everything_builds()
    {
        var rnd = new Random(20261201);
        var members = ImmutableDictionary<string, NodeIdentity>.Empty
            .Add("node-2", new NodeIdentity("node-2", new VtepEndpoint(Ipv4Address.Parse("127.0.0.2"), 4789), ""))
            .Add("node-3", new NodeIdentity("node-3", new VtepEndpoint(Ipv4Address.Parse("127.0.0.3"), 4789), ""));
        var (incremental, fromEvents) = Manager("vteps-events");
        var (full, fromResets) = Manager("vteps-resets");
        var state = Networks(2, 10);
        incremental.Tell(new ConfigurationUpdated(state, 1, [], true));
        full.Tell(new ConfigurationUpdated(state, 1, [], true));
        var live = Enumerable.Range(1, 10).ToList();
        var next = 100;
        var revision = 1L;
        for (int round = 0; round < 8; round++)
        {
            for (int step = 0; step < 25; step++)
            {
                var events = new List<ConfigurationEvent>();
                for (int k = rnd.Next(1, 4); k > 0; k--)
                {
                    var roll = rnd.Next(10);
                    if (roll < 3 || live.Count == 0)
                    {
                        var id = next++;
                        events.Add(new EndpointCreated(EndpointOf(id, 1, rnd.Next(2) == 0 ? "node-2" : "node-3")));
                        live.Add(id);
                    }
                    else if (roll < 8)
                    {
                        var id = live[rnd.Next(live.Count)];
                        var e = state.ApplyAll(events).Endpoints[$"ep-{id}"];
                        events.Add(new EndpointMoved(e.Id, e.Node == "node-2" ? "node-3" : "node-2", e.MoveSeq + 1));
                    }
                    else
                    {
                        var id = live[rnd.Next(live.Count)];
                        events.Add(new EndpointDeleted($"ep-{id}"));
                        live.Remove(id);
                    }
                }
                var update = Apply(ref state, ++revision, events.ToArray());
                incremental.Tell(update);
                full.Tell(update with { Reset = true });
            }
            var a = LastOf(fromEvents);
            var b = LastOf(fromResets);
            Assert.Equal(b, a);
            Assert.Equal(live.Count, a.Count);
        }

        (IActorRef Manager, TestProbe Publisher) Manager(string name)
        {
            var publisher = CreateTestProbe();
            var manager = Sys.ActorOf(VtepManagerActor.Props(Self, publisher, CreateTestProbe(), CreateTestProbe()), name);
            manager.Tell(new ConfigurationUpdated(Networks(2, 10), 0, [], true));
            var vtep = manager.Ask<IActorRef>(new GetVtep(VniOf(1)), TimeSpan.FromSeconds(3)).Result;
            // After the manager's own cluster snapshot (this test system is no member of anything), which it passes on.
            Thread.Sleep(300);
            vtep.Tell(new MembersUpdated(members));
            return (manager, publisher);
        }

        // The VNI's FDB once the actor is quiet: MAC → where it forwards to.
        SortedDictionary<string, string> LastOf(TestProbe publisher)
        {
            var last = Built(publisher, TimeSpan.FromMilliseconds(400)).LastOrDefault(x => x.Vni == VniOf(1));
            Assert.NotNull(last);
            var fdb = new SortedDictionary<string, string>(StringComparer.Ordinal);
            foreach (var e in last.State.Fdb.Entries) fdb[e.Mac.ToString()] = e.Location.ToString();
            return fdb;
        }
    }

    /// <summary>
    /// The VRF copies' anti-entropy answers every minute for every l3 VNI; an answer at a revision the actor already
    /// holds is the same answer and must cost no build (idle CPU at 100,000 endpoints).
    /// </summary>
    [Fact]
    public async Task A_vrf_answer_at_a_revision_already_held_does_not_rebuild()
    {
        var (manager, publisher, _) = Start();
        manager.Tell(new ConfigurationUpdated(Networks(1, 2), 1, [], true));
        Builds(publisher, TimeSpan.FromMilliseconds(500));
        var vtep = await manager.Ask<IActorRef>(new GetVtep(VniOf(1)), TimeSpan.FromSeconds(3));
        var routes = new VrfRoutes(VrfActor.IdOf("net-1", "main"), 7, true, []);
        vtep.Tell(routes);
        Assert.Equal([VniOf(1)], Builds(publisher, TimeSpan.FromMilliseconds(500)));
        vtep.Tell(routes);
        vtep.Tell(routes with { Revision = 6 });
        Assert.Empty(Builds(publisher, TimeSpan.FromMilliseconds(500)));
        vtep.Tell(routes with { Revision = 8 });
        Assert.Equal([VniOf(1)], Builds(publisher, TimeSpan.FromMilliseconds(500)));
    }

    /// <summary>The same at 100,000 endpoints in 1,000 networks: a move costs one network's build, measured.</summary>
    [Fact]
    public void At_100000_endpoints_a_move_costs_one_networks_build()
    {
        var (manager, publisher, _) = Start();
        var sw = Stopwatch.StartNew();
        var state = Networks(1000, 100); // net-7 holds ep-601 … ep-700
        var made = sw.Elapsed;
        sw.Restart();
        manager.Tell(new ConfigurationUpdated(state, 1, [], true));
        Assert.Equal(1000, Builds(publisher, TimeSpan.FromSeconds(3)).Distinct().Count());
        var reset = sw.Elapsed - TimeSpan.FromSeconds(3);
        var times = new List<double>();
        for (int i = 0; i < 20; i++)
        {
            sw.Restart();
            manager.Tell(Apply(ref state, 2 + i, new EndpointMoved($"ep-{650 + i}", "node-3", 1)));
            Assert.Equal(VniOf(7), publisher.ExpectMsg<NetworkStateBuilt>().Vni);
            times.Add(sw.Elapsed.TotalMilliseconds);
        }
        publisher.ExpectNoMsg(TimeSpan.FromMilliseconds(500));
        times.Sort();
        output.WriteLine($"state of 100,000 endpoints built in {made.TotalMilliseconds:F0} ms; reset (1,000 VTEP actors built) ~{reset.TotalMilliseconds:F0} ms; " +
            $"one move → network 7's state built: median {times[10]:F2} ms, max {times[^1]:F2} ms (20 moves, incl. applying the event)");
    }

    [Fact]
    public void Each_vtep_follows_the_locations_of_its_own_vni_only()
    {
        var (manager, _, locations) = Start();
        var state = Networks(3, 1);
        manager.Tell(new ConfigurationUpdated(state, 1, [], true));
        var subscribed = new HashSet<int>();
        for (int i = 0; i < 3; i++) subscribed.Add(locations.ExpectMsg<SubscribeLocations>().Vni);
        Assert.Equal([VniOf(1), VniOf(2), VniOf(3)], subscribed.Order());
        // The manager no longer takes (and fans out) every VNI's locations.
        locations.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task A_vtep_ignores_locations_of_another_vni()
    {
        var (manager, publisher, _) = Start();
        var state = Networks(2, 1);
        manager.Tell(new ConfigurationUpdated(state, 1, [], true));
        Builds(publisher, TimeSpan.FromSeconds(1));
        var vtep1 = await manager.Ask<IActorRef>(new GetVtep(VniOf(1)), TimeSpan.FromSeconds(3));
        var other = new EndpointLocation(VniOf(2), MacOf(99), default, new VtepEndpoint(Ipv4Address.Parse("127.0.0.9"), 4789), "node-9", 0, LocationOrigin.Learned);
        vtep1.Tell(new LocationsChanged(VniOf(2), ImmutableDictionary<string, EndpointLocation>.Empty.Add(other.Key, other)));
        Assert.Empty(Builds(publisher, TimeSpan.FromMilliseconds(500)));
    }

    [Fact]
    public void Ports_go_only_to_the_vtep_of_their_vni()
    {
        var (manager, publisher, _) = Start();
        var state = Networks(50, 1, "node-1");
        manager.Tell(new ConfigurationUpdated(state, 1, [], true));
        Builds(publisher, TimeSpan.FromSeconds(1));
        var port = new PortState(1, "vm-3", VniOf(3), MacOf(3), default, true, -1, new PortCounters());
        manager.Tell(new LocalPortsChanged(ImmutableDictionary<string, PortState>.Empty.Add("ep-3", port), ["ep-3"]));
        Assert.Equal([VniOf(3)], Builds(publisher, TimeSpan.FromSeconds(1)));
        // Without the list of changes the manager compares the maps itself: the same answer.
        var port9 = port with { Id = 2, Name = "vm-9", Vni = VniOf(9), Mac = MacOf(9) };
        manager.Tell(new LocalPortsChanged(ImmutableDictionary<string, PortState>.Empty.Add("ep-3", port).Add("ep-9", port9)));
        Assert.Equal([VniOf(9)], Builds(publisher, TimeSpan.FromSeconds(1)));
    }

    /// <summary>
    /// Make-before-break across a release: the node's last endpoint of net-1 moved away, so its projection lets net-1 go,
    /// but the guest's port stays until the new node announces it. The VTEP actor must stay (on the state just before
    /// the release, which shows the move) to deliver to that port and to say when it may go; then it stops.
    /// </summary>
    [Fact]
    public async Task A_released_network_keeps_its_vtep_while_a_leaving_port_of_its_vni_is_here()
    {
        var (manager, publisher, _) = Start();
        var state = Networks(1, 1, "node-1"); // ep-1 in net-1, here
        manager.Tell(new ConfigurationUpdated(state, 1, [], true));
        var port = new PortState(7, "vm-1", VniOf(1), MacOf(1), default, true, -1, new PortCounters());
        manager.Tell(new LocalPortsChanged(ImmutableDictionary<string, PortState>.Empty.Add("ep-1", port), ["ep-1"]));
        Builds(publisher, TimeSpan.FromSeconds(1));

        manager.Tell(Apply(ref state, 2, new EndpointMoved("ep-1", "node-2", 1), new NetworkReleased("net-1")));
        var built = publisher.FishForMessage<NetworkStateBuilt>(_ => true);
        Assert.True(built.State.Fdb.TryGet(MacOf(1), out var entry));
        Assert.Equal(Location.Local(7), entry.Location); // still delivered here
        publisher.ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // in particular no NetworkStateRemoved
        var vtep = await manager.Ask<IActorRef>(new GetVtep(VniOf(1)), TimeSpan.FromSeconds(3));
        Assert.False(vtep.IsNobody());

        // The new node announces it: the lingering VTEP actor asks the port manager (here: us) to let the port go.
        var there = new EndpointLocation(VniOf(1), MacOf(1), default, new VtepEndpoint(Ipv4Address.Parse("127.0.0.2"), 4789), "node-2", 1, LocationOrigin.Config);
        vtep.Tell(new LocationsChanged(VniOf(1), ImmutableDictionary<string, EndpointLocation>.Empty.Add(there.Key, there)));
        Assert.Equal("ep-1", ExpectMsg<ReleaseMovedPort>().EndpointId);
        // From the announcement on, senders here go to the new node at once; the old port only drains what peers sent
        // before they switched (the move's reach does not wait for the port manager's grace).
        var switched = publisher.FishForMessage<NetworkStateBuilt>(b => b.State.Fdb.TryGet(MacOf(1), out var e) && e.Location.IsRemote);
        Assert.True(switched.State.Fdb.TryGet(MacOf(1), out var now));
        Assert.Equal(Location.Remote(there.Vtep), now.Location);
        Assert.True(switched.State.TryGetDraining(MacOf(1), out var drainPort));
        Assert.Equal(7, drainPort);

        // The port goes: so does the VTEP actor, and its VNI's forwarding state.
        Watch(vtep);
        manager.Tell(new LocalPortsChanged(ImmutableDictionary<string, PortState>.Empty, ["ep-1"]));
        publisher.FishForMessage<NetworkStateRemoved>(r => r.Vni == VniOf(1));
        ExpectTerminated(vtep);
    }

    [Fact]
    public async Task A_released_network_without_ports_here_stops_its_vtep_and_one_held_again_gets_a_new_one()
    {
        var (manager, publisher, _) = Start();
        var state = Networks(2, 1);
        manager.Tell(new ConfigurationUpdated(state, 1, [], true));
        Builds(publisher, TimeSpan.FromSeconds(1));
        var vtep = await manager.Ask<IActorRef>(new GetVtep(VniOf(2)), TimeSpan.FromSeconds(3));
        Watch(vtep);
        var before = state;
        manager.Tell(Apply(ref state, 2, new NetworkReleased("net-2")));
        publisher.FishForMessage<NetworkStateRemoved>(r => r.Vni == VniOf(2));
        ExpectTerminated(vtep);

        // Held again (synthetic creation events): a VTEP actor again, built from the projection.
        manager.Tell(Apply(ref state, 3, before.EventsToBuild("net-2").ToArray()));
        Assert.Equal([VniOf(2)], Builds(publisher, TimeSpan.FromSeconds(1)).Distinct());
    }
}
