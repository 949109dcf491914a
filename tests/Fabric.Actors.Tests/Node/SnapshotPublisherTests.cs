using System.Collections.Immutable;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Fabric.Actors.Node;
using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Tables;

namespace Fabric.Actors.Tests.Node;

/// <summary>
/// The snapshot publisher applies only what changed to the live snapshot (issue 10), and keeps its promise: a VNI's
/// builder hears NetworkStateInstalled only once a snapshot holding its latest state is live.
/// </summary>
public sealed class SnapshotPublisherTests : TestKit
{
    private static readonly VtepEndpoint Self = new(Ipv4Address.Parse("127.0.0.1"));

    private static NetworkState State(int vni, string name = "n")
        => new NetworkStateBuilder(vni, name, NetworkKind.L2) { LocalVtep = Self }.Build();

    private static PortState Port(int id, int vni) => new(id, $"p{id}", vni, new MacAddress(0x020000000000UL | (uint)id), default, true, -1, new PortCounters());

    [Fact]
    public void Every_builder_is_told_only_with_a_live_snapshot_holding_its_latest_state()
    {
        var holder = new SnapshotHolder();
        var publisher = Sys.ActorOf(SnapshotPublisherActor.Props(holder, Self));
        var builders = Enumerable.Range(0, 40).Select(_ => CreateTestProbe()).ToArray();
        var latest = new NetworkState[builders.Length];
        for (int round = 0; round < 3; round++)
            for (int i = 0; i < builders.Length; i++)
                publisher.Tell(new NetworkStateBuilt(5000 + i, latest[i] = State(5000 + i, $"r{round}")), builders[i].Ref);
        for (int i = 0; i < builders.Length; i++)
        {
            // Acks may come for earlier rounds (each was the latest when it was installed); the last names the last.
            NetworkStateInstalled ack;
            do
            {
                ack = builders[i].ExpectMsg<NetworkStateInstalled>(TimeSpan.FromSeconds(5));
                Assert.Equal(5000 + i, ack.Vni);
                Assert.True(ack.Snapshot.TryGetNetwork(ack.Vni, out var installed), "the acknowledged snapshot holds the VNI");
                Assert.True(holder.Current.Version >= ack.Snapshot.Version, "acknowledged only once live");
                if (ReferenceEquals(installed, latest[i])) break;
            } while (true);
        }
        Assert.Equal(builders.Length, holder.Current.Networks.Count);
        for (int i = 0; i < builders.Length; i++) Assert.Same(latest[i], holder.Current.Networks[5000 + i]);
    }

    [Fact]
    public void A_port_waits_for_its_network_leaves_with_it_and_wakes_its_builder()
    {
        var holder = new SnapshotHolder();
        var publisher = Sys.ActorOf(SnapshotPublisherActor.Props(holder, Self));
        var builder = CreateTestProbe();
        var ports = ImmutableDictionary<string, PortState>.Empty.Add("ep-1", Port(1, 7001)).Add("ep-2", Port(2, 7002));
        publisher.Tell(new NetworkStateBuilt(7002, State(7002)), builder.Ref);
        builder.ExpectMsg<NetworkStateInstalled>();
        publisher.Tell(new LocalPortsChanged(ports));
        // ep-2's VNI is told again: its builder may wait for the port to be live before announcing it.
        var ack = builder.ExpectMsg<NetworkStateInstalled>();
        Assert.Equal(2, ack.Snapshot.Port(2)?.Id);
        Assert.Null(ack.Snapshot.Port(1)); // VNI 7001 has no state yet: its port waits outside

        var first = CreateTestProbe();
        publisher.Tell(new NetworkStateBuilt(7001, State(7001)), first.Ref);
        Assert.Equal(1, first.ExpectMsg<NetworkStateInstalled>().Snapshot.Port(1)?.Id);

        publisher.Tell(new NetworkStateRemoved(7001));
        AwaitCondition(() => holder.Current.Port(1) is null && !holder.Current.TryGetNetwork(7001, out _), TimeSpan.FromSeconds(5));
        Assert.Equal(2, holder.Current.Port(2)?.Id);

        // Told what changed, it looks at nothing else: ep-2 re-plugged as port 3, ep-1 gone.
        var next = ports.Remove("ep-1").SetItem("ep-2", Port(3, 7002));
        publisher.Tell(new LocalPortsChanged(next) { Changed = ["ep-1", "ep-2"] });
        ack = builder.ExpectMsg<NetworkStateInstalled>();
        Assert.Null(ack.Snapshot.Port(2));
        Assert.Equal(3, ack.Snapshot.Port(3)?.Id);
        Assert.Equal(1, ack.Snapshot.Ports.Count);
    }

