using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Akka.Actor;
using Fabric.Actors.Cluster;
using Fabric.Actors.Intent;
using Fabric.Actors.Node;
using Fabric.Nodes.Http;
using Fabric.Tests.Shared;

namespace Fabric.Nodes.Tests.Http;

/// <summary>POST /api/v1/endpoints/bulk and /bulk-delete: all of a request or nothing, the first item at fault named.</summary>
[Collection(HttpCollection.Name)]
public sealed class BulkEndpointApiTests(HttpNodeFixture node)
{
    private Api Api => node.Client;

    private async Task<string> L2Network()
        => (await Api.Create("/api/v1/networks", new { name = node.Name("bulk"), vni = node.NextVni(), kind = "l2", cidr = "10.44.0.0/16" }))["id"]!.GetValue<string>();

    private static object Guest(string name, string net, string? ip = null) => ip is null
        ? new { name, network = net, node = "elsewhere", port = new { kind = "guest" } }
        : new { name, network = net, node = "elsewhere", ip, port = new { kind = "guest" } };

    private async Task<JsonArray> EndpointsOf(string net) => (await Api.Get($"/api/v1/endpoints?network={net}")).Body.AsArray();

    [Fact]
    public async Task Creates_every_endpoint_in_request_order_and_deletes_them_in_one_request()
    {
        var net = await L2Network();
        var created = await Api.Post("/api/v1/endpoints/bulk", new { endpoints = Enumerable.Range(0, 10).Select(i => Guest($"vm{i}", net)).ToArray() });
        Assert.Equal(HttpStatusCode.Created, created.Status);
        var list = created.Body["endpoints"]!.AsArray();
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"vm{i}"), list.Select(e => e!["name"]!.GetValue<string>()));
        Assert.Equal(Enumerable.Range(1, 10).Select(i => $"10.44.0.{i}"), list.Select(e => e!["ip"]!.GetValue<string>()));
        var ids = list.Select(e => e!["id"]!.GetValue<string>()).ToArray();
        Assert.Equal(list[3]!.ToJsonString(), (await Api.Get($"/api/v1/endpoints/{ids[3]}")).Body.ToJsonString());
        Assert.Equal(10, (await EndpointsOf(net)).Count);

        var deleted = await Api.Post("/api/v1/endpoints/bulk-delete", new { ids });
        Assert.Equal(HttpStatusCode.OK, deleted.Status);
        Assert.Equal(10, deleted.Body["deleted"]!.GetValue<int>());
        Assert.Empty(await EndpointsOf(net));
    }

    [Fact]
    public async Task Item_7_of_10_wrong_writes_nothing_and_the_problem_names_endpoints_6()
    {
        var net = await L2Network();
        var items = Enumerable.Range(0, 10).Select(i => Guest($"vm{i}", net, i == 6 ? "10.45.0.1" : null)).ToArray();
        var refused = await Api.Post("/api/v1/endpoints/bulk", new { endpoints = items });
        var p = Problem.Assert(refused, HttpStatusCode.Conflict, "endpoints[6].ip", "ip-outside-network");
        Assert.StartsWith("endpoints[6]: ", p["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Empty(await EndpointsOf(net));

        // JSON that does not fit an item is named the same way
        var text = $$$"""{"endpoints": [{"name": "a", "network": "{{{net}}}", "node": "n", "port": {"kind": "guest"} }, {"name": "b", "colour": "red"} ]}""";
        Problem.Assert(await Api.Post("/api/v1/endpoints/bulk", text), HttpStatusCode.BadRequest, "endpoints[1].colour", "field-unknown");
        Problem.Assert(await Api.Post("/api/v1/endpoints/bulk", """{"endpoints": [{"name": 5}]}"""), HttpStatusCode.BadRequest, "endpoints[0].name", "field-type");
        Problem.Assert(await Api.Post("/api/v1/endpoints/bulk", new { endpoints = Array.Empty<object>() }), HttpStatusCode.BadRequest, "endpoints", "endpoints-required");
        Assert.Empty(await EndpointsOf(net));
    }

    [Fact]
    public async Task Items_of_one_request_conflict_with_each_other()
    {
        var net = await L2Network();
        var sameName = await Api.Post("/api/v1/endpoints/bulk", new { endpoints = new[] { Guest("a", net), Guest("b", net), Guest("a", net) } });
        Problem.Assert(sameName, HttpStatusCode.Conflict, "endpoints[2].name", "name-in-use");
        var sameIp = await Api.Post("/api/v1/endpoints/bulk", new { endpoints = new[] { Guest("a", net), Guest("b", net, "10.44.0.1") } });
        Problem.Assert(sameIp, HttpStatusCode.Conflict, "endpoints[1].ip", "ip-in-use");
        Assert.Empty(await EndpointsOf(net));
    }

    [Fact]
    public async Task More_than_10000_items_are_refused_and_10000_are_taken()
    {
        var net = await L2Network();
        var tooMany = await Api.Post("/api/v1/endpoints/bulk", new { endpoints = Enumerable.Range(0, 10_001).Select(i => Guest($"v{i}", net)).ToArray() });
        Problem.Assert(tooMany, HttpStatusCode.BadRequest, "endpoints", "too-many-endpoints");
        Assert.Empty(await EndpointsOf(net));

        // The largest request, well past one remoting part (400): staged, committed as one write, its answer fetched in parts.
        var sw = Stopwatch.StartNew();
        var all = await Api.Post("/api/v1/endpoints/bulk", new { endpoints = Enumerable.Range(0, 10_000).Select(i => Guest($"v{i}", net)).ToArray() });
        Console.WriteLine($"10,000 endpoints in one request: {sw.ElapsedMilliseconds} ms, {all.Text.Length} bytes answered");
        Assert.Equal(HttpStatusCode.Created, all.Status);
        var created = all.Body["endpoints"]!.AsArray();
        Assert.Equal(10_000, created.Count);
        Assert.Equal("v9999", created[^1]!["name"]!.GetValue<string>());
        var listed = await EndpointsOf(net);
        Assert.Equal(10_000, listed.Count); // read back in pages
        Assert.Equal(created.Select(e => e!["id"]!.GetValue<string>()), listed.Select(e => e!["id"]!.GetValue<string>()));

        var ids = created.Select(e => e!["id"]!.GetValue<string>()).ToArray();
        var gone = await Api.Post("/api/v1/endpoints/bulk-delete", new { ids });
        Assert.Equal(10_000, gone.Body["deleted"]!.GetValue<int>());
        Assert.Empty(await EndpointsOf(net));
    }

    [Fact]
    public async Task A_bulk_delete_with_an_unknown_id_or_a_route_target_deletes_nothing()
    {
        var net = (await Api.Create("/api/v1/networks", new { name = node.Name("bulk3"), vni = node.NextVni(), kind = "l3", cidr = "10.46.0.0/16" }))["id"]!.GetValue<string>();
        await Api.Create($"/api/v1/networks/{net}/subnets", new { name = "s", cidr = "10.46.1.0/24" });
        var created = (await Api.Create("/api/v1/endpoints/bulk", new { endpoints = new[] { Guest("a", net), Guest("b", net), Guest("fw", net) } }))["endpoints"]!.AsArray();
        var ids = created.Select(e => e!["id"]!.GetValue<string>()).ToArray();
        await Api.Create($"/api/v1/networks/{net}/route-tables/main/routes", new { destination = "0.0.0.0/0", target = new { kind = "endpoint", endpoint = ids[2] } });

        Problem.Assert(await Api.Post("/api/v1/endpoints/bulk-delete", new { ids = new[] { ids[0], "ep-99999999", ids[1] } }),
            HttpStatusCode.NotFound, "ids[1]", "endpoint-not-found");
        Problem.Assert(await Api.Post("/api/v1/endpoints/bulk-delete", new { ids = new[] { ids[0], ids[1], ids[2] } }),
            HttpStatusCode.Conflict, "ids[2]", "endpoint-is-route-target");
        Problem.Assert(await Api.Post("/api/v1/endpoints/bulk-delete", new { ids = new[] { ids[0], ids[0] } }), HttpStatusCode.BadRequest, "ids[1]", "id-duplicate");
        Assert.Equal(3, (await EndpointsOf(net)).Count);
    }

    /// <summary>
    /// A node whose configuration takes at most one pending item, with its journal held: the first bulk write waits in
    /// it, and every write that arrives meanwhile is refused at once with 503 and Retry-After, writing nothing; once the
    /// journal goes on, the first is created whole. (Held rather than raced: sixteen concurrent requests on a busy
    /// 2-core machine can each finish before the next arrives, and then nothing is refused.)
    /// </summary>
    [Fact]
    public async Task Writes_beyond_the_pending_limit_answer_503_with_Retry_After_and_write_nothing()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"fabric-http-backpressure-{Guid.NewGuid():N}");
        var config = new NodeConfig
        {
            Port = NodeConfig.FreeTcpPort(), DataDir = dir, NodeName = "bp-1",
            Extra = HttpNodeFixture.VtepHocon(1) + "\nfabric.dataplane.enabled = off\nfabric.configuration.max-pending-items = 1\nfabric.configuration.retry-after = 3s" +
                $"\nakka.persistence.journal.plugin = \"akka.persistence.journal.gated\"\nakka.persistence.journal.gated.class = \"{typeof(GatedJournal).AssemblyQualifiedName}\"",
        };
        var runtime = FabricRuntime.Start(config.Build());
        var gate = GatedJournal.For(runtime.System.Name);
        var app = ManagementEndpoint.Build(runtime, new ManagementOptions("127.0.0.1", 0, "t"));
        try
        {
            await app.StartAsync();
            using var api = new Api(new HttpClient { BaseAddress = new Uri(app.Url()), Timeout = TimeSpan.FromSeconds(60) }, "t");
            await HttpNodeFixture.Eventually(async () => (await api.Get("/health/ready")).Status == HttpStatusCode.OK, TimeSpan.FromSeconds(30), "node ready");
            var net = (await api.Create("/api/v1/networks", new { name = "bp", vni = 77, kind = "l2", cidr = "10.0.0.0/8" }))["id"]!.GetValue<string>();
            object Bulk(int r) => new { endpoints = Enumerable.Range(0, 300).Select(i => Guest($"r{r}-{i}", net)).ToArray() };

            gate.Close();
            var first = api.Post("/api/v1/endpoints/bulk", Bulk(0));
            await HttpNodeFixture.Eventually(async () =>
                await runtime.System.ActorSelection("/user/configuration/singleton").Ask<long>(ConfigurationSupervisor.GetPending.Instance, TimeSpan.FromSeconds(3)) > 0,
                TimeSpan.FromSeconds(20), "the first bulk waiting in the held journal");
            var answers = await Task.WhenAll(Enumerable.Range(1, 15).Select(r => api.Post("/api/v1/endpoints/bulk", Bulk(r))));
            Assert.False(first.IsCompleted, "the first bulk was answered while its journal write was held");
            gate.Open();
            answers = [await first, .. answers];

            var refused = answers.Select((a, r) => (a, r)).Where(x => x.a.Status == HttpStatusCode.ServiceUnavailable).ToArray();
            var accepted = answers.Select((a, r) => (a, r)).Where(x => x.a.Status == HttpStatusCode.Created).ToArray();
            Console.WriteLine($"{accepted.Length} bulk requests created, {refused.Length} refused with 503");
            Assert.Equal([0], accepted.Select(x => x.r));
            Assert.Equal(15, refused.Length);
            foreach (var (a, _) in refused)
            {
                Problem.Assert(a, HttpStatusCode.ServiceUnavailable, code: "configuration-overloaded");
                Assert.Equal(TimeSpan.FromSeconds(3), a.Response.Headers.RetryAfter?.Delta);
            }
            var names = (await api.Get($"/api/v1/endpoints?network={net}")).Body.AsArray().Select(e => e!["name"]!.GetValue<string>()).ToHashSet();
            Assert.Equal(accepted.Length * 300, names.Count);
            foreach (var (_, r) in refused) Assert.DoesNotContain($"r{r}-0", names);
            foreach (var (_, r) in accepted) Assert.Contains($"r{r}-299", names);
        }
        finally
        {
            gate.Open();
            await app.StopAsync();
            await app.DisposeAsync();
            try { await runtime.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20)); } catch (Exception) { /* best effort */ }
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
