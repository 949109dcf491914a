using System.Net;
using Fabric.Actors.Cluster;
using Fabric.Actors.Node;
using Fabric.Nodes.Http;

namespace Fabric.Nodes.Tests.Http;

/// <summary>
/// A node that never joins a cluster (its seed does not exist): not ready, and every configuration request is refused
/// at once with a 503 problem (retry later, not-a-member), never a 500 and never after a timeout. Its own node and endpoint, so it runs beside the shared one.
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

            var sw = System.Diagnostics.Stopwatch.StartNew();
            var write = await api.Post("/api/v1/networks", new { name = "n", vni = 10, kind = "l2" });
            var p = Problem.Assert(write, HttpStatusCode.ServiceUnavailable, code: "not-a-member");
            Assert.Equal("urn:fabric:problem:not-a-member", p["type"]!.GetValue<string>());
            Assert.Contains("alone is not a member", p["detail"]!.GetValue<string>());
            Assert.NotNull(write.Response.Headers.RetryAfter);
            // no replica to read from either: the same refusal, also at once
            Problem.Assert(await api.Get("/api/v1/networks"), HttpStatusCode.ServiceUnavailable, code: "not-a-member");
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(3), $"took {sw.Elapsed.TotalSeconds:F1} s, not at once");
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
