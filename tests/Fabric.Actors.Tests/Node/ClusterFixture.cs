using System.Diagnostics;
using Fabric.Actors.Cluster;
using Fabric.Actors.Intent;
using Fabric.Actors.Node;
using Fabric.Actors.Tests.Support;
using Fabric.Dataplane.Packets;

namespace Fabric.Actors.Tests.Node;

/// <summary>
/// N Fabric nodes in this process, each its own ActorSystem on 127.0.0.1 with a free port, sharing one SQLite
/// file (as `fabric up` does), each with its own loopback VTEP address and, when asked, a live dataplane.
/// </summary>
public sealed class InProcessCluster : IAsyncDisposable
{
    private static int _net = Random.Shared.Next(1, 200);
    public TempDir Dir { get; }
    public List<FabricRuntime?> Nodes { get; } = new();
    public List<NodeConfig> Configs { get; } = new();
    private readonly bool _dataplane;
    private readonly string? _extra;
    private readonly int _subnet = Interlocked.Increment(ref _net) % 250 + 1;

    /// <summary>A new cluster on the same store, names, ports and VTEPs as <paramref name="previous"/> (a restart).</summary>
    public InProcessCluster(InProcessCluster previous, string? extra)
    {
        Dir = previous.Dir;
        _dataplane = previous._dataplane;
        _extra = extra;
        foreach (var cfg in previous.Configs)
        {
            Configs.Add(cfg);
            Nodes.Add(null);
        }
    }

    public InProcessCluster(int n, bool dataplane = false, string? extra = null)
    {
        Dir = new TempDir("cluster");
        _dataplane = dataplane;
        _extra = extra;
        var seedPort = NodeConfig.FreeTcpPort();
        for (int i = 0; i < n; i++)
        {
            var port = i == 0 ? seedPort : NodeConfig.FreeTcpPort();
            Configs.Add(new NodeConfig
            {
                Port = port,
                SeedNodes = [$"akka.tcp://{FabricNode.SystemName}@127.0.0.1:{seedPort}"],
                DataDir = Dir.Path,
                NodeName = $"node-{i + 1}",
                Extra = $"""
                    fabric.vtep.address = "127.{_subnet}.{Environment.ProcessId % 250}.{i + 1}"
                    fabric.vtep.port = {20000 + Random.Shared.Next(0, 20000)}
                    fabric.dataplane.enabled = {(_dataplane ? "on" : "off")}
                    # CrashAsync terminates the ActorSystem: without this, Terminate() would run CoordinatedShutdown and
                    # leave the cluster gracefully, and a "crash" would be a polite goodbye. Graceful stops run it explicitly.
                    akka.coordinated-shutdown.run-by-actor-system-terminate = off
                    {_extra}
                    """,
            });
            Nodes.Add(null);
        }
    }

    public FabricRuntime this[int i] => Nodes[i] ?? throw new InvalidOperationException($"node {i + 1} is not running");

    public FabricRuntime Start(int i)
    {
        var rt = FabricRuntime.Start(Configs[i].Build());
        Nodes[i] = rt;
        return rt;
    }

    public async Task StartAllAsync(TimeSpan? timeout = null)
    {
        for (int i = 0; i < Nodes.Count; i++) Start(i);
        await Eventually(() => Nodes.All(n => n is not null && n.IsReady && n.Members().Count(m => m.Status == "up") == Nodes.Count),
            timeout ?? TimeSpan.FromSeconds(30), "cluster formed");
    }

    /// <summary>Polls <paramref name="condition"/> until it holds; fails with <paramref name="what"/> otherwise.</summary>
    public static async Task<TimeSpan> Eventually(Func<bool> condition, TimeSpan timeout, string what)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            if (condition()) return sw.Elapsed;
            await Task.Delay(10);
        }
        Assert.Fail($"timed out after {timeout} waiting for: {what}");
        return sw.Elapsed;
    }

    public async Task<CommandAccepted> Accept(ConfigurationCommand cmd, int node = 0)
    {
        var r = await this[node].ExecuteAsync(cmd);
        return r as CommandAccepted ?? throw new Xunit.Sdk.XunitException($"{cmd} was not accepted: {r}");
    }

    /// <summary>Stops a node abruptly: its ActorSystem terminates without leaving the cluster (a crash, as far as the others see).</summary>
    public async Task CrashAsync(int i)
    {
        var rt = this[i];
        Nodes[i] = null;
        rt.Engine?.Dispose();
        // Abort: no cluster-leave phase runs; the others only notice through the failure detector.
        await rt.System.Terminate();
        rt.Underlay?.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var n in Nodes)
            if (n is not null)
            {
                try { await n.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20)); } catch { /* best effort */ }
            }
        Dir.Dispose();
    }
}
