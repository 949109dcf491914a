using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Fabric.Chaos.Tests.Harness;
using Fabric.Tests.Shared;
using Xunit.Abstractions;

namespace Fabric.Chaos.Tests;

/// <summary>
/// Issue 10: kill -9 of a node of a fabric holding 20,000 endpoints. The restarted process must forward to everything
/// again (its FDB complete and right for every network it holds, and a real ping across it) within 30 s of its
/// restart, and no other node may be downed. The endpoints are made with <c>POST /api/v1/endpoints/bulk</c>: 20,000
/// single POSTs take about 15 minutes on a 2-core machine, past the suite's budget, so on a build without the bulk
/// route the case fails and says so. <c>FABRIC_CHAOS_SCALE_ENDPOINTS=N</c> runs it at another size (single POSTs
/// allowed up to 2,000); its row then says it ran at another size.
/// </summary>
[Collection(ChaosCollection.Name)]
public class KillNodeAtScaleTests(ITestOutputHelper output)
{
    private const int StandardEndpoints = 20_000;
    private const int MaxSingles = 2_000;
    private const int Victim = 3;
    private static readonly TimeSpan RecoveryBound = TimeSpan.FromSeconds(30);

    private sealed record Net(string Id, string? Subnet, int[] Span);
    private sealed record Ep(string Id, int Net, string Mac, string? Ip, int Node);

