using Akka.Actor;
using Fabric.Actors.Intent;
using Fabric.Actors.Node;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Tables;
using NetworkState = Fabric.Dataplane.Tables.NetworkState;
using RouteTargetKind = Fabric.Dataplane.Tables.RouteTargetKind;
using static Fabric.Actors.Tests.Node.InProcessCluster;

namespace Fabric.Actors.Tests.Node;

/// <summary>Issue 3's cluster scenarios: three ActorSystems in one process on 127.0.0.1.</summary>
[Collection("cluster")]
public class ThreeNodeClusterTests
{
    private static async Task<(string Net, Dictionary<string, Endpoint> Eps)> CreateVpc(InProcessCluster c)
    {
        var net = (NetworkCreated)(await c.Accept(new CreateNetwork("vpc", 7001, "l3", "10.20.0.0/16"))).Events[0];
        var id = net.Network.Id;
        await c.Accept(new CreateRouteTable(id, "private"), node: 1);
        await c.Accept(new CreateSubnet(id, "web", "10.20.1.0/24"));
        await c.Accept(new CreateSubnet(id, "db", "10.20.2.0/24", "private"), node: 2);
        await c.Accept(new AddRoute(id, "private", "10.99.0.0/16", new RouteTargetSpec("blackhole")));
        var eps = new Dictionary<string, Endpoint>();
        foreach (var (name, node, subnet) in new[] { ("web1", "node-1", "web"), ("web2", "node-2", "web"), ("db1", "node-3", "db") })
        {
            var ev = (EndpointCreated)(await c.Accept(new CreateEndpoint(name, id, node, new EndpointPortSpec("guest"), Subnet: SubnetId(c, id, subnet)))).Events[0];
            eps[name] = ev.Endpoint;
        }
        return (id, eps);
    }

    private static string SubnetId(InProcessCluster c, string net, string name)
        => c[0].GetConfigurationAsync().Result.Networks.Single(n => n.Id == net).Subnets.Single(s => s.Name == name).Id;

    private static string Describe(FabricRuntime rt) => rt.Snapshots.Current.TryGetNetwork(7001, out var n)
        ? $"fdb {n.Fdb.Count}, neighbours {n.Neighbours.Count}, local ports {n.LocalPorts.Length}, members {string.Join(",", rt.Members().Select(m => m.Name + ":" + m.Status))}"
        : "no network 7001";

    private static bool HasState(FabricRuntime rt, int vni, Func<NetworkState, bool> check)
        => rt.Snapshots.Current.TryGetNetwork(vni, out var n) && check(n);

    [Fact]
    public Task Every_nodes_snapshot_holds_exactly_the_right_fdb_neighbour_route_and_flood_entries()
        => SnapshotsAreRight(null);

    [Support.PostgresFact]
    public Task Every_nodes_snapshot_is_right_with_the_configuration_on_postgresql()
        => SnapshotsAreRight(StoreTests.PostgresExtra());

    private static async Task SnapshotsAreRight(string? store)
    {
        await using var c = new InProcessCluster(3, extra: store);
        await c.StartAllAsync();
        var (_, eps) = await CreateVpc(c);
        var vteps = Enumerable.Range(0, 3).Select(i => c[i].Self.Vtep).ToArray();
        string[] names = ["web1", "web2", "db1"];

        for (int i = 0; i < 3; i++)
        {
            var rt = c[i];
            await Eventually(() => HasState(rt, 7001, n => n.Fdb.Count == 3 && n.Neighbours.Count == 3 && n.LocalPorts.Length == 1
                    && n.RouteTables.Length == 2 && n.RouteTables[1].Count == 2),
                TimeSpan.FromSeconds(10), $"node-{i + 1} has the network; it has {Describe(rt)}");
            var net = rt.Snapshots.Current.Networks[7001];
            for (int k = 0; k < 3; k++)
            {
                var ep = eps[names[k]];
                Assert.True(net.Fdb.TryGet(ep.Mac, out var entry));
                if (k == i) Assert.True(entry.Location.IsLocal, $"{names[k]} is local on node-{i + 1}");
                else Assert.Equal(Location.Remote(vteps[k]), entry.Location);
                Assert.True(net.Neighbours.TryGet(ep.Ip!.Value, out var mac));
                Assert.Equal(ep.Mac, mac);
            }
            Assert.Equal(["main", "private"], net.RouteTables.Select(t => t.Name).ToArray());
            Assert.True(net.RouteTables[1].TryLookup(Ipv4Address.Parse("10.99.3.3"), out var r) && r.Target.Kind == RouteTargetKind.Blackhole);
            Assert.False(net.RouteTables[0].TryLookup(Ipv4Address.Parse("10.99.3.3"), out _));
            // The flood group: every other node that hosts an endpoint of the VNI.
            Assert.Equal(vteps.Where((_, k) => k != i).Select(v => v.ToString()).Order().ToArray(), net.FloodList.Select(v => v.ToString()).Order().ToArray());
            Assert.Equal(2, net.Subnets.Length);
        }
    }

