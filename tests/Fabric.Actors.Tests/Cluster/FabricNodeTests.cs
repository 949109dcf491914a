using System.Collections.Concurrent;
using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Fabric.Actors.Cluster;
using Fabric.Actors.Intent;
using Fabric.Actors.Tests.Serialization;
using Fabric.Actors.Tests.Support;

namespace Fabric.Actors.Tests.Cluster;

/// <summary>
/// The cluster tests measure time (leave, crash removal), so they run on their own, after the parallel
/// tests, instead of competing with them for the CPU.
/// </summary>
[CollectionDefinition(nameof(ClusterTiming), DisableParallelization = true)]
public sealed class ClusterTiming;

[Collection(nameof(ClusterTiming))]
public sealed class FabricNodeTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    /// <summary>Keeps whatever it receives.</summary>
    private sealed class Collector : ReceiveActor
    {
        public Collector(BlockingCollection<object> received) => ReceiveAny(received.Add);
    }

    [Fact]
    public async Task Two_nodes_form_a_cluster_talk_hyperion_refuse_foreign_types_and_leave_gracefully()
    {
        using var dir = new TempDir("cluster");
        var seedConfig = new NodeConfig { Port = NodeConfig.FreeTcpPort(), DataDir = dir.Path, NodeName = "a" };
        seedConfig = seedConfig with { SeedNodes = [seedConfig.AkkaAddress] };
        // b plays a hostile peer for one type: Sneaky goes out with plain Hyperion under our serializer id
        var joinerConfig = new NodeConfig
        {
            SeedNodes = [seedConfig.AkkaAddress],
            DataDir = dir.Path,
            NodeName = "b",
            Extra = $$"""
                akka.actor.serializers.unrestricted = "{{typeof(UnrestrictedHyperionSerializer).AssemblyQualifiedName}}"
                akka.actor.serialization-bindings { "{{typeof(Sneaky).AssemblyQualifiedName}}" = unrestricted }
                """,
        };

        await using var a = FabricNode.Start(seedConfig.Build());
        await using var b = FabricNode.Start(joinerConfig.Build());
        await Task.WhenAll(a.WhenUp(Timeout), b.WhenUp(Timeout));
        Assert.Equal(2, a.Cluster.State.Members.Count(m => m.Status == MemberStatus.Up));

        var received = new BlockingCollection<object>();
        a.System.ActorOf(Props.Create(() => new Collector(received)), "collector");
        var collector = b.System.ActorSelection(new RootActorPath(a.Address) / "user" / "collector");

        var command = new CreateEndpoint("web-1", "net-1", "n1", new EndpointPortSpec("tap", "ns1"), Ip: "10.0.1.5");
        collector.Tell(command);
        Assert.True(received.TryTake(out var first, Timeout));
        Assert.Equal(command, first);

        // a type outside the allow-list is dropped by the receiving node; the association survives it
        collector.Tell(new Sneaky("rm -rf /"));
        collector.Tell(new MoveEndpoint("ep-1", "n2"));
        Assert.True(received.TryTake(out var next, Timeout));
        Assert.Equal(new MoveEndpoint("ep-1", "n2"), next);
        Assert.False(received.TryTake(out _, TimeSpan.FromMilliseconds(300)));

        // b leaves through CoordinatedShutdown: a sees it removed without waiting for the failure detector
        var removed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var bAddress = b.Address;
        a.System.ActorOf(Props.Create(() => new RemovalWatcher(bAddress, removed)));
        var clock = Stopwatch.StartNew();
        await b.StopAsync();
        await removed.Task.WaitAsync(Timeout);
        output.WriteLine($"graceful leave seen after {clock.Elapsed.TotalSeconds:F1} s");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(8), $"graceful leave took {clock.Elapsed}");
        Assert.Equal(MemberStatus.Up, a.Cluster.SelfMember.Status);
    }

    [Fact]
    public async Task A_crashed_node_is_downed_and_removed_within_ten_seconds_with_the_shipped_defaults()
    {
        using var dir = new TempDir("crash");
        var seed = new NodeConfig { Port = NodeConfig.FreeTcpPort(), DataDir = dir.Path, NodeName = "a" };
        seed = seed with { SeedNodes = [seed.AkkaAddress] };
        var joiner = new NodeConfig { SeedNodes = [seed.AkkaAddress], DataDir = dir.Path };

        var a = FabricNode.Start(seed.Build());
        var b = FabricNode.Start((joiner with { NodeName = "b" }).Build());
        await using var stopBoth = new StopTogether(a, b);
        // c will "crash": its ActorSystem stops without leaving the cluster or telling anyone
        var c = FabricNode.Start((joiner with
        {
            NodeName = "c",
            Extra = """
                akka.coordinated-shutdown.run-by-actor-system-terminate = off
                akka.cluster.run-coordinated-shutdown-when-down = off
                """,
        }).Build());
        await Task.WhenAll(a.WhenUp(Timeout), b.WhenUp(Timeout), c.WhenUp(Timeout));
        await WaitUntil(() => a.Cluster.State.Members.Count(m => m.Status == MemberStatus.Up) == 3, Timeout);

        var removed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        a.System.ActorOf(Props.Create(() => new RemovalWatcher(c.Address, removed)));
        var sinceTerminate = Stopwatch.StartNew();
        await c.System.Terminate();
        // a real crash silences the node at once; an in-process Terminate keeps answering heartbeats until
        // remoting stops at its very end, so the crash is counted from there
        var sinceDead = Stopwatch.StartNew();
        await removed.Task.WaitAsync(TimeSpan.FromSeconds(20));

        output.WriteLine($"crashed node removed {sinceDead.Elapsed.TotalSeconds:F1} s after it died ({sinceTerminate.Elapsed.TotalSeconds:F1} s after Terminate was called)");
        Assert.True(sinceDead.Elapsed < TimeSpan.FromSeconds(10), $"the crashed node was removed {sinceDead.Elapsed} after it died");
        Assert.Equal(2, a.Cluster.State.Members.Count(m => m.Status == MemberStatus.Up));
        Assert.Equal(MemberStatus.Up, b.Cluster.SelfMember.Status);
    }

    /// <summary>Stops several nodes at once (one after the other would add their leave times up).</summary>
    private sealed class StopTogether(params FabricNode[] nodes) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await Task.WhenAll(nodes.Select(n => n.DisposeAsync().AsTask()));
    }

    private static async Task WaitUntil(Func<bool> condition, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout) throw new TimeoutException("condition not reached");
            await Task.Delay(50);
        }
    }

    private sealed class RemovalWatcher : ReceiveActor
    {
        public RemovalWatcher(Address watched, TaskCompletionSource removed)
        {
            Receive<ClusterEvent.MemberRemoved>(e => { if (e.Member.Address == watched) removed.TrySetResult(); });
            Receive<ClusterEvent.IClusterDomainEvent>(_ => { });
            Receive<ClusterEvent.CurrentClusterState>(_ => { });
        }

        protected override void PreStart()
            => Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot, typeof(ClusterEvent.MemberRemoved));
    }
}
