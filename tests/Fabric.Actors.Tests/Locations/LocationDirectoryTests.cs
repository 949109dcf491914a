using Akka.Actor;
using Akka.TestKit.Xunit2;
using Fabric.Actors.Locations;
using Fabric.Dataplane.Packets;
using VtepEndpoint = Fabric.Dataplane.Tables.VtepEndpoint;

namespace Fabric.Actors.Tests.Locations;

/// <summary>
/// The location directory on one node (a one-member cluster): one replicated map per VNI, followed only for the VNIs
/// that have a local subscriber, and a change delivered to that VNI's subscribers only, with that VNI's map only.
/// </summary>
public sealed class LocationDirectoryTests() : TestKit(Vtep.ConsumerFixtures.ClusterConfig)
{
    private static readonly VtepEndpoint Here = new(Ipv4Address.Parse("127.0.0.1"), 4789);
    private static readonly VtepEndpoint There = new(Ipv4Address.Parse("127.0.0.2"), 4789);

    private static EndpointLocation At(int vni, int mac, VtepEndpoint vtep, string node, long seq = 0)
        => new(vni, MacAddress.Parse($"02:00:00:00:00:{mac:x2}"), default, vtep, node, seq, LocationOrigin.GratuitousArp);

    private async Task<IActorRef> StartAsync()
    {
        var cluster = Akka.Cluster.Cluster.Get(Sys);
        await cluster.JoinAsync(cluster.SelfAddress);
        return Sys.ActorOf(LocationDirectoryActor.Props(VniLocationsActor.StartRegion(Sys)), "locations");
    }

    [Fact]
    public async Task A_change_in_one_vni_reaches_only_that_vnis_subscribers_with_that_vnis_map()
    {
        var directory = await StartAsync();
        var a = CreateTestProbe("vtep-a");
        var b = CreateTestProbe("vtep-b");
        directory.Tell(new SubscribeLocations(5001, a));
        directory.Tell(new SubscribeLocations(5002, b));
        Assert.Empty(a.ExpectMsg<LocationsChanged>().Locations);
        Assert.Empty(b.ExpectMsg<LocationsChanged>().Locations);

        var l = At(5001, 1, Here, "node-1");
        directory.Tell(new AnnounceLocation(l));
        var seen = a.FishForMessage<LocationsChanged>(m => m.Locations.ContainsKey(l.Key));
        Assert.Equal(5001, seen.Vni);
        Assert.All(seen.Locations.Values, x => Assert.Equal(5001, x.Vni));
        // Before: one map for the fabric, sent whole to every subscriber on every change.
        b.ExpectNoMsg(TimeSpan.FromMilliseconds(500));

        // Stored under the VNI's own key.
        var answer = await directory.Ask<LocationsChanged>(new GetLocations(5001), TimeSpan.FromSeconds(3));
        Assert.Equal(l.Vtep, answer.Locations[l.Key].Vtep);
        Assert.Empty((await directory.Ask<LocationsChanged>(new GetLocations(5002), TimeSpan.FromSeconds(3))).Locations);
    }

    [Fact]
    public async Task A_vni_nobody_here_follows_is_written_and_can_be_read_but_is_not_pushed()
    {
        var directory = await StartAsync();
        var a = CreateTestProbe();
        directory.Tell(new SubscribeLocations(5001, a));
        a.ExpectMsg<LocationsChanged>();
        var l = At(5009, 2, Here, "node-1");
        directory.Tell(new AnnounceLocation(l));
        await AwaitAssertAsync(async () =>
            Assert.True((await directory.Ask<LocationsChanged>(new GetLocations(5009), TimeSpan.FromSeconds(3))).Locations.ContainsKey(l.Key)));
        a.ExpectNoMsg(TimeSpan.FromMilliseconds(300));

        // A move announced for it raises the sequence against the replicated entry, followed or not.
        directory.Tell(new AnnounceLocation(At(5009, 2, There, "node-2")));
        await AwaitAssertAsync(async () =>
            Assert.Equal(1, (await directory.Ask<LocationsChanged>(new GetLocations(5009), TimeSpan.FromSeconds(3))).Locations[l.Key].Seq));
    }

    [Fact]
    public async Task A_late_subscriber_gets_the_vnis_current_map_and_an_unsubscribed_one_nothing_more()
    {
        var directory = await StartAsync();
        var first = CreateTestProbe();
        directory.Tell(new SubscribeLocations(5001, first));
        first.ExpectMsg<LocationsChanged>();
        var l = At(5001, 3, Here, "node-1");
        directory.Tell(new AnnounceLocation(l));
        first.FishForMessage<LocationsChanged>(m => m.Locations.ContainsKey(l.Key));

        var late = CreateTestProbe();
        directory.Tell(new SubscribeLocations(5001, late));
        Assert.True(late.ExpectMsg<LocationsChanged>().Locations.ContainsKey(l.Key));

        directory.Tell(new UnsubscribeLocations(5001, late));
        directory.Tell(new AnnounceLocation(At(5001, 4, Here, "node-1")));
        first.FishForMessage<LocationsChanged>(m => m.Locations.Count == 2);
        late.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task A_removed_node_is_withdrawn_from_the_vnis_followed_here()
    {
        var directory = await StartAsync();
        var a = CreateTestProbe();
        directory.Tell(new SubscribeLocations(5001, a));
        a.ExpectMsg<LocationsChanged>();
        directory.Tell(new AnnounceLocation(At(5001, 5, There, "node-2")));
        directory.Tell(new AnnounceLocation(At(5001, 6, Here, "node-1")));
        a.FishForMessage<LocationsChanged>(m => m.Locations.Count == 2);
        directory.Tell(new WithdrawNode("node-2"));
        var after = a.FishForMessage<LocationsChanged>(m => m.Locations.Count == 1);
        Assert.All(after.Locations.Values, x => Assert.Equal("node-1", x.Node));
    }
}
