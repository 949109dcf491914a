using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Fabric.Tests.Shared;
using Xunit.Abstractions;

namespace Fabric.Nodes.Tests.Http;

/// <summary>
/// API abuse: many conflicting writes at once, and a set of bad bodies. The configuration singleton decides one
/// command at a time, so of N writes that cannot all hold exactly one wins and the others are 409 problems naming the
/// field; a write's answer describes that write; and afterwards the listing shows exactly the winner.
/// </summary>
[Collection(HttpCollection.Name)]
public sealed class ApiAbuseTests(HttpNodeFixture node, ITestOutputHelper output)
{
    private const int N = 16;
    private Api Api => node.Client;

    /// <summary>Runs the writes all at once (released together) and returns their answers and the wall-clock time.</summary>
    private static async Task<(Answer[] Answers, TimeSpan Took)> Race(IEnumerable<Func<Task<Answer>>> writes)
    {
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tasks = writes.Select(w => Task.Run(async () => { await start.Task; return await w(); })).ToArray();
        var sw = Stopwatch.StartNew();
        start.SetResult();
        var answers = await Task.WhenAll(tasks);
        return (answers, sw.Elapsed);
    }

    private static string Ms(TimeSpan t) => $"{t.TotalMilliseconds:F0} ms";

    [Fact]
    public async Task Concurrent_creates_of_networks_with_one_vni_have_exactly_one_winner()
    {
        var vni = node.NextVni();
        var names = Enumerable.Range(0, N).Select(_ => node.Name("race-vni")).ToArray();
        var (answers, took) = await Race(names.Select(n => (Func<Task<Answer>>)(() => Api.Post("/api/v1/networks", new { name = n, vni, kind = "l2" }))));
        output.WriteLine($"{N} concurrent POST /networks with vni {vni}: {string.Join(", ", answers.GroupBy(a => (int)a.Status).Select(g => $"{g.Key} x{g.Count()}"))} in {Ms(took)}");

        var won = Assert.Single(answers, a => a.Status == HttpStatusCode.Created);
        foreach (var a in answers.Where(a => a != won)) Problem.Assert(a, HttpStatusCode.Conflict, "vni", "vni-in-use");
        var listed = (await Api.Get("/api/v1/networks")).Body.AsArray().Where(n => n!["vni"]!.GetValue<int>() == vni).ToArray();
        var only = Assert.Single(listed);
        Assert.Equal(won.Body["id"]!.GetValue<string>(), only!["id"]!.GetValue<string>());
        Assert.Equal(won.Body["name"]!.GetValue<string>(), only["name"]!.GetValue<string>());
        Assert.Contains(only["name"]!.GetValue<string>(), names);

        ReliabilityLog.Record(new("B9", $"{N} concurrent POST /api/v1/networks, same vni, different names",
            $"exactly one 201, {N - 1}× 409 vni-in-use naming `vni`; listing holds only the winner",
            $"per request, all {N} answered in {Ms(took)}", "n/a (no outage)", "n/a", "0 (the one 201 is listed)",
            nameof(Concurrent_creates_of_networks_with_one_vni_have_exactly_one_winner)));
    }