    [ChaosFact]
    public async Task Kill_9_of_a_node_of_a_fabric_of_20000_endpoints_forwards_to_everything_again_within_30_s_of_its_restart()
    {
        var total = Stopwatch.StartNew();
        var endpoints = int.TryParse(Environment.GetEnvironmentVariable("FABRIC_CHAOS_SCALE_ENDPOINTS"), CultureInfo.InvariantCulture, out var n) && n > 0 ? n : StandardEndpoints;
        // 100 endpoints a network, as issue 10's 100,000 in 1,000; at least 6 so network 5 (l3, on every node) exists for the ping.
        var networkCount = Math.Clamp(endpoints / 100, 6, 1_000);
        await using var c = await ChaosCluster.StartAsync(output, nodes: 3);

        // The bulk route first: without it (404, or 405 where /endpoints/{id} matches "bulk") this size cannot be made in time.
        var probe = await c.SendAsync(1, HttpMethod.Post, "/api/v1/endpoints/bulk", new { endpoints = Array.Empty<object>() });
        var bulk = probe.Status is not (HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed);
        Assert.True(bulk || endpoints <= MaxSingles,
            $"this case needs POST /api/v1/endpoints/bulk (issue 10; /work/shared/API.md): this build answers {probe}, and {endpoints:N0} single POSTs "
            + $"take about {endpoints / 20 / 60} min, past the suite's budget. Set FABRIC_CHAOS_SCALE_ENDPOINTS ≤ {MaxSingles} to run it with single POSTs.");

        // Networks: l2 and l3 alternating, network i spread over 1 + i % 3 nodes (as the scale harness does), so each
        // node holds some networks and not others.
        var sw = Stopwatch.StartNew();
        var nets = new Net[networkCount];
        await Parallel.ForEachAsync(Enumerable.Range(0, networkCount), new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (i, _) =>
        {
            var l3 = i % 2 == 1;
            // An l3 network a /23 of 10.100.0.0/14, its subnet the lower /24 (253 hosts for its ~100 endpoints).
            var prefix = $"10.{100 + i / 128}.{(i % 128) * 2}";
            var id = (await CreateRetryingAsync(c, 1 + i % 3, "/api/v1/networks", l3
                ? new { name = $"scale-{i}", vni = 20_000 + i, kind = "l3", cidr = $"{prefix}.0/23" }
                : (object)new { name = $"scale-{i}", vni = 20_000 + i, kind = "l2" })).Id;
            var subnet = l3 ? (await CreateRetryingAsync(c, 1 + i % 3, $"/api/v1/networks/{id}/subnets", new { name = "s", cidr = $"{prefix}.0/24" })).Id : null;
            var start = (i / 3) % 3;
            nets[i] = new Net(id, subnet, Enumerable.Range(0, 1 + i % 3).Select(t => 1 + (start + t) % 3).ToArray());
        });
        output.WriteLine($"{ChaosCluster.Stamp()} {networkCount} networks in {sw.Elapsed.TotalSeconds:0.0} s");

        // Endpoints: k in network k % M, on the (k / M)-th node of its span.
        object Body(int k)
        {
            var net = nets[k % networkCount];
            var node = $"node-{net.Span[(k / networkCount) % net.Span.Length]}";
            return net.Subnet is null
                ? new { name = $"ep-{k}", network = net.Id, node, port = new { kind = "guest" } }
                : (object)new { name = $"ep-{k}", network = net.Id, subnet = net.Subnet, node, port = new { kind = "guest" } };
        }
        var eps = new Ep?[endpoints];
        void Add(int k, JsonNode e)
        {
            var net = k % networkCount;
            eps[k] = new Ep(e["id"]!.GetValue<string>(), net, e["mac"]!.GetValue<string>().ToLowerInvariant(), e["ip"]?.GetValue<string>(),
                nets[net].Span[(k / networkCount) % nets[net].Span.Length]);
        }
        sw.Restart();
        if (bulk)
        {
            const int batch = 2_000;
            for (var from = 0; from < endpoints; from += batch)
            {
                var ks = Enumerable.Range(from, Math.Min(batch, endpoints - from)).ToArray();
                var answer = await SendRetryingAsync(c, 1 + (from / batch) % 3, HttpMethod.Post, "/api/v1/endpoints/bulk", new { endpoints = ks.Select(Body).ToArray() }, TimeSpan.FromSeconds(120));
                Assert.True(answer.Status == HttpStatusCode.Created, $"bulk create of {ks.Length} endpoints from ep-{from}: {answer}");
                var list = answer.Json!["endpoints"]!.AsArray();
                for (var i = 0; i < ks.Length; i++) Add(ks[i], list[i]!);
            }
        }
        else
        {
            await Parallel.ForEachAsync(Enumerable.Range(0, endpoints), new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (k, _) =>
                Add(k, (await CreateRetryingAsync(c, 1 + k % 3, "/api/v1/endpoints", Body(k))).Json!));
        }
        var created = sw.Elapsed;
        var all = eps.Select(e => e!).ToArray();
        output.WriteLine($"{ChaosCluster.Stamp()} {endpoints:N0} endpoints in {created.TotalSeconds:0.0} s ({(bulk ? "bulk" : "single POSTs")}, {endpoints / created.TotalSeconds:0}/s)");

        // What each node must hold: for every network, the nodes that host one of its endpoints (conditional
        // monitoring lets the others hold nothing of it).
        var byNet = all.GroupBy(e => e.Net).ToDictionary(g => g.Key, g => g.ToArray());
        var pairs = byNet.SelectMany(kv => kv.Value.Select(e => e.Node).Distinct().Select(node => (Net: kv.Key, Node: node))).ToArray();
        var victimPairs = pairs.Count(p => p.Node == Victim);

        // Converged before the fault, so what the restart must rebuild is known to be reachable.
        sw.Restart();
        var pending = await WaitCompleteAsync(c, nets, byNet, pairs, TimeSpan.FromSeconds(90));
        Assert.True(pending.Count == 0, $"before the kill, {pending.Count} node FDBs still incomplete after 90 s, e.g. {pending.FirstOrDefault().Why}");
        var converged = sw.Elapsed;
        output.WriteLine($"{ChaosCluster.Stamp()} every interested FDB complete ({pairs.Length} node FDBs) {converged.TotalSeconds:0.0} s after the last write");

        // The ping across the victim: two guests of network 5 (l3, on every node), one on node-3 and one on node-1.
        var a = all.First(e => e.Net == 5 && e.Node == Victim);
        var b = all.First(e => e.Net == 5 && e.Node == 1);
        Assert.True(await PingsAsync(c, a, b) && await PingsAsync(c, b, a), $"before the kill, {a.Ip} (node-3) and {b.Ip} (node-1) do not ping each other");

        var restartLinesBefore = RestartLines(c).Length;
        var oldPid = await c.SignalAsync(Victim, 9);
        var killed = Stopwatch.StartNew();
        await ChaosCluster.WaitUntilAsync(async () => await c.NodePidAsync(Victim) is { } p && p != oldPid, TimeSpan.FromSeconds(60), "fabric up starts node-3 again", 50);
        var processBack = killed.Elapsed;
        var restarted = Stopwatch.StartNew();
        output.WriteLine($"{ChaosCluster.Stamp()} node-3's new process {processBack.TotalSeconds:0.0} s after the kill");

        TimeSpan? own = null, everyone = null, pinged = null;
        var left = pairs.ToHashSet();
        var pingLeft = true;
        List<(int Net, int Node, string Why)> bad = [];
        while (restarted.Elapsed < TimeSpan.FromSeconds(90) && (left.Count > 0 || pingLeft))
        {
            if (left.Count > 0)
            {
                bad = await IncompleteAsync(c, nets, byNet, left.ToArray());
                left = bad.Select(x => (x.Net, x.Node)).ToHashSet();
                if (own is null && left.All(p => p.Node != Victim)) own = restarted.Elapsed;
                if (everyone is null && left.Count == 0) everyone = restarted.Elapsed;
            }
            if (pingLeft && own is not null && await PingsAsync(c, a, b) && await PingsAsync(c, b, a))
            {
                pingLeft = false;
                pinged = restarted.Elapsed;
            }
            await Task.Delay(200);
        }
        output.WriteLine($"{ChaosCluster.Stamp()} after node-3's restart: its FDB complete {S(own)}, every FDB {S(everyone)}, pings across it {S(pinged)}");

        // No write lost, and nobody but the victim restarted or downed. The wait lets a downing of the new process
        // show: on a starved machine the catch-up delays heartbeats and the split brain resolver downs it again.
        await Task.Delay(TimeSpan.FromSeconds(10));
        var listed = (await c.SendAsync(Victim, HttpMethod.Get, "/api/v1/endpoints", timeout: TimeSpan.FromSeconds(60))).Json!.AsArray().Count;
        var others = RestartLines(c).Skip(restartLinesBefore).Where(l => !l.Contains("node-3 ", StringComparison.Ordinal)).ToArray();
        var victimRestarts = RestartLines(c).Skip(restartLinesBefore).Count(l => l.Contains("node-3 restarted", StringComparison.Ordinal));
        await ChaosCluster.WaitUntilAsync(() => c.SeesUpAsync(1, "node-1", "node-2", "node-3"), TimeSpan.FromSeconds(30), "node-1 sees all three Up and reachable");
        var elapsed = total.Elapsed;
        output.WriteLine($"{ChaosCluster.Stamp()} whole case {elapsed.TotalSeconds:0} s");

        Assert.True(own is { } o1 && o1 <= RecoveryBound, $"node-3's FDB not complete within {RecoveryBound.TotalSeconds:0} s of its restart ({S(own)}); e.g. {bad.FirstOrDefault(x => x.Node == Victim).Why}");
        Assert.True(pinged is { } p1 && p1 <= RecoveryBound, $"{a.Ip} on node-3 and {b.Ip} on node-1 did not ping each other within {RecoveryBound.TotalSeconds:0} s of node-3's restart ({S(pinged)})");
        Assert.True(everyone is { } e1 && e1 <= RecoveryBound, $"every node's FDB not complete within {RecoveryBound.TotalSeconds:0} s of node-3's restart ({S(everyone)}); e.g. {bad.FirstOrDefault().Why}");
        Assert.Empty(others);
        Assert.Equal(1, victimRestarts);
        Assert.Equal(endpoints, listed);

        // Another size still writes the row (the suite's hook would otherwise call it failed), saying it is not the case's own.
        var size = endpoints == StandardEndpoints ? "" : $"NOT the case's {StandardEndpoints:N0}: FABRIC_CHAOS_SCALE_ENDPOINTS={endpoints}, {(bulk ? "bulk" : "single POSTs")}. ";
        ReliabilityLog.Record(new ReliabilityLog.Row("F11",
            $"kill -9 of node-3 of 3 holding {endpoints:N0} guest endpoints in {networkCount} networks (l2 and l3, each on 1 to 3 nodes, {victimPairs} of them on node-3), made with {(bulk ? "bulk creates" : "single POSTs")}",
            size + $"node-3 restarted by fabric up; its FDB complete and right for every network it holds, every other node's again, a ping across it both ways; no other node downed or restarted; all {listed:N0} endpoints listed. "
            + $"Created in {ReliabilityLog.Seconds(created)}, every FDB complete {ReliabilityLog.Seconds(converged)} after the last write; whole case {ReliabilityLog.Seconds(elapsed)}",
            $"new process {ReliabilityLog.Seconds(processBack)} after the kill (restart delay 1 s)",
            $"its FDB complete {S(own)} after its restart (bound 30 s), every FDB {S(everyone)}, ping across it {S(pinged)}",
            "n/a (no traffic during the fault)", "0",
            nameof(Kill_9_of_a_node_of_a_fabric_of_20000_endpoints_forwards_to_everything_again_within_30_s_of_its_restart)));
    }

