using System.Net;
using Fabric.Actors.Cluster;
using Fabric.Actors.Node;
using Fabric.Nodes.Http;

namespace Fabric.Nodes.Tests.Http;

/// <summary>
/// A node that never joins a cluster (its seed does not exist): not ready, and every configuration request times out
/// into a 503 problem (retry later), never a 500. Its own node and endpoint, so it runs beside the shared one.
/// </summary>
public sealed class UnavailableNodeTests
{
    [Fact]
    public async Task A_node_cut_off_from_the_cluster_is_not_ready_and_answers_503()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"fabric-http-alone-{Guid.NewGuid():N}");
        var runtime = FabricRuntime.Start(new NodeConfig
        {
            Port = NodeConfig.FreeTcpPort(),
            SeedNodes = [$"akka.tcp://{FabricNode.SystemName}@127.0.0.1:{NodeConfig.FreeTcpPort()}"],
            DataDir = dir,
            NodeName = "alone",
            Extra = HttpNodeFixture.VtepHocon(3) + "\nfabric.dataplane.enabled = off",
        }.Build());
        var app = ManagementEndpoint.Build(runtime, new ManagementOptions("127.0.0.1", 0, "t"));
        try
        {
            await app.StartAsync();
            using var api = new Api(new HttpClient { BaseAddress = new Uri(app.Url()) }, "t");

            Assert.Equal(HttpStatusCode.OK, (await api.Get("/health/alive")).Status);
            Problem.Assert(await api.Get("/health/ready"), HttpStatusCode.ServiceUnavailable, code: "not-ready");

            var write = await api.Post("/api/v1/networks", new { name = "n", vni = 10, kind = "l2" });
            Problem.Assert(write, HttpStatusCode.ServiceUnavailable, code: "configuration-unavailable");
            Assert.NotNull(write.Response.Headers.RetryAfter);
            Problem.Assert(await api.Get("/api/v1/networks"), HttpStatusCode.ServiceUnavailable, code: "configuration-unavailable");
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            try { await runtime.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20)); } catch (Exception) { /* best effort */ }
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