    [Fact]
    public async Task Concurrent_creates_of_endpoints_with_one_ip_have_exactly_one_winner()
    {
        var net = await Api.Create("/api/v1/networks", new { name = node.Name("race-ip"), vni = node.NextVni(), kind = "l3", cidr = "10.9.0.0/16" });
        var netId = net["id"]!.GetValue<string>();
        var subnet = (await Api.Create($"/api/v1/networks/{netId}/subnets", new { name = "s", cidr = "10.9.1.0/24" }))["id"]!.GetValue<string>();
        var (answers, took) = await Race(Enumerable.Range(0, N).Select(i => (Func<Task<Answer>>)(() =>
            Api.Post("/api/v1/endpoints", new { name = $"vm{i}", network = netId, subnet, node = "elsewhere", ip = "10.9.1.10", port = new { kind = "guest" } }))));
        output.WriteLine($"{N} concurrent POST /endpoints with ip 10.9.1.10: {string.Join(", ", answers.GroupBy(a => (int)a.Status).Select(g => $"{g.Key} x{g.Count()}"))} in {Ms(took)}");

        var won = Assert.Single(answers, a => a.Status == HttpStatusCode.Created);
        foreach (var a in answers.Where(a => a != won)) Problem.Assert(a, HttpStatusCode.Conflict, "ip", "ip-in-use");
        var listed = (await Api.Get($"/api/v1/endpoints?network={netId}")).Body.AsArray();
        var only = Assert.Single(listed);
        Assert.Equal(won.Body["id"]!.GetValue<string>(), only!["id"]!.GetValue<string>());
        Assert.Equal("10.9.1.10", only["ip"]!.GetValue<string>());
        // The losers left nothing behind: their MACs and names are free for the next write.
        await Api.Create("/api/v1/endpoints", new { name = "vm-after", network = netId, subnet, node = "elsewhere", port = new { kind = "guest" } });

        ReliabilityLog.Record(new("B10", $"{N} concurrent POST /api/v1/endpoints, same ip in the same subnet, different names",
            $"exactly one 201, {N - 1}× 409 ip-in-use naming `ip`; listing holds only the winner, losers left nothing behind",
            $"per request, all {N} answered in {Ms(took)}", "n/a (no outage)", "n/a", "0 (the one 201 is listed)",
            nameof(Concurrent_creates_of_endpoints_with_one_ip_have_exactly_one_winner)));
    }