    private static string S(TimeSpan? t) => t is { } v ? ReliabilityLog.Seconds(v) : "never (90 s)";

    private static string[] RestartLines(ChaosCluster c)
        => c.Log.Split('\n').Where(l => l.Contains(" exited", StringComparison.Ordinal) || l.Contains(" restarted", StringComparison.Ordinal)).ToArray();

    /// <summary>A write, retried while it answers 503 with Retry-After (backpressure) unless its outcome is unknown.</summary>
    private static async Task<ChaosCluster.Answer> SendRetryingAsync(ChaosCluster c, int node, HttpMethod method, string path, object body, TimeSpan? timeout = null)
    {
        for (var attempt = 0; ; attempt++)
        {
            var answer = await c.SendAsync(node, method, path, body, timeout);
            if (answer.Status != HttpStatusCode.ServiceUnavailable || attempt >= 20 || answer.Body.Contains("configuration-unavailable", StringComparison.Ordinal)) return answer;
            await Task.Delay(1000);
        }
    }

    private static async Task<ChaosCluster.Answer> CreateRetryingAsync(ChaosCluster c, int node, string path, object body)
    {
        var answer = await SendRetryingAsync(c, node, HttpMethod.Post, path, body);
        Assert.True(answer.Status == HttpStatusCode.Created, $"POST {path} on node-{node}: {answer}");
        return answer;
    }