    /// <summary>
    /// Conditional monitoring across a real cluster: an l2 network (no route table entity to hold it elsewhere) with
    /// endpoints on node-1 and node-2 only is nowhere on node-3, neither in its replica nor in its snapshot, while 50
    /// writes change it; node-3's first endpoint there brings it the whole network, its last one takes it away.
    /// </summary>
    [Fact]
    public async Task A_node_holds_a_network_only_while_it_has_an_endpoint_there()
    {
        await using var c = new InProcessCluster(3);
        await c.StartAllAsync();
        var net = ((NetworkCreated)(await c.Accept(new CreateNetwork("blue", 5001, "l2", "10.1.0.0/24"))).Events[0]).Network.Id;
        for (int i = 0; i < 50; i++)
            await c.Accept(new CreateEndpoint($"vm{i}", net, i % 2 == 0 ? "node-1" : "node-2", new EndpointPortSpec("guest")));
        await Eventually(() => HasState(c[0], 5001, n => n.Fdb.Count == 50) && HasState(c[1], 5001, n => n.Fdb.Count == 50),
            TimeSpan.FromSeconds(10), "node-1 and node-2 hold blue");
        Assert.False(c[2].Snapshots.Current.TryGetNetwork(5001, out _), "node-3 built state for a network it has no endpoint in");
        Assert.Empty((await c[2].GetReplicaStateAsync())!.State.Endpoints);

        var third = ((EndpointCreated)(await c.Accept(new CreateEndpoint("vm-3", net, "node-3", new EndpointPortSpec("guest")))).Events[0]).Endpoint;
        await Eventually(() => HasState(c[2], 5001, n => n.Fdb.Count == 51 && n.LocalPorts.Length == 1), TimeSpan.FromSeconds(10),
            "node-3 holds blue with its first endpoint there");
        Assert.Equal(51, (await c[2].GetReplicaStateAsync())!.State.Endpoints.Count);

        await c.Accept(new DeleteEndpoint(third.Id));
        await Eventually(() => !c[2].Snapshots.Current.TryGetNetwork(5001, out _) && c[2].GetReplicaStateAsync().Result!.State.Endpoints.IsEmpty,
            TimeSpan.FromSeconds(10), "node-3 lets blue go with its last endpoint");
        // And for good: a state its stopped VTEP actor was still building reached the snapshot after the removal and
        // brought blue back (within milliseconds; the poll above could see the moment between).
        await Remains(() => !c[2].Snapshots.Current.TryGetNetwork(5001, out _), TimeSpan.FromSeconds(1), "node-3 keeps blue away");
    }

