using Fabric.Actors.Cluster;
using Fabric.Actors.Node;
using Fabric.Nodes.Http;
using Microsoft.AspNetCore.Builder;

namespace Fabric.Nodes.Tests.Http;

/// <summary>
/// Several nodes in this process, each with its management endpoint on a free port, one journal (SQLite in a
/// temporary folder), all Up and seeing each other before <see cref="StartAsync"/> returns. For the tests that need
/// a cluster's HTTP API but not separate processes; use it from an <c>IAsyncLifetime</c> and dispose it there.
/// </summary>
public sealed class HttpCluster : IAsyncDisposable
{
    private readonly string _dataDir;
    private readonly List<WebApplication> _apps = new();

    private HttpCluster(string dataDir) => _dataDir = dataDir;

    public List<FabricRuntime> Runtimes { get; } = new();
    public List<Api> Apis { get; } = new();
    /// <summary>Each node's management URL (http://127.0.0.1:PORT).</summary>
    public List<string> Urls { get; } = new();

    /// <param name="nodes">How many nodes; node i (from 0) is named <paramref name="name"/>(i).</param>
    /// <param name="token">The bootstrap token of every node's API.</param>
    /// <param name="dataplane">Whether each node runs its dataplane thread (off: control plane and API only).</param>
    public static async Task<HttpCluster> StartAsync(int nodes, string token, Func<int, string> name, bool dataplane,
        string prefix = "fabric-http-cluster")
    {
        var cluster = new HttpCluster(Path.Combine(Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}"));
        Directory.CreateDirectory(cluster._dataDir);
        var seedPort = NodeConfig.FreeTcpPort();
        for (int i = 0; i < nodes; i++)
        {
            var rt = FabricRuntime.Start(new NodeConfig
            {
                Port = i == 0 ? seedPort : NodeConfig.FreeTcpPort(),
                SeedNodes = [$"akka.tcp://{FabricNode.SystemName}@127.0.0.1:{seedPort}"],
                DataDir = cluster._dataDir,
                NodeName = name(i),
                Extra = HttpNodeFixture.VtepHocon(i + 1) + $"\nfabric.dataplane.enabled = {(dataplane ? "on" : "off")}",
            }.Build());
            cluster.Runtimes.Add(rt);
            var app = ManagementEndpoint.Build(rt, new ManagementOptions("127.0.0.1", 0, token));
            await app.StartAsync();
            cluster._apps.Add(app);
            cluster.Urls.Add(app.Url());
            cluster.Apis.Add(new Api(new HttpClient { BaseAddress = new Uri(app.Url()), Timeout = TimeSpan.FromSeconds(60) }, token));
        }
        await HttpNodeFixture.Eventually(() => Task.FromResult(cluster.Runtimes.All(r => r.IsReady && r.Members().Count(m => m.Status == "up") == nodes)),
            TimeSpan.FromSeconds(60), $"{nodes} nodes up, each seeing {nodes} members up");
        return cluster;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var api in Apis) api.Dispose();
        foreach (var app in _apps)
        {
            try { await app.StopAsync().WaitAsync(TimeSpan.FromSeconds(10)); } catch (Exception) { /* stopping anyway */ }
            await app.DisposeAsync();
        }
        await Task.WhenAll(Runtimes.Select(async rt =>
        {
            try { await rt.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20)); } catch (Exception) { /* best effort */ }
        }));
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dataDir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