    [Fact]
    public async Task Concurrent_moves_and_a_delete_of_one_endpoint_are_decided_in_one_order()
    {
        var net = await Api.Create("/api/v1/networks", new { name = node.Name("race-move"), vni = node.NextVni(), kind = "l2" });
        var netId = net["id"]!.GetValue<string>();

        // N moves of one endpoint to N different nodes: every one is applied, in some order; each answer is its own
        // move (the node it asked for, its place in the order), and the listing shows the last one.
        var ep = (await Api.Create("/api/v1/endpoints", new { name = "mover", network = netId, node = "start", port = new { kind = "guest" } }))["id"]!.GetValue<string>();
        var targets = Enumerable.Range(0, N).Select(i => $"host-{i}").ToArray();
        var (moves, tookMoves) = await Race(targets.Select(t => (Func<Task<Answer>>)(() => Api.Put($"/api/v1/endpoints/{ep}/node", new { node = t }))));
        output.WriteLine($"{N} concurrent moves: {string.Join(", ", moves.Select(m => $"{(int)m.Status} {m.Json?["node"]}@{m.Json?["moveSeq"]}"))} in {Ms(tookMoves)}");
        Assert.All(moves, m => Assert.True(m.Status == HttpStatusCode.OK, m.ToString()));
        for (int i = 0; i < N; i++) Assert.Equal(targets[i], moves[i].Body["node"]!.GetValue<string>());
        var seqs = moves.Select(m => m.Body["moveSeq"]!.GetValue<long>()).Order().ToArray();
        Assert.Equal(Enumerable.Range(1, N).Select(i => (long)i), seqs);
        var last = moves.Single(m => m.Body["moveSeq"]!.GetValue<long>() == N);
        var listed = Assert.Single((await Api.Get($"/api/v1/endpoints?network={netId}")).Body.AsArray());
        Assert.Equal(last.Body["node"]!.GetValue<string>(), listed!["node"]!.GetValue<string>());
        Assert.Equal(N, listed["moveSeq"]!.GetValue<long>());

        // N - 1 moves and a delete of another endpoint: the delete wins at some point in the order; the moves before
        // it were applied (200, consecutive sequence numbers), those after it find nothing (404), and it is gone.
        var ep2 = (await Api.Create("/api/v1/endpoints", new { name = "doomed", network = netId, node = "start", port = new { kind = "guest" } }))["id"]!.GetValue<string>();
        // The delete is sent when the first move has answered, so it lands among the others, not before them all.
        var firstMove = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var writes = targets.Take(N - 1).Select(t => (Func<Task<Answer>>)(async () =>
            {
                try { return await Api.Put($"/api/v1/endpoints/{ep2}/node", new { node = t }); }
                finally { firstMove.TrySetResult(); }
            }))
            .Append(async () => { await firstMove.Task; return await Api.Delete($"/api/v1/endpoints/{ep2}"); }).ToArray();
        var (mixed, tookMixed) = await Race(writes);
        output.WriteLine($"{N - 1} moves + 1 delete: {string.Join(", ", mixed.Select(m => $"{(int)m.Status} {m.Json?["node"]}@{m.Json?["moveSeq"]}"))} in {Ms(tookMixed)}");
        Assert.Equal(HttpStatusCode.NoContent, mixed[^1].Status);
        var applied = mixed[..^1].Where(m => m.Status == HttpStatusCode.OK).ToArray();
        foreach (var m in mixed[..^1].Where(m => m.Status != HttpStatusCode.OK)) Problem.Assert(m, HttpStatusCode.NotFound, "endpointId", "endpoint-not-found");
        Assert.Equal(Enumerable.Range(1, applied.Length).Select(i => (long)i), applied.Select(m => m.Body["moveSeq"]!.GetValue<long>()).Order());
        for (int i = 0; i < N - 1; i++)
            if (mixed[i].Status == HttpStatusCode.OK) Assert.Equal(targets[i], mixed[i].Body["node"]!.GetValue<string>());
        Assert.DoesNotContain((await Api.Get($"/api/v1/endpoints?network={netId}")).Body.AsArray(), e => e!["id"]!.GetValue<string>() == ep2);
        Problem.Assert(await Api.Get($"/api/v1/endpoints/{ep2}"), HttpStatusCode.NotFound, "endpointId");

        ReliabilityLog.Record(new("B11", $"{N} concurrent PUT /api/v1/endpoints/{{id}}/node to {N} nodes; then {N - 1} moves racing 1 DELETE",
            $"moves: all 200, each answer its own node, moveSeq 1..{N} once each, listing shows the last; with the delete: {applied.Length} moves applied before it (200), {N - 1 - applied.Length} after it 404, endpoint gone",
            $"per request, {N} moves answered in {Ms(tookMoves)}, moves + delete in {Ms(tookMixed)}", "n/a (no outage)", "n/a", "0",
            nameof(Concurrent_moves_and_a_delete_of_one_endpoint_are_decided_in_one_order)));
    }

    [Fact]
    public async Task Concurrent_route_table_bindings_of_one_subnet_each_answer_their_own()
    {
        var net = (await Api.Create("/api/v1/networks", new { name = node.Name("race-bind"), vni = node.NextVni(), kind = "l3", cidr = "10.8.0.0/16" }))["id"]!.GetValue<string>();
        var subnet = (await Api.Create($"/api/v1/networks/{net}/subnets", new { name = "s", cidr = "10.8.1.0/24" }))["id"]!.GetValue<string>();
        var tables = Enumerable.Range(0, N).Select(i => $"rt{i}").ToArray();
        foreach (var t in tables) await Api.Create($"/api/v1/networks/{net}/route-tables", new { name = t });
        var (answers, took) = await Race(tables.Select(t => (Func<Task<Answer>>)(() => Api.Put($"/api/v1/networks/{net}/subnets/{subnet}/route-table", new { routeTable = t }))));
        output.WriteLine($"{N} concurrent bindings: {string.Join(", ", answers.Select(a => $"{(int)a.Status} {a.Json?["routeTable"]}"))} in {Ms(took)}");
        for (int i = 0; i < N; i++)
        {
            Assert.True(answers[i].Status == HttpStatusCode.OK, answers[i].ToString());
            Assert.Equal(tables[i], answers[i].Body["routeTable"]!.GetValue<string>());
        }
        var listed = (await Api.Get($"/api/v1/networks/{net}")).Body["subnets"]!.AsArray().Single(s => s!["id"]!.GetValue<string>() == subnet)!;
        Assert.Contains(listed["routeTable"]!.GetValue<string>(), tables);
    }

