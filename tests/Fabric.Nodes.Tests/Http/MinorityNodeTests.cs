using System.Diagnostics;
using System.Net;
using Fabric.Actors.Cluster;
using Fabric.Actors.Node;
using Fabric.Nodes.Http;
using Fabric.Nodes.Tests.Cli;

namespace Fabric.Nodes.Tests.Http;

/// <summary>
/// Over HTTP: a node whose two peers vanish (no leave) refuses writes at once with 503 minority-partition and serves
/// reads from its replica, marked as such.
/// </summary>
[Collection(LocalClusterCollection.Name)] // a three-node cluster: not beside the other cluster tests on two cores
public sealed class MinorityNodeTests
{
    [Fact]
    public async Task A_node_left_alone_answers_writes_503_minority_partition_and_reads_from_its_replica()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"fabric-http-minority-{Guid.NewGuid():N}");
        // Terminate must look like a crash to the survivor: no graceful leave.
        const string abrupt = "\nfabric.dataplane.enabled = off\nakka.coordinated-shutdown.run-by-actor-system-terminate = off";
        var seed = new NodeConfig { Port = NodeConfig.FreeTcpPort(), DataDir = dir, NodeName = "m-1", Extra = HttpNodeFixture.VtepHocon(1) + abrupt };
        var runtime = FabricRuntime.Start(seed.Build());
        var peers = Enumerable.Range(2, 2).Select(i => FabricRuntime.Start(new NodeConfig
        {
            Port = NodeConfig.FreeTcpPort(), SeedNodes = [seed.AkkaAddress], DataDir = dir, NodeName = $"m-{i}",
            Extra = HttpNodeFixture.VtepHocon(i) + abrupt,
        }.Build())).ToArray();
        var app = ManagementEndpoint.Build(runtime, new ManagementOptions("127.0.0.1", 0, "t"));
        try
        {
            await app.StartAsync();
            using var api = new Api(new HttpClient { BaseAddress = new Uri(app.Url()), Timeout = TimeSpan.FromSeconds(30) }, "t");
            await HttpNodeFixture.Eventually(() => Task.FromResult(runtime.Members().Count(m => m.Status == "up") == 3), TimeSpan.FromSeconds(30), "three members up");
            var blue = (await api.Create("/api/v1/networks", new { name = "blue", vni = 61, kind = "l2" }))["id"]!.GetValue<string>();
            // A node's replica holds the networks it has endpoints in (conditional monitoring).
            await api.Create("/api/v1/endpoints", new { name = "vm", network = blue, node = "m-1", port = new { kind = "guest" } });
            await HttpNodeFixture.Eventually(async () => (await runtime.GetReplicaAsync())?.Networks.Count == 1, TimeSpan.FromSeconds(10), "replica has blue");

            foreach (var p in peers) await p.System.Terminate();
            await HttpNodeFixture.Eventually(() => Task.FromResult(runtime.Node.Cluster.State.Unreachable.Count == 2), TimeSpan.FromSeconds(20), "both peers unreachable");

            var sw = Stopwatch.StartNew();
            var write = await api.Post("/api/v1/networks", new { name = "red", vni = 62, kind = "l2" });
            var took = sw.Elapsed;
            var problem = Problem.Assert(write, HttpStatusCode.ServiceUnavailable, code: "minority-partition");
            Assert.Equal("urn:fabric:problem:minority-partition", problem["type"]!.GetValue<string>());
            Assert.Equal("m-1 reaches 1 of 3 members (m-2, m-3 unreachable); writes are refused until it is back with the majority",
                problem["detail"]!.GetValue<string>());
            Assert.NotNull(write.Response.Headers.RetryAfter);
            // At once, not after waiting out the node's ask timeout (half of it leaves a loaded machine room).
            Assert.True(took < runtime.AskTimeout / 2, $"took {took.TotalMilliseconds:F0} ms (ask timeout {runtime.AskTimeout.TotalSeconds:0.#} s)");

            var read = await api.Get("/api/v1/networks");
            Assert.Equal(HttpStatusCode.OK, read.Status);
            Assert.Equal(["blue"], read.Body.AsArray().Select(n => n!["name"]!.GetValue<string>()).ToArray());
            Assert.StartsWith("replica; revision=2; reason=minority-partition", string.Join(",", read.Response.Headers.GetValues(FabricApi.ReadSourceHeader)));
            Console.WriteLine($"minority write refused over HTTP in {took.TotalMilliseconds:F0} ms");
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            foreach (var rt in peers.Append(runtime))
            {
                try { await rt.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20)); } catch (Exception) { /* best effort */ }
            }
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