    /// <summary>Polls <paramref name="condition"/> for <paramref name="period"/>; fails the moment it does not hold.</summary>
    private static async Task Remains(Func<bool> condition, TimeSpan period, string what)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (sw.Elapsed < period)
        {
            Assert.True(condition(), $"after {sw.Elapsed.TotalMilliseconds:0} ms, no longer: {what}");
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task A_moved_endpoint_converges_everywhere_with_a_higher_sequence_and_leaves_its_old_node()
    {
        await using var c = new InProcessCluster(3);
        await c.StartAllAsync();
        var (_, eps) = await CreateVpc(c);
        var web2 = eps["web2"];
        for (int i = 0; i < 3; i++)
        {
            var rt = c[i];
            await Eventually(() => HasState(rt, 7001, n => n.Fdb.Count == 3), TimeSpan.FromSeconds(10), "initial state");
        }
        await c.Accept(new MoveEndpoint(web2.Id, "node-3"));
        var target = c[2].Self.Vtep;
        try
        {
            await Eventually(() => HasState(c[0], 7001, n => n.Fdb.TryGet(web2.Mac, out var e) && e.Location == Location.Remote(target) && e.Sequence >= 1),
                TimeSpan.FromSeconds(5), "node-1 sees web2 on node-3");
            await Eventually(() => HasState(c[2], 7001, n => n.Fdb.TryGet(web2.Mac, out var e) && e.Location.IsLocal),
                TimeSpan.FromSeconds(5), "node-3 hosts web2");
            // node-2 had no other endpoint in the network: once its leaving port is let go it holds nothing of it.
            await Eventually(() => !c[1].Snapshots.Current.TryGetNetwork(7001, out var n)
                    || (n.Fdb.TryGet(web2.Mac, out var e) && e.Location == Location.Remote(target) && n.LocalPorts.Length == 0),
                TimeSpan.FromSeconds(5), "node-2 no longer delivers to web2 locally");
        }
        catch (Xunit.Sdk.XunitException e)
        {
            // What each node had: its snapshot's entry for web2, its configuration's view of web2, its directory's map.
            var lines = new List<string> { e.Message };
            for (var i = 0; i < 3; i++)
            {
                var rt = c[i];
                var fdb = rt.Snapshots.Current.TryGetNetwork(7001, out var n)
                    ? n.Fdb.TryGet(web2.Mac, out var en) ? $"{en.Location} seq {en.Sequence}" : "no entry"
                    : "no network";
                var replica = (await rt.GetReplicaStateAsync())?.State.Endpoints.TryGetValue(web2.Id, out var ep) == true ? $"{ep!.Node} move {ep.MoveSeq}" : "absent";
                var locs = await rt.Locations.Ask<Fabric.Actors.Locations.LocationsChanged>(new Fabric.Actors.Locations.GetLocations(7001), TimeSpan.FromSeconds(3));
                var gossip = string.Join(", ", locs.Locations.Values.Where(l => l.Mac == web2.Mac).Select(l => $"{l.Node} seq {l.Seq}"));
                lines.Add($"node-{i + 1} (vtep {rt.Self.Vtep}): fdb {fdb}; replica {replica}; directory [{gossip}]; {Describe(rt)}");
            }
            throw new Xunit.Sdk.XunitException(string.Join("\n", lines));
        }
        // Deleted where it runs now: no node keeps steering its MAC anywhere (its location is withdrawn, not left behind).
        await c.Accept(new DeleteEndpoint(web2.Id));
        await Eventually(() => Enumerable.Range(0, 3).All(i => !HasState(c[i], 7001, n => n.Fdb.TryGet(web2.Mac, out _))),
            TimeSpan.FromSeconds(5), "web2 gone from every node's FDB after its deletion");
    }

    [Fact]
    public Task A_crashed_node_is_downed_and_its_locations_withdrawn_everywhere()
        => CrashAndWithdraw(extra: null, bound: TimeSpan.FromSeconds(10)); // the shipped defaults

    /// <summary>The documented knobs really tighten the bound (a quiet underlay can afford them).</summary>
    [Fact]
    public Task Tighter_failure_detector_settings_withdraw_a_crashed_nodes_locations_sooner()
        => CrashAndWithdraw(extra: """
            akka.cluster.failure-detector.heartbeat-interval = 300ms
            akka.cluster.failure-detector.acceptable-heartbeat-pause = 1s
            akka.cluster.split-brain-resolver.stable-after = 1s
            """, bound: TimeSpan.FromSeconds(6));

    private static async Task CrashAndWithdraw(string? extra, TimeSpan bound)
    {
        await using var c = new InProcessCluster(3, extra: extra);
        await c.StartAllAsync();
        var (_, eps) = await CreateVpc(c);
        for (int i = 0; i < 3; i++)
        {
            var rt = c[i];
            await Eventually(() => HasState(rt, 7001, n => n.Fdb.Count == 3), TimeSpan.FromSeconds(10), "initial state");
        }
        var db1 = eps["db1"];
        await c.CrashAsync(2);
        var took = await Eventually(() => HasState(c[0], 7001, n => !n.Fdb.TryGet(db1.Mac, out _)) && HasState(c[1], 7001, n => !n.Fdb.TryGet(db1.Mac, out _)),
            bound + TimeSpan.FromSeconds(5), "db1's location withdrawn on node-1 and node-2");
        Assert.True(took < bound, $"withdrawn after {took.TotalSeconds:F1} s; the bound is {bound.TotalSeconds} s");
        await Eventually(() => c[0].Members().All(m => m.Name != "node-3" || m.Status is "down" or "removed"), TimeSpan.FromSeconds(15), "node-3 downed");
    }
}

/// <summary>The same cluster scenarios with the configuration on PostgreSQL (FABRIC_TEST_POSTGRES; .ci/run starts one).</summary>
[Collection("cluster")]
public class StoreTests
{
    public static string PostgresExtra() => $"""
        include "postgres.conf"
        fabric.store.connection-string = {Fabric.Actors.Configuration.FabricHocon.Quote(Support.PostgresFactAttribute.ConnectionString!)}
        fabric.configuration.persistence-id = "fabric-configuration-cluster-{Guid.NewGuid():N}"
        """;