    private static async Task<bool> PingsAsync(ChaosCluster c, Ep from, Ep to)
    {
        try
        {
            var answer = await c.SendAsync(from.Node, HttpMethod.Post, $"/api/v1/endpoints/{from.Id}/ping", new { target = to.Ip, count = 2 }, TimeSpan.FromSeconds(10));
            return answer.Status == HttpStatusCode.OK && answer.Json!["received"]!.GetValue<int>() > 0;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { return false; }
    }

    private static async Task<List<(int Net, int Node, string Why)>> WaitCompleteAsync(ChaosCluster c, Net[] nets, Dictionary<int, Ep[]> byNet, (int Net, int Node)[] pairs, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        var left = pairs;
        List<(int Net, int Node, string Why)> bad = [];
        while (clock.Elapsed < timeout && left.Length > 0)
        {
            bad = await IncompleteAsync(c, nets, byNet, left);
            left = bad.Select(x => (x.Net, x.Node)).ToArray();
            if (left.Length > 0) await Task.Delay(500);
        }
        return bad;
    }

    /// <summary>Of <paramref name="pairs"/>, the node FDBs of a network that lack an endpoint of it or hold it at the wrong place (8 requests at a time).</summary>
    private static async Task<List<(int Net, int Node, string Why)>> IncompleteAsync(ChaosCluster c, Net[] nets, Dictionary<int, Ep[]> byNet, (int Net, int Node)[] pairs)
    {
        var bad = new System.Collections.Concurrent.ConcurrentBag<(int, int, string)>();
        await Parallel.ForEachAsync(pairs, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (p, _) =>
        {
            if (await WhyIncompleteAsync(c, nets[p.Net].Id, byNet[p.Net], p.Node) is { } why) bad.Add((p.Net, p.Node, why));
        });
        return bad.ToList();
    }

    private static async Task<string?> WhyIncompleteAsync(ChaosCluster c, string network, Ep[] expected, int node)
    {
        Dictionary<string, string> fdb;
        try
        {
            var answer = await c.SendAsync(node, HttpMethod.Get, $"/api/v1/nodes/node-{node}/fdb?network={network}", timeout: TimeSpan.FromSeconds(5));
            if (answer.Status != HttpStatusCode.OK) return $"node-{node} answered {(int)answer.Status} for {network}";
            fdb = answer.Json!["entries"]!.AsArray().ToDictionary(e => e!["mac"]!.GetValue<string>().ToLowerInvariant(), e => e!["location"]!.GetValue<string>());
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException or ArgumentException)
        {
            return $"node-{node} did not answer for {network}: {e.Message}";
        }
        foreach (var e in expected)
        {
            if (!fdb.TryGetValue(e.Mac, out var location)) return $"node-{node} lacks {e.Mac} ({e.Id}) of {network}";
            var right = e.Node == node ? location.StartsWith("local:", StringComparison.Ordinal)
                : location == $"vtep:{c.UnderlayAddress(e.Node)}" || location.StartsWith($"vtep:{c.UnderlayAddress(e.Node)}:", StringComparison.Ordinal);
            if (!right) return $"node-{node} has {e.Mac} ({e.Id}) of {network} at {location}, expected on node-{e.Node}";
        }
        return null;
    }
}