    /// <summary>
    /// Regression (the cluster test of a node letting a network go, flaky under load): the VTEP manager stops a VNI's
    /// actor and says the VNI is removed, while that actor, mid-rebuild, sends one more state. Arriving after the
    /// removal, it brought the released network back into the snapshot for good. A stopped builder's states are
    /// ignored; a new builder of the same VNI is heard.
    /// </summary>
    [Fact]
    public void A_state_a_stopped_builder_sent_after_the_removal_does_not_bring_its_network_back()
    {
        var holder = new SnapshotHolder();
        var publisher = Sys.ActorOf(SnapshotPublisherActor.Props(holder, Self));
        var old = CreateTestProbe();
        publisher.Tell(new NetworkStateBuilt(7001, State(7001, "old")), old.Ref);
        old.ExpectMsg<NetworkStateInstalled>();

        publisher.Tell(new NetworkStateRemoved(7001, old.Ref));
        publisher.Tell(new NetworkStateBuilt(7001, State(7001, "stale")), old.Ref);
        // Something else installed after both: the publisher has handled them.
        var other = CreateTestProbe();
        publisher.Tell(new NetworkStateBuilt(7002, State(7002)), other.Ref);
        var ack = other.ExpectMsg<NetworkStateInstalled>();
        Assert.False(ack.Snapshot.TryGetNetwork(7001, out var back), $"VNI 7001 is back in the snapshot: {back?.Name}");
        Assert.False(holder.Current.TryGetNetwork(7001, out _));
        old.ExpectNoMsg(TimeSpan.FromMilliseconds(100));

        // The VNI comes back here with a new builder: that one is heard.
        var next = CreateTestProbe();
        var fresh = State(7001, "new");
        publisher.Tell(new NetworkStateBuilt(7001, fresh), next.Ref);
        Assert.True(next.ExpectMsg<NetworkStateInstalled>().Snapshot.TryGetNetwork(7001, out var installed));
        Assert.Same(fresh, installed);

        // The old builder's removal, arriving late, does not take the new builder's state away.
        publisher.Tell(new NetworkStateRemoved(7001, old.Ref));
        publisher.Tell(new NetworkStateBuilt(7003, State(7003)), other.Ref);
        Assert.True(other.ExpectMsg<NetworkStateInstalled>().Snapshot.TryGetNetwork(7001, out installed));
        Assert.Same(fresh, installed);
    }

    /// <summary>
    /// Regression: the port manager sends fresh, value-equal PortState instances for unchanged ports on every update;
    /// a port that then left was kept in the snapshot because its stored instance was not the one removed.
    /// </summary>
    [Fact]
    public void A_port_resent_unchanged_then_removed_leaves_the_snapshot()
    {
        var holder = new SnapshotHolder();
        var publisher = Sys.ActorOf(SnapshotPublisherActor.Props(holder, Self));
        var builder = CreateTestProbe();
        publisher.Tell(new NetworkStateBuilt(7001, State(7001)), builder.Ref);
        builder.ExpectMsg<NetworkStateInstalled>();
        // As the port manager does: the same counters, a new PortState each time.
        var (p1, p2) = (Port(1, 7001), Port(2, 7001));
        publisher.Tell(new LocalPortsChanged(ImmutableDictionary<string, PortState>.Empty.Add("ep-1", p1).Add("ep-2", p2)));
        builder.ExpectMsg<NetworkStateInstalled>();
        publisher.Tell(new LocalPortsChanged(ImmutableDictionary<string, PortState>.Empty.Add("ep-1", p1 with { }).Add("ep-2", p2 with { })));
        publisher.Tell(new LocalPortsChanged(ImmutableDictionary<string, PortState>.Empty.Add("ep-1", p1 with { })));
        AwaitCondition(() => holder.Current.Port(2) is null, TimeSpan.FromSeconds(5), "ep-2's port left the snapshot");
        Assert.Equal(1, holder.Current.Port(1)?.Id);
    }
}
