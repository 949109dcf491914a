using Akka.Actor;
using Akka.TestKit.Xunit2;
using Fabric.Actors.Intent;
using Fabric.Actors.Node;
using Fabric.Actors.Vrf;
using Fabric.Dataplane.Packets;
using static Fabric.Actors.Tests.Vtep.ConsumerFixtures;

namespace Fabric.Actors.Tests.Vtep;

/// <summary>
/// A VRF entity driven by configuration updates with events: it asks its node to hold its network, and resolves its
/// routes only when their inputs change (its table, the endpoints and networks they target).
/// </summary>
public sealed class VrfActorEventTests() : TestKit("akka.loglevel = WARNING\nakka.test.single-expect-default = 10s")
{
    [Fact]
    public void Holds_its_network_while_it_runs()
    {
        var replica = CreateTestProbe();
        Sys.ActorOf(Props.Create(() => new Forwarder(replica)), "config-replica");
        var vrf = Sys.ActorOf(VrfActor.Props("vrf-net-3-main"));
        var hold = replica.ExpectMsg<HoldNetworks>();
        Assert.Equal("vrf:vrf-net-3-main", hold.Owner);
        Assert.Equal(["net-3"], hold.NetworkIds);
        replica.ExpectMsg<SubscribeConfiguration>();
        Sys.Stop(vrf);
        var release = replica.ExpectMsg<HoldNetworks>();
        Assert.Equal("vrf:vrf-net-3-main", release.Owner);
        Assert.Empty(release.NetworkIds);
    }

    [Fact]
    public async Task Resolves_only_when_an_event_touches_its_routes()
    {
        var state = Networks(1000, 1); // ep-1 in net-1, ep-2 in net-2, …
        state = state.Apply(new RouteAdded("net-1", "main", new Route(Ipv4Prefix.Parse("10.200.0.0/16"), RouteTarget.ToEndpoint("ep-2"))))
            .Apply(new RouteAdded("net-1", "main", new Route(Ipv4Prefix.Parse("10.201.0.0/16"), RouteTarget.ToNetwork("net-3"))));
        var vrf = Sys.ActorOf(VrfActor.Props("vrf-net-1-main"));
        vrf.Tell(new SubscribeVrf("vrf-net-1-main", TestActor));
        vrf.Tell(new ConfigurationUpdated(state, 1, [], true));
        var routes = ExpectMsg<VrfRoutes>();
        Assert.Equal([MacOf(2)], routes.Routes.Where(r => r.Kind == RouteTargetKind.Endpoint).Select(r => r.EndpointMac));
        Assert.Equal([VniOf(3)], routes.Routes.Where(r => r.Kind == RouteTargetKind.Network).Select(r => r.Vni));
        Assert.Equal(1L, await vrf.Ask<long>(VrfActor.GetResolveCount.Instance, TimeSpan.FromSeconds(3)));

        // Changes elsewhere: no work (before, every update re-read the whole listing).
        vrf.Tell(Apply(ref state, 2, new EndpointCreated(EndpointOf(9000, 900, "node-2")), new EndpointMoved("ep-2", "node-3", 1),
            new RouteAdded("net-5", "main", new Route(Ipv4Prefix.Parse("10.202.0.0/16"), RouteTarget.Blackhole))));
        ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        Assert.Equal(1L, await vrf.Ask<long>(VrfActor.GetResolveCount.Instance, TimeSpan.FromSeconds(3)));

        // Its table changes, then a target goes.
        vrf.Tell(Apply(ref state, 3, new RouteAdded("net-1", "main", new Route(Ipv4Prefix.Parse("10.203.0.0/16"), RouteTarget.Blackhole))));
        Assert.Equal(3, ExpectMsg<VrfRoutes>().Routes.Count);
        vrf.Tell(Apply(ref state, 4, new EndpointDeleted("ep-2")));
        Assert.DoesNotContain(ExpectMsg<VrfRoutes>().Routes, r => r.Kind == RouteTargetKind.Endpoint);
        vrf.Tell(Apply(ref state, 5, new NetworkReleased("net-3")));
        Assert.DoesNotContain(ExpectMsg<VrfRoutes>().Routes, r => r.Kind == RouteTargetKind.Network);
        Assert.Equal(4L, await vrf.Ask<long>(VrfActor.GetResolveCount.Instance, TimeSpan.FromSeconds(3)));
    }
}
