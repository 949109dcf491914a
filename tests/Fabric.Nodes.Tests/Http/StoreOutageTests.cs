using System.Diagnostics;
using System.Net;
using Fabric.Actors.Cluster;
using Fabric.Actors.Configuration;
using Fabric.Actors.Node;
using Fabric.Actors.Tests.Support;
using Fabric.Nodes.Http;
using Fabric.Nodes.Tests.Cli;

namespace Fabric.Nodes.Tests.Http;

/// <summary>
/// The PostgreSQL store goes away and comes back under a running node: writes are refused at once with 503
/// store-unavailable, nothing refused is ever applied, and writes are accepted again soon after the store returns.
/// </summary>
[Collection(LocalClusterCollection.Name)] // not beside the cluster tests: they share the two cores
public sealed class StoreOutageTests
{
    [PostgresServerFact]
    public async Task Writes_fail_fast_while_postgresql_is_down_and_resume_when_it_returns()
    {
        await using var pg = await PostgresServer.StartAsync();
        var dir = Path.Combine(Path.GetTempPath(), $"fabric-http-store-{Guid.NewGuid():N}");
        var runtime = FabricRuntime.Start(new NodeConfig
        {
            Port = NodeConfig.FreeTcpPort(),
            DataDir = dir,
            NodeName = "store-1",
            Extra = HttpNodeFixture.VtepHocon(4) + $"""

                fabric.dataplane.enabled = off
                include "postgres.conf"
                fabric.store.connection-string = {FabricHocon.Quote(pg.ConnectionString)}
                """,
        }.Build());
        var app = ManagementEndpoint.Build(runtime, new ManagementOptions("127.0.0.1", 0, "t"));
        try
        {
            await app.StartAsync();
            using var api = new Api(new HttpClient { BaseAddress = new Uri(app.Url()), Timeout = TimeSpan.FromSeconds(30) }, "t");
            await HttpNodeFixture.Eventually(async () => (await api.Get("/health/ready")).Status == HttpStatusCode.OK, TimeSpan.FromSeconds(30), "node ready");

            string[] accepted = ["a1", "a2", "a3"];
            for (int i = 0; i < accepted.Length; i++)
            {
                var id = (await api.Create("/api/v1/networks", new { name = accepted[i], vni = 100 + i, kind = "l2" }))["id"]!.GetValue<string>();
                // A node's replica holds the networks it has endpoints in (conditional monitoring): one here in each.
                await api.Create("/api/v1/endpoints", new { name = $"vm-{i}", network = id, node = "store-1", port = new { kind = "guest" } });
            }

            await pg.StopAsync();
            var times = new List<double>();
            for (int i = 0; i < 5; i++)
            {
                var sw = Stopwatch.StartNew();
                var refused = await api.Post("/api/v1/networks", new { name = $"r{i}", vni = 200 + i, kind = "l2" });
                times.Add(sw.Elapsed.TotalMilliseconds);
                var p = Problem.Assert(refused, HttpStatusCode.ServiceUnavailable, code: "store-unavailable");
                Assert.Equal("urn:fabric:problem:store-unavailable", p["type"]!.GetValue<string>());
                Assert.NotNull(refused.Response.Headers.RetryAfter);
                Assert.True(sw.Elapsed < TimeSpan.FromSeconds(2), $"refusal {i} took {sw.Elapsed.TotalMilliseconds:F0} ms: {refused}");
                await Task.Delay(300);
            }
            // A read does not crash on the supervisor's answer: it is served from this node's replica, marked as such,
            // and holds exactly the accepted writes.
            var read = await api.Get("/api/v1/networks");
            Assert.Equal(HttpStatusCode.OK, read.Status);
            Assert.Equal(accepted, read.Body.AsArray().Select(n => n!["name"]!.GetValue<string>()).Order().ToArray());
            Assert.Contains("reason=store-unavailable", string.Join(";", read.Response.Headers.GetValues("Fabric-Read-Source")), StringComparison.Ordinal);
            Console.WriteLine($"refusals while PostgreSQL was down: {string.Join(", ", times.Select(t => $"{t:F0} ms"))}");

            await pg.StartAgainAsync();
            var back = Stopwatch.StartNew();
            Answer again;
            int attempts = 0;
            while (true)
            {
                attempts++;
                again = await api.Post("/api/v1/networks", new { name = "b1", vni = 300, kind = "l2" });
                if (again.Status == HttpStatusCode.Created) break;
                // anything but "still down" would mean an earlier attempt applied after all
                Problem.Assert(again, HttpStatusCode.ServiceUnavailable, code: "store-unavailable");
                Assert.True(back.Elapsed < TimeSpan.FromSeconds(15), $"writes not accepted 15 s after PostgreSQL returned: {again}");
                await Task.Delay(100);
            }
            Console.WriteLine($"writes accepted again {back.Elapsed.TotalMilliseconds:F0} ms after PostgreSQL returned ({attempts} attempts)");

            var names = (await api.Get("/api/v1/networks")).Body.AsArray().Select(n => n!["name"]!.GetValue<string>()).Order().ToArray();
            Assert.Equal([.. accepted, "b1"], names);
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            try { await runtime.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20)); } catch (Exception) { /* best effort */ }
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