    [Fact]
    public Task Restarting_the_whole_cluster_on_sqlite_brings_back_every_accepted_write() => RestartCluster(null);

    [Support.PostgresFact]
    public Task Restarting_the_whole_cluster_on_postgresql_brings_back_every_accepted_write() => RestartCluster(PostgresExtra());

    private static async Task RestartCluster(string? store)
    {
        var c = new InProcessCluster(3, extra: store);
        string before;
        long revision;
        try
        {
            await c.StartAllAsync();
            var net = (NetworkCreated)(await c.Accept(new CreateNetwork("vpc", 7001, "l3", "10.20.0.0/16"))).Events[0];
            await c.Accept(new CreateRouteTable(net.Network.Id, "private"), node: 1);
            await c.Accept(new CreateSubnet(net.Network.Id, "web", "10.20.1.0/24"), node: 2);
            await c.Accept(new CreateNetwork("blue", 5001, "l2", null), node: 1);
            await c.Accept(new AddRoute(net.Network.Id, "private", "10.99.0.0/16", new RouteTargetSpec("blackhole")), node: 2);
            var sub = (await c[0].GetConfigurationAsync()).Networks[0].Subnets[0].Id;
            for (int i = 0; i < 6; i++)
                await c.Accept(new CreateEndpoint($"vm{i}", net.Network.Id, $"node-{i % 3 + 1}", new EndpointPortSpec("guest"), Subnet: sub), node: i % 3);
            var listing = await c[1].GetConfigurationAsync();
            before = listing.ToCanonicalJson();
            revision = listing.Revision;
            foreach (var n in c.Nodes) await n!.DisposeAsync();
            c.Nodes.Clear();
        }
        catch
        {
            await c.DisposeAsync();
            throw;
        }
        // The same store, the same ports, a fresh start of every node.
        await using var again = new InProcessCluster(c, store);
        await again.StartAllAsync();
        var after = await again[2].GetConfigurationAsync();
        Assert.Equal(revision, after.Revision);
        Assert.Equal(before, after.ToCanonicalJson());
        // Soft state is rebuilt from it: every node forwards for all six endpoints again.
        for (int i = 0; i < 3; i++)
        {
            var rt = again[i];
            await Eventually(() => rt.Snapshots.Current.TryGetNetwork(7001, out var n) && n.Fdb.Count == 6, TimeSpan.FromSeconds(10), $"node-{i + 1} rebuilt");
        }
    }
}

[CollectionDefinition("cluster", DisableParallelization = true)]
public sealed class ClusterCollection;
