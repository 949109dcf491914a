using Akka.Actor;
using Akka.Configuration;
using Fabric.Actors.Configuration;
using AkkaCluster = Akka.Cluster.Cluster;

namespace Fabric.Actors.Cluster;

/// <summary>
/// One Fabric cluster node: an ActorSystem named <see cref="SystemName"/> with Akka.Cluster, started from
/// a loaded configuration (see <see cref="FabricHocon.Load"/>). With seed nodes in
/// <c>akka.cluster.seed-nodes</c> it joins them; without, it joins itself and forms a cluster of one.
/// <see cref="StopAsync"/> runs CoordinatedShutdown, which leaves the cluster gracefully first.
/// </summary>
public sealed class FabricNode : IAsyncDisposable
{
    public const string SystemName = "fabric";

    private FabricNode(ActorSystem system, FabricSettings settings)
    {
        System = system;
        Settings = settings;
        Cluster = AkkaCluster.Get(system);
    }

    public ActorSystem System { get; }
    public AkkaCluster Cluster { get; }
    public FabricSettings Settings { get; }

    /// <summary>This node's Akka address, e.g. akka.tcp://fabric@127.0.0.1:4053 (akka.ssl.tcp://… with <see cref="RemoteTls"/>).</summary>
    public Address Address => Cluster.SelfAddress;

    public static FabricNode Start(Config config)
    {
        var settings = FabricSettings.From(config);
        if (settings.UsesSqlite)
            Directory.CreateDirectory(settings.DataDir); // SQLite creates the file, not its folder

        // Mutual TLS on remoting when fabric.remote-tls names a certificate (nodes made by `fabric init`).
        var tls = RemoteTls.From(config);
        var system = tls is null
            ? ActorSystem.Create(SystemName, config)
            : ActorSystem.Create(SystemName, BootstrapSetup.Create()
                .WithConfig(ConfigurationFactory.ParseString(RemoteTls.EnableHocon).WithFallback(config))
                .And(tls.Setup()));
        var node = new FabricNode(system, settings);
        if (config.GetStringList("akka.cluster.seed-nodes").Count == 0)
            node.Cluster.Join(node.Cluster.SelfAddress);
        return node;
    }

    /// <summary>Completes once this node is Up in the cluster.</summary>
    public Task WhenUp(TimeSpan timeout)
    {
        var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Cluster.RegisterOnMemberUp(() => up.TrySetResult());
        return up.Task.WaitAsync(timeout);
    }

    /// <summary>Leaves the cluster gracefully and terminates the ActorSystem (CoordinatedShutdown).</summary>
    public Task StopAsync()
        => CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.ClrExitReason.Instance);

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        await System.WhenTerminated.ConfigureAwait(false);
    }
}
