using System.Net;
using System.Text.Json.Nodes;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Tables;
using Fabric.Nodes.Tests.Cli;
using Xunit.Abstractions;

namespace Fabric.Nodes.Tests.Http;

/// <summary>
/// Three nodes in this process with their dataplanes on loopback and one l3 network: a (web, trace-1) and b (db,
/// trace-2) are guests, whose in-process machines answer echo requests. One cluster for every trace test.
/// </summary>
public sealed class TraceCluster : IAsyncLifetime
{
    public const int Nodes = 3;
    public const string Token = "trace-tests-token-71c4";
    private HttpCluster? _cluster;

    public static string Name(int i) => $"trace-{i + 1}";
    public HttpCluster Cluster => _cluster!;
    public Api Api => _cluster!.Apis[0];
    public string NetworkId { get; private set; } = "";
    public JsonNode A { get; private set; } = null!;
    public JsonNode B { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _cluster = await HttpCluster.StartAsync(Nodes, Token, Name, dataplane: true, prefix: "fabric-trace");
        var vni = Random.Shared.Next(4_000_000, 5_000_000);
        NetworkId = (await Api.Create("/api/v1/networks", new { name = $"trace-{vni}", vni, kind = "l3", cidr = "10.71.0.0/16" }))["id"]!.GetValue<string>();
        var web = (await Api.Create($"/api/v1/networks/{NetworkId}/subnets", new { name = "web", cidr = "10.71.1.0/24" }))["id"]!.GetValue<string>();
        var db = (await Api.Create($"/api/v1/networks/{NetworkId}/subnets", new { name = "db", cidr = "10.71.2.0/24" }))["id"]!.GetValue<string>();
        await Api.Create($"/api/v1/networks/{NetworkId}/route-tables/main/routes", new { destination = "172.16.0.0/12", target = new { kind = "blackhole" } });
        A = await Api.Create("/api/v1/endpoints", new { name = "a", network = NetworkId, subnet = web, node = Name(0), port = new { kind = "guest" } });
        B = await Api.Create("/api/v1/endpoints", new { name = "b", network = NetworkId, subnet = db, node = Name(1), port = new { kind = "guest" } });
        // Both ports plugged and both endpoints known to both nodes' dataplanes.
        for (int i = 0; i < 2; i++)
        {
            var rt = _cluster.Runtimes[i];
            await HttpNodeFixture.Eventually(() => Task.FromResult(rt.Snapshots.Current.TryGetNetwork(vni, out var n) && n.Fdb.Count == 2 && rt.Snapshots.Current.Ports.Count(p => p is not null) == 1),
                TimeSpan.FromSeconds(30), $"{Name(i)} forwards for a and b");
        }
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null) await _cluster.DisposeAsync();
    }
}

/// <summary>Issue 12, the live trace through the HTTP API: real probes across real nodes.</summary>
[Collection(LocalClusterCollection.Name)] // a three-node cluster: not beside the other cluster tests on two cores
public sealed class TraceApiTests(TraceCluster c, ITestOutputHelper output) : IClassFixture<TraceCluster>
{
    private async Task<JsonObject> Trace(object body, int node = 2)
    {
        var a = await c.Cluster.Apis[node].Post("/api/v1/trace", body);
        output.WriteLine(a.Text);
        Assert.True(a.Status == HttpStatusCode.OK, a.ToString());
        return (JsonObject)a.Body;
    }

    private static string Id(JsonNode e) => e["id"]!.GetValue<string>();
    private static string Ip(JsonNode e) => e["ip"]!.GetValue<string>();
    private static JsonObject Probe(JsonObject trace) => (JsonObject)Assert.Single(trace["probes"]!.AsArray())!;
    private static IEnumerable<JsonObject> Hops(JsonNode leg) => leg["hops"]!.AsArray().OfType<JsonObject>();
    private static string Kind(JsonObject hop) => hop["decision"]!["kind"]!.GetValue<string>();

