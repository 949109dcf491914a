using System.Collections.Concurrent;
using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Fabric.Actors.Cluster;
using Fabric.Actors.Intent;
using Fabric.Actors.Tests.Serialization;
using Fabric.Actors.Tests.Support;

namespace Fabric.Actors.Tests.Cluster;

public sealed class FabricNodeTests
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
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(8), $"graceful leave took {clock.Elapsed}");
        Assert.Equal(MemberStatus.Up, a.Cluster.SelfMember.Status);
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