    [Fact]
    public async Task Bad_bodies_are_refused_with_their_status_and_write_nothing()
    {
        const string path = "/api/v1/networks";
        var before = (await Api.Get(path)).Body.AsArray().Count;
        var cases = new (string Case, Func<Task<Answer>> Send, HttpStatusCode Status, string? Code)[]
        {
            ("body > 1 MiB", () => Api.Post(path, "{\"name\": \"" + new string('a', 1024 * 1024 + 10) + "\"}"), HttpStatusCode.RequestEntityTooLarge, "body-too-large"),
            ("200-deep JSON", () => Api.Post(path, "{\"name\": " + new string('[', 200) + new string(']', 200) + "}"), HttpStatusCode.BadRequest, null),
            ("100-deep unknown field", () => Api.Post(path, "{\"x\": " + string.Concat(Enumerable.Repeat("{\"a\": ", 100)) + "1" + new string('}', 101)), HttpStatusCode.BadRequest, null),
            ("vni as string", () => Api.Post(path, """{"name": "a", "vni": "5", "kind": "l2"}"""), HttpStatusCode.BadRequest, "field-type"),
            ("vni 5.5", () => Api.Post(path, """{"name": "a", "vni": 5.5, "kind": "l2"}"""), HttpStatusCode.BadRequest, "field-type"),
            ("name as number", () => Api.Post(path, """{"name": 7, "vni": 5, "kind": "l2"}"""), HttpStatusCode.BadRequest, "field-type"),
            ("unknown field", () => Api.Post(path, """{"name": "a", "vni": 5, "kind": "l2", "colour": "blue"}"""), HttpStatusCode.BadRequest, "field-unknown"),
            ("duplicate key", () => Api.Post(path, """{"name": "a", "vni": 5, "vni": 6, "kind": "l2"}"""), HttpStatusCode.BadRequest, null),
            ("truncated JSON", () => Api.Post(path, "{\"name\": \"a\", "), HttpStatusCode.BadRequest, "json-invalid"),
            ("form body", () => Api.Send(HttpMethod.Post, path, "name=a&vni=5", "application/x-www-form-urlencoded"), HttpStatusCode.UnsupportedMediaType, "content-type-unsupported"),
        };
        var seen = new List<string>();
        var slowest = TimeSpan.Zero;
        foreach (var (name, send, status, code) in cases)
        {
            var sw = Stopwatch.StartNew();
            var a = await send();
            slowest = sw.Elapsed > slowest ? sw.Elapsed : slowest;
            Problem.Assert(a, status, code: code);
            seen.Add($"{name} {(int)a.Status}");
        }
        output.WriteLine($"{string.Join("; ", seen)}; slowest answer {Ms(slowest)}");
        Assert.Equal(before, (await Api.Get(path)).Body.AsArray().Count);
        // The node still takes a good write afterwards.
        await Api.Create(path, new { name = node.Name("after-abuse"), vni = node.NextVni(), kind = "l2" });

        ReliabilityLog.Record(new("B8", "HTTP bad bodies: " + string.Join(", ", seen),
            "each refused with an RFC 9457 problem (its code where it has one); nothing written; next good write 201",
            $"per request, slowest answer {Ms(slowest)}", "n/a (no outage)", "n/a", "0",
            nameof(Bad_bodies_are_refused_with_their_status_and_write_nothing)));
    }
}