    [Fact]
    public async Task A_trace_across_two_nodes_and_two_subnets_lists_both_nodes_with_the_route_taken_and_the_answer()
    {
        // Asked at the third node: the probe leaves a on trace-1 and reaches b on trace-2.
        var trace = await Trace(new { endpoint = Id(c.A), destination = Ip(c.B) });
        Assert.True(trace["elapsedMs"]!.GetValue<double>() < 1000, $"assembled in {trace["elapsedMs"]} ms");
        var probe = Probe(trace);
        Assert.Equal("delivered", probe["verdict"]!.GetValue<string>());
        Assert.Equal(TraceCluster.Name(1), probe["node"]!.GetValue<string>());
        Assert.StartsWith("b ", probe["port"]!.GetValue<string>());

        var hops = Hops(probe).ToArray();
        Assert.Equal([TraceCluster.Name(0), TraceCluster.Name(1)], hops.Select(h => h["node"]!.GetValue<string>()).Distinct());
        var route = hops.Single(h => Kind(h) == "routed");
        Assert.Equal(TraceCluster.Name(0), route["node"]!.GetValue<string>());
        Assert.Equal("router", route["stage"]!.GetValue<string>());
        Assert.Equal("10.71.0.0/16", route["decision"]!["details"]!["route"]!.GetValue<string>());
        Assert.Contains(TraceCluster.Name(1), hops.Single(h => Kind(h) == "encapsulated")["decision"]!["details"]!["vtep"]!.GetValue<string>());
        Assert.Equal(["received", "routed", "encapsulated", "decapsulated", "fdb-hit", "delivered"], hops.Select(Kind));
        Assert.All(hops, h => Assert.True(h["snapshotVersion"]!.GetValue<long>() > 0));
        Assert.All(hops, h => Assert.True(h["atUs"]!.GetValue<long>() > 0));

        // b's machine answered the echo: the answer is traced back to trace-1 and kept from a's VM.
        var reply = probe["reply"]!;
        Assert.Equal("delivered", reply["verdict"]!.GetValue<string>());
        Assert.Equal(["received", "routed", "encapsulated", "decapsulated", "fdb-hit", "absorbed"], Hops(reply).Select(Kind));
        Assert.Equal(TraceCluster.Name(1), Hops(reply).First()["node"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("8.8.8.8", "NoRoute")]
    [InlineData("172.16.5.5", "Blackhole")]
    public async Task A_dropped_probe_names_the_node_and_the_reason(string destination, string reason)
    {
        var probe = Probe(await Trace(new { endpoint = Id(c.A), destination, protocol = "udp", port = 53 }));
        Assert.Equal("dropped", probe["verdict"]!.GetValue<string>());
        Assert.Equal(reason, probe["reason"]!.GetValue<string>());
        Assert.Equal(TraceCluster.Name(0), probe["node"]!.GetValue<string>());
        var drop = Hops(probe).Last();
        Assert.Equal(("router", "dropped"), (drop["stage"]!.GetValue<string>(), Kind(drop)));
        Assert.Equal(reason, drop["decision"]!["details"]!["reason"]!.GetValue<string>());
        Assert.Null(probe["reply"]);
    }

    [Fact]
    public async Task A_probe_asked_to_stop_at_the_last_hop_is_counted_there_not_delivered()
    {
        var counters = c.Cluster.Runtimes[1].Snapshots.Current.Ports.Single(p => p?.Name == "b")!.Counters;
        var before = counters.TxPackets;
        var probe = Probe(await Trace(new { endpoint = Id(c.A), destination = Ip(c.B), protocol = "tcp", port = 443, stopAtLastHop = true }));
        Assert.Equal("delivered", probe["verdict"]!.GetValue<string>());
        Assert.Equal("stopped", Kind(Hops(probe).Last()));
        Assert.Equal(before, counters.TxPackets);
        Assert.Null(probe["reply"]);
    }

    [Fact]
    public async Task Bad_requests_get_problem_details_naming_the_field()
    {
        var api = c.Cluster.Apis[0];
        Problem.Assert(await api.Post("/api/v1/trace", new { endpoint = "ep-nope", destination = "10.71.2.2" }), HttpStatusCode.NotFound, "endpoint", "endpoint-not-found");
        Problem.Assert(await api.Post("/api/v1/trace", new { endpoint = Id(c.A), destination = "10.71.2" }), HttpStatusCode.BadRequest, "destination", "destination-invalid");
        Problem.Assert(await api.Post("/api/v1/trace", new { endpoint = Id(c.A) }), HttpStatusCode.BadRequest, "destination");
        Problem.Assert(await api.Post("/api/v1/trace", new { destination = "10.71.2.2" }), HttpStatusCode.BadRequest, "endpoint");
        Problem.Assert(await api.Post("/api/v1/trace", new { endpoint = Id(c.A), destination = "10.71.2.2", protocol = "sctp" }), HttpStatusCode.BadRequest, "protocol");
        Problem.Assert(await api.Post("/api/v1/trace", new { endpoint = Id(c.A), destination = "10.71.2.2", protocol = "tcp" }), HttpStatusCode.BadRequest, "port");
        Problem.Assert(await api.Post("/api/v1/trace", new { endpoint = Id(c.A), destination = "10.71.2.2", count = 11 }), HttpStatusCode.BadRequest, "count");
    }

    /// <summary>Every trace while an endpoint moves arrives (at its old port, draining, or the new one), and the new location shows.</summary>
    [Fact]
    public async Task A_trace_during_a_move_shows_the_new_location()
    {
        // An endpoint of its own: the other tests expect b where it is.
        var m = await c.Api.Create("/api/v1/endpoints", new { name = $"m-{Guid.NewGuid():N}"[..10], network = c.NetworkId, subnet = c.B["subnet"]!.GetValue<string>(),
            node = TraceCluster.Name(1), port = new { kind = "guest" } });
        await HttpNodeFixture.Eventually(async () =>
            Probe(await Trace(new { endpoint = Id(c.A), destination = Ip(m), stopAtLastHop = true }))["node"]?.GetValue<string>() == TraceCluster.Name(1),
            TimeSpan.FromSeconds(20), "m reachable on trace-2");

        var moved = await c.Api.Put($"/api/v1/endpoints/{Id(m)}/node", new { node = TraceCluster.Name(2) });
        Assert.Equal(HttpStatusCode.OK, moved.Status);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        JsonObject probe;
        do
        {
            probe = Probe(await Trace(new { endpoint = Id(c.A), destination = Ip(m), stopAtLastHop = true }, node: 1));
            Assert.Equal("delivered", probe["verdict"]!.GetValue<string>());
        } while (probe["node"]!.GetValue<string>() != TraceCluster.Name(2) && DateTime.UtcNow < deadline);
        Assert.Equal(TraceCluster.Name(2), probe["node"]!.GetValue<string>());
        Assert.Contains(TraceCluster.Name(2), Hops(probe).Single(h => Kind(h) == "encapsulated")["decision"]!["details"]!["vtep"]!.GetValue<string>());
        Assert.DoesNotContain(TraceCluster.Name(1), Hops(probe).Select(h => h["node"]!.GetValue<string>()));
    }

    /// <summary>
    /// trace-2 holds a stale table for d (it places d on trace-3, as a lost update would leave it) while trace-1 still
    /// sends to trace-2: the probe is dropped there by split horizon, and the trace names trace-2 and the reason.
    /// </summary>
    [Fact]
    public async Task A_probe_dropped_by_split_horizon_names_the_node_and_the_reason()
    {
        var vni = Random.Shared.Next(5_000_000, 6_000_000);
        var l2 = (await c.Api.Create("/api/v1/networks", new { name = $"trace-l2-{vni}", vni, kind = "l2", cidr = "10.72.0.0/16" }))["id"]!.GetValue<string>();
        var cc = await c.Api.Create("/api/v1/endpoints", new { name = "l2-c", network = l2, node = TraceCluster.Name(0), port = new { kind = "guest" } });
        var d = await c.Api.Create("/api/v1/endpoints", new { name = "l2-d", network = l2, node = TraceCluster.Name(1), port = new { kind = "guest" } });
        var rt2 = c.Cluster.Runtimes[1];
        for (int i = 0; i < 2; i++)
        {
            var rt = c.Cluster.Runtimes[i];
            await HttpNodeFixture.Eventually(() => Task.FromResult(rt.Snapshots.Current.TryGetNetwork(vni, out var n) && n.Fdb.Count == 2),
                TimeSpan.FromSeconds(20), $"{TraceCluster.Name(i)} knows c and d");
        }
        Assert.Equal("delivered", Probe(await Trace(new { endpoint = Id(cc), destination = Ip(d), stopAtLastHop = true }))["verdict"]!.GetValue<string>());

        var before = rt2.Snapshots.Current;
        before.TryGetNetwork(vni, out var live);
        var v1 = c.Cluster.Runtimes[0].Self.Vtep;
        var stale = new NetworkStateBuilder(vni, live.Name, NetworkKind.L2) { LocalVtep = rt2.Self.Vtep }
            .Member(v1).Member(c.Cluster.Runtimes[2].Self.Vtep)
            .Endpoint(MacAddress.Parse(cc["mac"]!.GetValue<string>()), Ipv4Address.Parse(Ip(cc)), Location.Remote(v1))
            .Endpoint(MacAddress.Parse(d["mac"]!.GetValue<string>()), Ipv4Address.Parse(Ip(d)), Location.Remote(c.Cluster.Runtimes[2].Self.Vtep))
            .Build();
        var tampered = before.WithNetwork(stale);
        rt2.Snapshots.Publish(tampered);
        try
        {
            var probe = Probe(await Trace(new { endpoint = Id(cc), destination = Ip(d) }));
            Assert.Equal(("dropped", "SplitHorizon", TraceCluster.Name(1)),
                (probe["verdict"]!.GetValue<string>(), probe["reason"]!.GetValue<string>(), probe["node"]!.GetValue<string>()));
            Assert.Equal(["received", "fdb-hit", "encapsulated", "decapsulated", "fdb-hit", "dropped"], Hops(probe).Select(Kind));
            Assert.Equal("bridge", Hops(probe).Last()["stage"]!.GetValue<string>());
        }
        finally
        {
            // Put the node's own table back unless its publisher installed a newer one meanwhile.
            if (ReferenceEquals(rt2.Snapshots.Current, tampered)) rt2.Snapshots.Publish(before);
        }
    }
}
