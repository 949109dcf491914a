using System.Collections.Immutable;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Fabric.Actors.Intent;
using Fabric.Actors.Node;
using static Fabric.Actors.Tests.Vtep.ConsumerFixtures;

namespace Fabric.Actors.Tests.Node;

/// <summary>
/// The port manager driven by configuration updates with events (guest ports, no engine, no cluster): it decides only
/// the endpoints an update names, and a moved guest's port survives its network leaving the node's projection.
/// </summary>
public sealed class PortManagerEventTests() : TestKit("akka.loglevel = WARNING\nakka.test.single-expect-default = 10s")
{
    private IActorRef Start() => Sys.ActorOf(PortManagerActor.Props(Self, null, [TestActor]));

    [Fact]
    public void An_endpoint_created_plugs_that_endpoint_only_and_says_so()
    {
        var ports = Start();
        var state = Networks(10, 100, "node-1");
        ports.Tell(new ConfigurationUpdated(state, 1, [], true));
        var first = ExpectMsg<LocalPortsChanged>();
        Assert.Equal(1000, first.Ports.Count);

        ports.Tell(Apply(ref state, 2, new EndpointCreated(EndpointOf(5000, 7, "node-1")), new EndpointCreated(EndpointOf(5001, 7, "node-2"))));
        var next = ExpectMsg<LocalPortsChanged>();
        Assert.Equal(["ep-5000"], next.Changed);
        Assert.Equal(1001, next.Ports.Count);
        // Every other port is the same object: the map was updated, not rebuilt (before, every port was made anew).
        foreach (var (id, p) in first.Ports) Assert.Same(p, next.Ports[id]);

        // An update that changes no port of this node says nothing.
        ports.Tell(Apply(ref state, 3, new EndpointCreated(EndpointOf(5002, 8, "node-2"))));
        ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public void A_deleted_endpoint_is_unplugged_and_a_moved_guest_leaves_make_before_break()
    {
        var ports = Start();
        var state = Networks(2, 3, "node-1"); // ep-1..3 in net-1, ep-4..6 in net-2
        ports.Tell(new ConfigurationUpdated(state, 1, [], true));
        ExpectMsg<LocalPortsChanged>();

        ports.Tell(Apply(ref state, 2, new EndpointDeleted("ep-2")));
        var deleted = ExpectMsg<LocalPortsChanged>();
        Assert.Equal(["ep-2"], deleted.Changed);
        Assert.False(deleted.Ports.ContainsKey("ep-2"));

        // Moved away: still plugged here until the new node has announced it.
        ports.Tell(Apply(ref state, 3, new EndpointMoved("ep-3", "node-2", 1)));
        ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        ports.Tell(new ReleaseMovedPort("ep-3"));
        var gone = ExpectMsg<LocalPortsChanged>();
        Assert.Equal(["ep-3"], gone.Changed);
        Assert.False(gone.Ports.ContainsKey("ep-3"));
    }

    /// <summary>
    /// The node's last endpoint of net-1 moves away: the projection releases net-1 in the same update. Before, the
    /// endpoint vanished from the listing and its port was unplugged at once (break-before-make).
    /// </summary>
    [Fact]
    public void A_moved_guest_keeps_its_port_after_its_network_is_released_from_the_projection()
    {
        var ports = Start();
        var state = Networks(1, 1, "node-1");
        ports.Tell(new ConfigurationUpdated(state, 1, [], true));
        var port = ExpectMsg<LocalPortsChanged>().Ports["ep-1"];

        ports.Tell(Apply(ref state, 2, new EndpointMoved("ep-1", "node-2", 1), new NetworkReleased("net-1")));
        ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // the port stays, as it was
        Assert.Null(state.Networks.GetValueOrDefault("net-1"));

        // A later update (another network) does not disturb it either.
        ports.Tell(new ConfigurationUpdated(state, 3, [new NetworkCreated(new Network("net-9", "n9", 5009, NetworkKind.L2, null))], false));
        ExpectNoMsg(TimeSpan.FromMilliseconds(300));

        ports.Tell(new ReleaseMovedPort("ep-1"));
        var gone = ExpectMsg<LocalPortsChanged>();
        Assert.False(gone.Ports.ContainsKey("ep-1"));
        Assert.Equal(5001, port.Vni);
    }

    [Fact]
    public void An_endpoint_deleted_with_its_network_released_is_unplugged_at_once()
    {
        var ports = Start();
        var state = Networks(1, 1, "node-1");
        ports.Tell(new ConfigurationUpdated(state, 1, [], true));
        ExpectMsg<LocalPortsChanged>();
        ports.Tell(Apply(ref state, 2, new EndpointDeleted("ep-1"), new NetworkReleased("net-1")));
        Assert.Empty(ExpectMsg<LocalPortsChanged>().Ports);
    }

    [Fact]
    public void A_reset_reconciles_against_the_state()
    {
        var ports = Start();
        var state = Networks(2, 2, "node-1");
        ports.Tell(new ConfigurationUpdated(state, 1, [], true));
        var first = ExpectMsg<LocalPortsChanged>();
        var reset = state.Apply(new EndpointDeleted("ep-1")).Apply(new EndpointCreated(EndpointOf(77, 2, "node-1")));
        ports.Tell(new ConfigurationUpdated(reset, 5, [], true));
        var next = ExpectMsg<LocalPortsChanged>();
        Assert.Equal(["ep-2", "ep-3", "ep-4", "ep-77"], next.Ports.Keys.Order(StringComparer.Ordinal));
        Assert.Same(first.Ports["ep-2"], next.Ports["ep-2"]);
    }
}
