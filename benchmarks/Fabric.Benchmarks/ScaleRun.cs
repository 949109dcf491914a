using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Fabric.Benchmarks;

/// <summary>One run of the scale harness against a formed cluster (see <see cref="ScaleHarness"/>).</summary>
internal sealed partial class ScaleRun(ScaleHarness.UpProcess up, ScaleHarness.Options o)
{
    /// <summary>A network: its id, its l3 subnet, and the nodes its endpoints are spread over.</summary>
    private sealed record Net(string Id, string? Subnet, int Index, int[] Span);

    /// <summary>An endpoint the harness created: k is its index (name ep-k), Node where it is now.</summary>
    private sealed record Created(int K, string Id, int Net, string Mac, int Node);

    /// <summary>Latencies of one kind of change (ms from sending the write until every interested FDB shows it).</summary>
    private sealed class Samples
    {
        public readonly ConcurrentBag<double> Ms = new();
        public int Count;
        public int Missing;
        public string Cell => Count == 0 ? "–" : $"{F(P(Ms, 50))} / {F(P(Ms, 99))} ({Count}, {Missing})";
    }

    /// <summary>A check of FDBs against what the harness created and placed.</summary>
    private sealed record FdbCheck(int Networks, int Requests, int Pairs, int Entries, int Missing, int Wrong, int Failed, int UninterestedWithEntries, TimeSpan Took, string? Example)
    {
        public bool Complete => Missing == 0 && Wrong == 0 && Failed == 0;
        public string Cell => $"{Networks} nets, {Pairs} node FDBs, {Entries:N0} entries: {(Complete ? "complete" : $"{Missing} missing, {Wrong} wrong, {Failed} unanswered")} in {Took.TotalSeconds:0.0} s"
            + (UninterestedWithEntries >= 0 ? $"; FDBs of uninterested nodes holding entries: {UninterestedWithEntries} of {Requests - Pairs}" : "");
    }

    private sealed record KillResult(string Victim, int Endpoints, double? ProcessBackS, double? OwnFdbS, double? AllFdbS, int VictimExits, string Members, string? Problem)
    {
        public string Cell => ProcessBackS is null ? $"{Victim}: no new process ({Problem})"
            : $"{Victim}: process back {ProcessBackS:0.0} s after the kill; its FDB complete {(OwnFdbS is { } a ? $"{a:0.0} s" : "never")}, every FDB {(AllFdbS is { } b ? $"{b:0.0} s" : "never")} after its restart"
              + $"; members then {Members}" + (Problem is null ? "" : $" ({Problem})");
    }

    private sealed class Row
    {
        public int Endpoints;
        public double AtS;
        public string Mode = "";
        public double Rate;
        public double RequestP50, RequestP99;
        public int Retried503, Errors;
        public FdbCheck? Check;
        public string SingleLoad = "–", SingleAfter = "–", BulkItem = "–", Move = "–";
        // New endpoints (single POSTs) once the fabric has taken the load (the issue's target), and during a bulk load.
        public List<double> NewMs = [];
        public int NewMissing;
        public List<double> NewLoadMs = [];
        public double QuietAfterS;
        public int NewLoadMissing;
        public Samples MoveSamples = new();
        public string Rss = "", IdleCpu = "", Members = "";
        public long MaxRssMb;
        public double MaxIdleCpu;
        public KillResult? Kill;
        public int Unexpected;
    }

    private static readonly TimeSpan ReachTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan KillGrace = TimeSpan.FromSeconds(10);
    private readonly Stopwatch _wall = Stopwatch.StartNew();
    private readonly DateTime _startedUtc = DateTime.UtcNow;
    private readonly object _gate = new();
    private readonly List<Net> _networks = [];
    private readonly Dictionary<int, Created> _eps = [];
    private readonly List<List<int>> _netEps = [];
    private int[,] _hosts = new int[0, 0];
    private int _nextK = -1;
    private readonly ConcurrentQueue<DateTime> _createdAt = new();
    private readonly ConcurrentDictionary<string, Samples> _reach = new();
    private readonly List<Task> _reachTasks = [];
    private readonly ConcurrentBag<double> _requestMs = new();
    private readonly ConcurrentDictionary<string, int> _retried503 = new();
    private readonly List<Row> _rows = [];
    private readonly List<string> _notes = [];
    private readonly List<(DateTime From, DateTime To, string Victim)> _killWindows = [];
    private readonly HashSet<string> _expectedRestartLines = [];
    private int _errors;
    private string? _lastError;
    private HttpClient[] _clients = [];
    private bool _bulk;
    private string _idleEmpty = "", _rssEmpty = "";
    private FdbCheck? _finalCheck;

    private IReadOnlyList<ScaleHarness.NodeInfo> Nodes => up.Nodes;
    private HttpClient Client(int i) => _clients[((i % _clients.Length) + _clients.Length) % _clients.Length];
    private int Sample => o.Sample > 0 ? o.Sample : _bulk ? 1000 : 50;
    private int CreatedCount { get { lock (_gate) return _eps.Count; } }

    public async Task<string?> RunAsync()
    {
        _clients = Nodes.Select(n =>
        {
            var c = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = new Uri(n.Http), Timeout = TimeSpan.FromSeconds(120) };
            c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", up.Token);
            return c;
        }).ToArray();

        // Empty cluster first: the baseline for RSS and idle CPU.
        await Task.Delay(TimeSpan.FromSeconds(5));
        _rssEmpty = Rss().Text;
        _idleEmpty = (await IdleCpuAsync()).Text;
        Console.WriteLine($"empty: RSS {_rssEmpty} MB, idle CPU {_idleEmpty} % of a core ({o.IdleSeconds} s)");

        // Bulk creation when the API has it (API.md describes it); an absent route is 404 (or 405 where
        // /endpoints/{id} matches "bulk"), anything else (201 or a 400 for the empty list) means it is there.
        using (var probe = await Client(0).PostAsJsonAsync("/api/v1/endpoints/bulk", new { endpoints = Array.Empty<object>() }))
            _bulk = probe.StatusCode is not (HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed);
        Console.WriteLine($"endpoint creation: {Mode}");

        var sw = Stopwatch.StartNew();
        if (await CreateNetworksAsync() is { } netStop) return $"while creating networks: {netStop}";
        _hosts = new int[_networks.Count, Nodes.Count];
        var spans = _networks.GroupBy(n => n.Span.Length).OrderBy(g => g.Key).Select(g => $"{g.Count()} on {g.Key} node{(g.Key > 1 ? "s" : "")}");
        _notes.Add($"{o.Networks:N0} networks ({(o.Networks + 1) / 2} l2, {o.Networks / 2} l3 with one subnet each; {string.Join(", ", spans)}) created in {sw.Elapsed.TotalSeconds:0.0} s, "
            + $"each network and subnet one POST, {o.Concurrency} at a time");
        Console.WriteLine(_notes[^1]);

        foreach (var target in o.Checkpoints)
        {
            var last = target == o.Checkpoints[^1];
            var row = new Row { Mode = Mode };
            _requestMs.Clear();
            _reach.Clear();
            var retriedBefore = _retried503.Values.Sum();
            var errorsBefore = _errors;
            var before = CreatedCount;
            var segment = Stopwatch.StartNew();
            var stop = _bulk ? await BulkLoadAsync(target) : await SingleLoadAsync(target);
            var loadS = segment.Elapsed.TotalSeconds;
            row.Mode = Mode;
            row.Endpoints = CreatedCount;
            row.Rate = (row.Endpoints - before) / loadS;
            // "After the load" starts once the fabric has taken it: every tracked item of the load has reached its nodes,
            // and no node is still busy with it (a 1,000-item bulk into 1,000 new networks starts 1,000 VTEPs a node).
            await DrainReachAsync();
            row.QuietAfterS = await QuietAsync();
            for (var i = 0; i < o.SinglesAfter && stop is null; i++)
            {
                await CreateSingleAsync("single-after");
                await Task.Delay(100);
            }
            await DrainReachAsync();
            row.Endpoints = CreatedCount;
            row.RequestP50 = P(_requestMs, 50);
            row.RequestP99 = P(_requestMs, 99);
            row.Retried503 = _retried503.Values.Sum() - retriedBefore;
            row.Errors = _errors - errorsBefore;
            row.SingleLoad = Cell("single-load");
            row.SingleAfter = Cell("single-after");
            row.BulkItem = Cell("bulk-item");
            if (_reach.TryGetValue("single-after", out var after)) { row.NewMs.AddRange(after.Ms); row.NewMissing += after.Missing; }
            if (_reach.TryGetValue("single-load", out var during)) { row.NewLoadMs.AddRange(during.Ms); row.NewLoadMissing += during.Missing; }
            Console.WriteLine($"checkpoint {row.Endpoints:N0}: loaded in {loadS:0.0} s ({row.Rate:0.0}/s, {Mode}); request p50 {row.RequestP50:0} p99 {row.RequestP99:0} ms; "
                + $"503 retried {row.Retried503}, errors {row.Errors}; reach single during load {row.SingleLoad}, after {row.SingleAfter} (quiet {row.QuietAfterS:0.0} s after the load), bulk item {row.BulkItem}");
            if (_lastError is not null) Console.WriteLine($"  last error: {_lastError}");

            if (stop is null)
            {
                row.Check = await CheckFdbAsync(last || o.CheckNetworks <= 0 ? null : o.CheckNetworks, uninterested: last);
                if (last) _finalCheck = row.Check;
                Console.WriteLine($"  FDB check: {row.Check.Cell}{(row.Check.Example is { } ex ? $"; e.g. {ex}" : "")}");
                row.MoveSamples = await MovesAsync();
                row.Move = row.MoveSamples.Cell;
                Console.WriteLine($"  moves: {row.Move}");
            }
            var rss = Rss();
            row.Rss = rss.Text;
            row.MaxRssMb = rss.Max;
            if (stop is null)
            {
                var idle = await IdleCpuAsync();
                row.IdleCpu = idle.Text;
                row.MaxIdleCpu = idle.Max;
            }
            row.Members = await MembersAsync();
            row.AtS = _wall.Elapsed.TotalSeconds;
            Console.WriteLine($"  RSS {row.Rss} MB; idle CPU {row.IdleCpu} % of a core; members {row.Members}");
            stop ??= Stop();
            if (stop is null && !AllUp(row.Members)) stop = $"a member is not up: {row.Members}";
            if (stop is null && !_bulk && row.RequestP99 > 10_000) stop = $"p99 create {row.RequestP99:0} ms > 10 s";
            if (stop is null && (o.Kill == ScaleHarness.KillAt.Every || (o.Kill == ScaleHarness.KillAt.Last && last)))
            {
                row.Kill = await KillNineAsync();
                Console.WriteLine($"  kill -9: {row.Kill.Cell}");
                stop = Stop();
            }
            row.Unexpected = UnexpectedRestarts().Count;
            _rows.Add(row);
            if (stop is not null) return stop;
            if (row.Endpoints >= o.Endpoints) break;
        }
        return Stop() ?? (CreatedCount >= o.Endpoints ? null : "budget");
    }

    private string Mode => _bulk ? $"POST /api/v1/endpoints/bulk, {o.Batch} a request, {o.BulkConcurrency} in flight, plus a single POST every {o.SingleEveryMs} ms"
        : $"single POSTs, {o.Concurrency} at a time (no bulk route)";

    private string Cell(string kind) => _reach.TryGetValue(kind, out var s) ? s.Cell : "–";

    /// <summary>Why the run must stop now, or null: a node exited or restarted other than by the harness's kill, or the budget is spent.</summary>
    private string? Stop()
    {
        if (UnexpectedRestarts() is { Count: > 0 } lines) return $"a node exited or was restarted: {string.Join(" | ", lines.Take(3))}";
        if (_wall.Elapsed > TimeSpan.FromMinutes(o.Minutes)) return $"budget of {o.Minutes} min spent";
        return null;
    }

    private IReadOnlyList<string> UnexpectedRestarts()
    {
        lock (_expectedRestartLines) return up.RestartLines.Where(l => !_expectedRestartLines.Contains(l)).ToArray();
    }

    private static bool AllUp(string members) => members.Split(" / ").All(m => m.Equals("up", StringComparison.OrdinalIgnoreCase));

    // ---- networks ----

    /// <summary>Network i is spread over 1 + i % K nodes starting at node (i / K) % K, so every node holds some networks and not others.</summary>
    private int[] SpanOf(int i)
    {
        var k = Nodes.Count;
        var start = (i / k) % k;
        return Enumerable.Range(0, 1 + (i % k)).Select(t => (start + t) % k).ToArray();
    }

    private async Task<string?> CreateNetworksAsync()
    {
        var nets = new Net?[o.Networks];
        var next = -1;
        string? stop = null;
        async Task Worker()
        {
            while (stop is null)
            {
                var i = Interlocked.Increment(ref next);
                if (i >= o.Networks) return;
                if (Stop() is { } why) { stop = why; return; }
                try { nets[i] = await CreateNetworkAsync(i); }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException or InvalidOperationException) { stop = e.Message; }
            }
        }
        await Task.WhenAll(Enumerable.Range(0, o.Concurrency).Select(_ => Worker()));
        if (stop is not null) return stop;
        _networks.AddRange(nets.Select(n => n!));
        foreach (var _ in _networks) _netEps.Add([]);
        return null;
    }

    private async Task<Net> CreateNetworkAsync(int i)
    {
        var l3 = i % 2 == 1;
        // Each network its own /20 of 10.0.0.0/8 (room for 4,096 networks); the l3 subnet is the lower /21 (2,045 hosts).
        var baseAddr = (10u << 24) + (uint)i * 4096;
        static string Addr(uint a) => $"{a >> 24}.{(a >> 16) & 255}.{(a >> 8) & 255}.{a & 255}";
        object body = l3
            ? new { name = $"scale-{i}", vni = 100_000 + i, kind = "l3", cidr = $"{Addr(baseAddr)}/20" }
            : new { name = $"scale-{i}", vni = 100_000 + i, kind = "l2" };
        var net = await PostCreatedAsync(Client(i), "/api/v1/networks", body);
        var id = net["id"]!.GetValue<string>();
        string? subnet = null;
        if (l3) subnet = (await PostCreatedAsync(Client(i), $"/api/v1/networks/{id}/subnets", new { name = "s", cidr = $"{Addr(baseAddr)}/21" }))["id"]!.GetValue<string>();
        return new Net(id, subnet, i, SpanOf(i));
    }

    private async Task<JsonNode> PostCreatedAsync(HttpClient c, string path, object body)
    {
        var (status, text) = await SendAsync(c, HttpMethod.Post, path, body);
        if (status == HttpStatusCode.Created) return JsonNode.Parse(text)!;
        throw new InvalidOperationException($"POST {path}: {(int)status} {Short(text)}");
    }

    /// <summary>
    /// Sends a request; a 503 with Retry-After (backpressure, a node not yet a member, the store restarting) is waited
    /// out and retried, and counted by its code. Not <c>configuration-unavailable</c>: its outcome is unknown
    /// (API README), so a retried create could exist twice; it is returned as the answer.
    /// </summary>
    private async Task<(HttpStatusCode Status, string Text)> SendAsync(HttpClient c, HttpMethod method, string path, object? body)
    {
        for (var attempt = 0; ; attempt++)
        {
            using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
            using var r = await c.SendAsync(request);
            var text = await r.Content.ReadAsStringAsync();
            if (r.StatusCode != HttpStatusCode.ServiceUnavailable || r.Headers.RetryAfter is not { } after || attempt >= 30) return (r.StatusCode, text);
            var code = ProblemCode(text);
            if (code == "configuration-unavailable") return (r.StatusCode, text);
            _retried503.AddOrUpdate(code, 1, (_, n) => n + 1);
            var wait = after.Delta ?? (after.Date is { } d ? d - DateTimeOffset.UtcNow : TimeSpan.FromSeconds(1));
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Clamp(wait.TotalMilliseconds, 50, 30_000)));
        }
    }

    private static string ProblemCode(string text)
    {
        try { return JsonNode.Parse(text)?["code"]?.GetValue<string>() ?? "?"; }
        catch (System.Text.Json.JsonException) { return "?"; }
    }

    // ---- endpoints ----

    /// <summary>Endpoint k: network k % M; its j-th endpoint (j = k / M) on the j-th node of the network's span, round robin.</summary>
    private (int Net, int Node) Place(int k)
    {
        var net = _networks[k % _networks.Count];
        return (net.Index, net.Span[(k / _networks.Count) % net.Span.Length]);
    }

    private object Body(int k)
    {
        var (n, node) = Place(k);
        var net = _networks[n];
        return net.Subnet is null
            ? new { name = $"ep-{k}", network = net.Id, node = Nodes[node].Name, port = new { kind = "guest" } }
            : new { name = $"ep-{k}", network = net.Id, subnet = net.Subnet, node = Nodes[node].Name, port = new { kind = "guest" } };
    }

    private Created Add(int k, JsonNode e)
    {
        var (n, node) = Place(k);
        var created = new Created(k, e["id"]!.GetValue<string>(), n, e["mac"]!.GetValue<string>().ToLowerInvariant(), node);
        lock (_gate)
        {
            _eps[k] = created;
            _netEps[n].Add(k);
            _hosts[n, node]++;
        }
        _createdAt.Enqueue(DateTime.UtcNow);
        return created;
    }

    /// <summary>One endpoint with a single POST; tracked to every interested FDB under <paramref name="kind"/> when given.</summary>
    private async Task<Created?> CreateSingleAsync(string? kind)
    {
        var k = Interlocked.Increment(ref _nextK);
        var sw = Stopwatch.StartNew();
        try
        {
            var (status, text) = await SendAsync(Client(k), HttpMethod.Post, "/api/v1/endpoints", Body(k));
            if (!_bulk) _requestMs.Add(sw.Elapsed.TotalMilliseconds);
            if (status != HttpStatusCode.Created)
            {
                Interlocked.Increment(ref _errors);
                _lastError = $"POST /api/v1/endpoints: {(int)status} {Short(text)}";
                return null;
            }
            var created = Add(k, JsonNode.Parse(text)!);
            if (kind is not null) Track(created, sw, kind);
            return created;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            Interlocked.Increment(ref _errors);
            _lastError = $"POST /api/v1/endpoints: {ex.Message}";
            return null;
        }
    }

    private async Task<string?> SingleLoadAsync(int target)
    {
        string? stop = null;
        async Task Worker()
        {
            while (stop is null && CreatedCount < target)
            {
                if (Stop() is { } why) { stop = why; return; }
                var k = Volatile.Read(ref _nextK) + 1;
                await CreateSingleAsync(k % Sample == 0 ? "single-load" : null);
            }
        }
        await Task.WhenAll(Enumerable.Range(0, o.Concurrency).Select(_ => Worker()));
        return stop;
    }

    private async Task<string?> BulkLoadAsync(int target)
    {
        using var cts = new CancellationTokenSource();
        var singles = SinglesDuringLoadAsync(cts.Token);
        var inFlight = 0;
        var failures = 0;
        string? stop = null;
        async Task Worker()
        {
            while (stop is null && _bulk)
            {
                int n;
                lock (_gate)
                {
                    n = Math.Min(o.Batch, target - _eps.Count - inFlight);
                    if (n <= 0) return;
                    inFlight += n;
                }
                try
                {
                    if (Stop() is { } why) { stop = why; return; }
                    var first = Interlocked.Add(ref _nextK, n) - n + 1;
                    var ks = Enumerable.Range(first, n).ToArray();
                    var sw = Stopwatch.StartNew();
                    var (status, text) = await SendAsync(Client(first / o.Batch), HttpMethod.Post, "/api/v1/endpoints/bulk", new { endpoints = ks.Select(Body).ToArray() });
                    _requestMs.Add(sw.Elapsed.TotalMilliseconds);
                    if ((status is HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed) && !text.Contains("\"endpoints[", StringComparison.Ordinal))
                    {
                        _bulk = false; // the route went away (a node of an older build): go on with single POSTs
                        continue;
                    }
                    if (status != HttpStatusCode.Created)
                    {
                        Interlocked.Add(ref _errors, n);
                        _lastError = $"POST /api/v1/endpoints/bulk: {(int)status} {Short(text)}";
                        if (Interlocked.Increment(ref failures) >= 10) stop = $"10 bulk requests failed, the last: {_lastError}";
                        continue;
                    }
                    failures = 0;
                    var list = JsonNode.Parse(text)!["endpoints"]!.AsArray();
                    for (var i = 0; i < ks.Length; i++)
                    {
                        var created = Add(ks[i], list[i]!);
                        if (ks[i] % Sample == 0) Track(created, sw, "bulk-item");
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                {
                    Interlocked.Add(ref _errors, n);
                    _lastError = $"POST /api/v1/endpoints/bulk: {ex.Message}";
                    if (Interlocked.Increment(ref failures) >= 10) stop = $"10 bulk requests failed, the last: {_lastError}";
                }
                finally
                {
                    lock (_gate) inFlight -= n;
                }
            }
        }
        await Task.WhenAll(Enumerable.Range(0, o.BulkConcurrency).Select(_ => Worker()));
        await cts.CancelAsync();
        await singles;
        if (stop is null && !_bulk) return await SingleLoadAsync(target);
        return stop;
    }

    /// <summary>During a bulk load, a single POST every few hundred ms: what a user's one new VM sees while the fabric is busy.</summary>
    private async Task SinglesDuringLoadAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try { await Task.Delay(o.SingleEveryMs, ct); }
            catch (OperationCanceledException) { return; }
            await CreateSingleAsync("single-load");
        }
    }

    // ---- reach: a change seen by every interested node ----

    private int[] Interested(int net)
    {
        lock (_gate) return Enumerable.Range(0, Nodes.Count).Where(n => _hosts[net, n] > 0).ToArray();
    }

    private void Track(Created e, Stopwatch sinceSent, string kind)
    {
        var samples = _reach.GetOrAdd(kind, _ => new Samples());
        Interlocked.Increment(ref samples.Count);
        var interested = Interested(e.Net);
        bool first;
        lock (_gate) first = _hosts[e.Net, e.Node] == 1;
        lock (_reachTasks)
            _reachTasks.Add(Task.Run(async () =>
            {
                var ms = await ReachAsync(e.Net, e.Mac, e.Node, interested, sinceSent);
                if (ms is { } v) samples.Ms.Add(v); else Interlocked.Increment(ref samples.Missing);
                // The slow ones, with what may explain them, so a p99 can be traced to its cause.
                if (ms is null or > 300)
                    Console.WriteLine($"  slow {kind}: {(ms is { } x ? $"{x:0} ms" : "not seen")}, {_networks[e.Net].Id} on {Nodes[e.Node].Name}"
                        + $"{(first ? " (its first endpoint there)" : "")}, {interested.Length} interested node(s)");
            }));
    }

    private async Task DrainReachAsync()
    {
        Task[] tasks;
        lock (_reachTasks) { tasks = _reachTasks.ToArray(); _reachTasks.Clear(); }
        await Task.WhenAll(tasks);
    }

    /// <summary>Polls each interested node's own FDB of the network until all show the MAC where it is; the time since the write was sent.</summary>
    private async Task<double?> ReachAsync(int net, string mac, int host, int[] interested, Stopwatch since)
    {
        var pending = interested.ToList();
        while (since.Elapsed < ReachTimeout)
        {
            foreach (var n in pending.ToArray())
                if (await FdbAsync(n, net) is { } fdb && fdb.TryGetValue(mac, out var loc) && At(loc, n, host)) pending.Remove(n);
            if (pending.Count == 0) return since.Elapsed.TotalMilliseconds;
            // Poll often while a good answer is still possible, less once it is late, so the harness does not load the nodes it measures.
            await Task.Delay(since.Elapsed < TimeSpan.FromSeconds(1) ? 20 : since.Elapsed < TimeSpan.FromSeconds(5) ? 200 : 1000);
        }
        return null;
    }

    /// <summary>An FDB location is right for node n when the MAC is local on its host and at the host's VTEP elsewhere.</summary>
    private bool At(string location, int n, int host)
    {
        if (n == host) return location.StartsWith("local:", StringComparison.Ordinal);
        var vtep = "vtep:" + Nodes[host].VtepIp;
        return location == vtep || location.StartsWith(vtep + ":", StringComparison.Ordinal);
    }

    /// <summary>Node n's FDB of one network, asked at n's own HTTP endpoint: MAC (lower case) → location; null when it did not answer.</summary>
    private async Task<Dictionary<string, string>?> FdbAsync(int n, int net, TimeSpan? timeout = null)
    {
        try
        {
            using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
            using var r = await Client(n).GetAsync($"/api/v1/nodes/{Nodes[n].Name}/fdb?network={_networks[net].Id}", cts.Token);
            if (!r.IsSuccessStatusCode) return null;
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var x in JsonNode.Parse(await r.Content.ReadAsStringAsync(cts.Token))!["entries"]!.AsArray())
                result[x!["mac"]!.GetValue<string>().ToLowerInvariant()] = x["location"]!.GetValue<string>();
            return result;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException) { return null; }
    }

    // ---- FDB completeness ----

    private sealed record PairResult(bool Answered, int Entries, int Missing, int Wrong, bool Interested, int Held, string? Example);

    /// <summary>Node n's FDB of network net against what the harness placed: every endpoint of the network, at the right place.</summary>
    private async Task<PairResult> CheckPairAsync(int net, int n, TimeSpan? timeout = null)
    {
        (string Mac, int Node)[] expected;
        bool interested;
        lock (_gate)
        {
            expected = _netEps[net].Select(k => (_eps[k].Mac, _eps[k].Node)).ToArray();
            interested = _hosts[net, n] > 0;
        }
        var fdb = await FdbAsync(n, net, timeout);
        if (fdb is null) return new PairResult(false, expected.Length, 0, 0, interested, 0, $"{Nodes[n].Name} did not answer for {_networks[net].Id}");
        int missing = 0, wrong = 0;
        string? example = null;
        foreach (var (mac, host) in expected)
        {
            if (!fdb.TryGetValue(mac, out var loc)) { missing++; example ??= $"{Nodes[n].Name} lacks {mac} of {_networks[net].Id}"; }
            else if (!At(loc, n, host)) { wrong++; example ??= $"{Nodes[n].Name} has {mac} of {_networks[net].Id} at {loc}, expected on {Nodes[host].Name}"; }
        }
        return new PairResult(true, expected.Length, missing, wrong, interested, fdb.Count, example);
    }

    /// <summary>
    /// Checks every interested node's FDB of <paramref name="sample"/> networks evenly spread (all when null), 8 requests at
    /// a time; with <paramref name="uninterested"/>, also counts the FDBs of nodes that hold nothing of a network and
    /// still have entries for it (conditional monitoring says they need none).
    /// </summary>
    private async Task<FdbCheck> CheckFdbAsync(int? sample, bool uninterested)
    {
        var m = _networks.Count;
        var nets = sample is { } s && s < m ? Enumerable.Range(0, s).Select(i => (int)((long)i * m / s)).Distinct().ToArray() : Enumerable.Range(0, m).ToArray();
        var pairs = nets.SelectMany(net => Enumerable.Range(0, Nodes.Count).Select(n => (net, n))).ToArray();
        var sw = Stopwatch.StartNew();
        using var gate = new SemaphoreSlim(8);
        var results = await Task.WhenAll(pairs.Select(async p =>
        {
            var isInterested = Interested(p.net).Contains(p.n);
            if (!isInterested && !uninterested) return null;
            await gate.WaitAsync();
            try { return await CheckPairAsync(p.net, p.n); }
            finally { gate.Release(); }
        }));
        var checkedPairs = results.Where(r => r is { Interested: true }).Select(r => r!).ToArray();
        return new FdbCheck(nets.Length, results.Count(r => r is not null), checkedPairs.Length, checkedPairs.Sum(r => r.Entries), checkedPairs.Sum(r => r.Missing), checkedPairs.Sum(r => r.Wrong),
            checkedPairs.Count(r => !r.Answered), uninterested ? results.Count(r => r is { Interested: false, Held: > 0 }) : -1, sw.Elapsed,
            checkedPairs.Select(r => r.Example).FirstOrDefault(e => e is not null));
    }

    // ---- moves ----

    /// <summary>Moves endpoints of networks spread over two nodes or more to the next node of the span, 200 ms apart; each tracked.</summary>
    private async Task<Samples> MovesAsync()
    {
        var samples = new Samples();
        Created[] candidates;
        lock (_gate) candidates = _eps.Values.Where(e => _networks[e.Net].Span.Length > 1).OrderBy(e => e.K).ToArray();
        if (candidates.Length == 0 || o.Moves <= 0) return samples;
        var step = Math.Max(1, candidates.Length / o.Moves);
        var tasks = new List<Task>();
        for (var j = 0; j < o.Moves && j * step < candidates.Length; j++)
        {
            Created e;
            lock (_gate) e = _eps[candidates[(j * step + _rows.Count) % candidates.Length].K];
            var span = _networks[e.Net].Span;
            var to = span[(Array.IndexOf(span, e.Node) + 1) % span.Length];
            var sw = Stopwatch.StartNew();
            samples.Count++;
            try
            {
                var (status, text) = await SendAsync(Client(j), HttpMethod.Put, $"/api/v1/endpoints/{e.Id}/node", new { node = Nodes[to].Name });
                if (status != HttpStatusCode.OK && status != HttpStatusCode.Accepted && status != HttpStatusCode.NoContent)
                {
                    samples.Missing++;
                    _lastError = $"move: {(int)status} {Short(text)}";
                    continue;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                samples.Missing++;
                _lastError = $"move: {ex.Message}";
                continue;
            }
            lock (_gate)
            {
                _hosts[e.Net, e.Node]--;
                _hosts[e.Net, to]++;
                _eps[e.K] = e with { Node = to };
            }
            var interested = Interested(e.Net);
            tasks.Add(Task.Run(async () =>
            {
                var ms = await ReachAsync(e.Net, e.Mac, to, interested, sw);
                if (ms is { } v) samples.Ms.Add(v); else Interlocked.Increment(ref samples.Missing);
            }));
            await Task.Delay(200);
        }
        await Task.WhenAll(tasks);
        return samples;
    }

    // ---- processes ----

    private (string Text, long Max) Rss()
    {
        var pids = up.NodePids();
        var mb = Nodes.Select(n => pids.TryGetValue(n.Name, out var p) ? ScaleHarness.RssKb(p) / 1024 : -1).ToArray();
        return (string.Join(" / ", mb.Select(v => v < 0 ? "-" : $"{v}")), mb.Max());
    }

    /// <summary>
    /// Waits until every node uses under 15 % of a core over a second, twice in a row (at most 60 s): the load has been
    /// taken. Answers the seconds it waited.
    /// </summary>
    private async Task<double> QuietAsync()
    {
        var sw = Stopwatch.StartNew();
        var calm = 0;
        var pids = up.NodePids();
        long[] Ticks() => Nodes.Select(n => pids.TryGetValue(n.Name, out var p) ? ScaleHarness.CpuTicks(p) : -1).ToArray();
        var before = Ticks();
        while (sw.Elapsed < TimeSpan.FromSeconds(60) && calm < 2)
        {
            await Task.Delay(1000);
            var now = Ticks();
            // Ticks are 1/100 s: 15 ticks in a second is 15 % of a core.
            calm = before.Zip(now).All(x => x.Item1 < 0 || x.Item2 < 0 || x.Item2 - x.Item1 < 15) ? calm + 1 : 0;
            before = now;
        }
        return sw.Elapsed.TotalSeconds;
    }

    /// <summary>CPU of each node process over --idle-seconds with no load from the harness, in % of one core.</summary>
    private async Task<(string Text, double Max)> IdleCpuAsync()
    {
        // A node just loaded still tiers up its JIT code and collects for a while: that is the load's cost, not idling.
        await Task.Delay(TimeSpan.FromSeconds(o.IdleSettle));
        var pids = up.NodePids();
        var before = Nodes.Select(n => pids.TryGetValue(n.Name, out var p) ? ScaleHarness.CpuTicks(p) : -1).ToArray();
        var sw = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(o.IdleSeconds));
        var after = Nodes.Select(n => pids.TryGetValue(n.Name, out var p) ? ScaleHarness.CpuTicks(p) : -1).ToArray();
        // Ticks are 1/100 s: ticks per second is % of a core.
        var pct = before.Zip(after).Select(x => x.Item1 < 0 || x.Item2 < 0 ? double.NaN : (x.Item2 - x.Item1) / sw.Elapsed.TotalSeconds).ToArray();
        return (string.Join(" / ", pct.Select(v => double.IsNaN(v) ? "-" : v.ToString("0.0", CultureInfo.InvariantCulture))), pct.Where(v => !double.IsNaN(v)).DefaultIfEmpty(double.NaN).Max());
    }

    /// <summary>Every member's status as the first node that answers sees it ("up", or "up unreachable", …).</summary>
    private async Task<string> MembersAsync()
    {
        for (var i = 0; i < Nodes.Count; i++)
        {
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                var members = await Client(i).GetFromJsonAsync<JsonArray>("/cluster/members", cts.Token);
                return string.Join(" / ", members!.Select(m => $"{m!["status"]}{(m["reachable"]?.GetValue<bool>() == false ? " unreachable" : "")}"));
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException) { }
        }
        return "no answer";
    }

    // ---- kill -9 ----

    /// <summary>
    /// kill -9 the last node; fabric up restarts it. Times until the new process's FDB holds every endpoint of every
    /// network it holds, at the right place, and until every node's does again (the others withdrew its endpoints).
    /// Only the networks not yet complete are asked again, so each pass gets cheaper.
    /// </summary>
    private async Task<KillResult> KillNineAsync()
    {
        var v = Nodes.Count - 1;
        var victim = Nodes[v].Name;
        var endpoints = CreatedCount;
        var from = DateTime.UtcNow;
        if (!up.NodePids().TryGetValue(victim, out var pid)) return new KillResult(victim, endpoints, null, null, null, 0, await MembersAsync(), "no process found");
        Console.WriteLine($"  kill -9 {victim} (pid {pid}) with {endpoints:N0} endpoints");
        var linesBefore = up.RestartLines.Count;
        var sw = Stopwatch.StartNew();
        ScaleHarness.KillNine(pid);
        var limit = TimeSpan.FromSeconds(o.KillTimeoutS);
        double? back = null, own = null, all = null;
        string? problem = null;
        while (sw.Elapsed < limit)
        {
            await Task.Delay(100);
            if (up.NodePids().TryGetValue(victim, out var p2) && p2 != pid) { back = sw.Elapsed.TotalSeconds; break; }
        }
        if (back is null) problem = "fabric up started no new process";
        else
        {
            var restart = Stopwatch.StartNew();
            var pending = Enumerable.Range(0, _networks.Count).SelectMany(net => Interested(net).Select(n => (net, n))).ToHashSet();
            PairResult? lastBad = null;
            using var gate = new SemaphoreSlim(8);
            // Each FDB counts as complete when the answer that showed it complete arrived (a pass over many
            // networks takes a while); the victim's own FDBs are asked first.
            double ownAt = 0, allAt = 0;
            while (pending.Count > 0 && sw.Elapsed < limit)
            {
                var pass = pending.OrderBy(p => p.n == v ? 0 : 1).ToArray();
                var results = await Task.WhenAll(pass.Select(async p =>
                {
                    await gate.WaitAsync();
                    try { return (p, r: await CheckPairAsync(p.net, p.n, TimeSpan.FromSeconds(5)), at: restart.Elapsed.TotalSeconds); }
                    finally { gate.Release(); }
                }));
                foreach (var (p, r, at) in results)
                {
                    if (!(r.Answered && r.Missing == 0 && r.Wrong == 0)) { lastBad = r; continue; }
                    pending.Remove(p);
                    allAt = Math.Max(allAt, at);
                    if (p.n == v) ownAt = Math.Max(ownAt, at);
                }
                if (own is null && !pending.Any(p => p.n == v)) own = ownAt;
                if (pending.Count == 0) { all = allAt; break; }
                await Task.Delay(250);
            }
            if (pending.Count > 0) problem = $"{pending.Count} node FDBs still incomplete after {limit.TotalSeconds:0} s, e.g. {lastBad?.Example}";
        }
        // fabric up's two lines about this restart (exited, restarted) are expected; any other, the victim's
        // new process exiting again included, is not. The grace lets a downing of the new process show.
        await Task.Delay(KillGrace);
        int victimExits;
        lock (_expectedRestartLines)
        {
            var mine = up.RestartLines.Skip(linesBefore).Where(l => l.StartsWith(victim + " ", StringComparison.Ordinal)).ToArray();
            victimExits = mine.Count(l => l.Contains(" exited", StringComparison.Ordinal));
            foreach (var l in mine.Where(l => l.Contains(" exited", StringComparison.Ordinal)).Take(1)) _expectedRestartLines.Add(l);
            foreach (var l in mine.Where(l => l.Contains(" restarted", StringComparison.Ordinal)).Take(1)) _expectedRestartLines.Add(l);
        }
        if (victimExits > 1) problem = (problem is null ? "" : problem + "; ") + $"its new process exited again ({victimExits - 1} more exits)";
        _killWindows.Add((from, DateTime.UtcNow, victim));
        var members = await MembersAsync();
        for (var i = 0; i < 30 && !AllUp(members); i++)
        {
            await Task.Delay(1000);
            members = await MembersAsync();
        }
        return new KillResult(victim, endpoints, back, own, all, victimExits, members, problem);
    }

    // ---- the node logs ----

    private static readonly (string Needle, string What, bool Down)[] Marks =
    [
        ("OversizedPayloadException", "oversized frame dropped", false),
        ("Scheduled sending of heartbeat was delayed", "delayed heartbeat", false),
        ("Marking node(s) as UNREACHABLE", "node marked unreachable", true),
        ("SBR took decision", "split brain resolver decision", true),
        ("has been downed", "node downed", true),
    ];

    /// <summary>
    /// Per node log and mark: the first occurrence, the count, how many fall outside the harness's kill -9 windows
    /// (a kill makes the others mark the victim unreachable and down it; that is expected), and how many endpoints
    /// had been created by then.
    /// </summary>
    private (List<string> Lines, int DownOutsideKills) LogFindings()
    {
        var lines = new List<string>();
        var outside = 0;
        var created = _createdAt.ToArray();
        foreach (var f in up.Dir.GetFiles("node-*.log").OrderBy(f => f.Name))
        {
            string[] log;
            try { log = File.ReadAllLines(f.FullName); } catch (IOException) { continue; }
            foreach (var (needle, what, down) in Marks)
            {
                var hits = Enumerable.Range(0, log.Length).Where(i => log[i].Contains(needle, StringComparison.Ordinal)).ToArray();
                if (hits.Length == 0) continue;
                var stamps = hits.Select(i => Stamp(log, i)).ToArray();
                var notInKill = stamps.Count(t => t is null || !_killWindows.Any(w => t >= w.From && t <= w.To));
                if (down) outside += notInKill;
                var first = stamps[0];
                var when = first is { } t0 ? $" at {t0:HH:mm:ss} UTC, {created.Count(c => c <= t0):N0} endpoints created by then" : "";
                var detail = log[hits[0]].Trim();
                if (detail.Length > 260) detail = detail[..260] + "…";
                lines.Add($"{f.Name}: first {what}{when} ({hits.Length} such lines, {notInKill} outside kill -9 windows): `{detail}`");
            }
        }
        return (lines, outside);
    }

    /// <summary>The timestamp of a log line or, for an exception's "Cause:" line, of the line before.</summary>
    private static DateTime? Stamp(string[] log, int i)
    {
        var stamped = log[i].StartsWith('[') ? log[i] : i > 0 ? log[i - 1] : log[i];
        var at = LogStamp().Match(stamped);
        return at.Success && DateTime.TryParseExact(at.Groups[1].Value, "MM/dd/yyyy HH:mm:ss.FFFFFFF", CultureInfo.InvariantCulture,
            DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var t) ? t : null;
    }

    [GeneratedRegex(@"\]\[(\d\d/\d\d/\d{4} \d\d:\d\d:\d\d\.\d+)Z\]")]
    private static partial Regex LogStamp();

    // ---- report ----

    private static double P(IEnumerable<double> values, double p) => ScaleHarness.Percentile(values.ToArray(), p);
    private static string F(double? v) => v is { } x && !double.IsNaN(x) ? x.ToString("0", CultureInfo.InvariantCulture) : "–";
    private static string Short(string text) => (text.Length > 300 ? text[..300] + "…" : text).ReplaceLineEndings(" ");
    private static string Verdict(bool? pass) => pass switch { true => "PASS", false => "**FAIL**", null => "n/a" };

    public string Markdown(string? stopReason, string args)
    {
        var (findings, downOutside) = LogFindings();
        var md = new StringBuilder();
        md.AppendLine($"### Scale harness run, {_startedUtc:yyyy-MM-dd HH:mm}–{DateTime.UtcNow:HH:mm} UTC ({o.Networks:N0} networks, target {o.Endpoints:N0} endpoints)");
        md.AppendLine();
        md.AppendLine($"`dotnet run -c Release --project benchmarks/Fabric.Benchmarks -- {args}` (under `flock /tmp/fabric-test.lock`), "
            + $"machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}; `fabric up --nodes {o.Nodes}` formed in {up.FormedIn.TotalSeconds:0.0} s; "
            + $"endpoints created with {Mode}.");
        md.AppendLine();
        md.AppendLine("How: the HTTP API only. Endpoint k goes to network k % M and to the (k / M)-th node of that network's span (network i spans "
            + "1 + i % K nodes), so every node holds some networks and not others. At each checkpoint, after the load: the FDB check (sampled networks; "
            + "all of them at the last checkpoint, also counting FDBs of uninterested nodes that still hold entries), moves to the next node of the span "
            + $"({o.Moves}, 200 ms apart), RSS (VmRSS), idle CPU with no request at all ({o.IdleSeconds} s, utime+stime, after {o.IdleSettle} s without load), `GET /cluster/members`, then "
            + "kill -9 of the last node: times until fabric up's new process exists, until its FDB holds every endpoint of every network it hosts at the "
            + "right place, and until every node's does again (the others withdrew its endpoints meanwhile). A 503 with Retry-After is waited out and "
            + "retried (not `configuration-unavailable`, whose outcome is unknown).");
        md.AppendLine();
        md.AppendLine($"Empty cluster: RSS {_rssEmpty} MB, idle CPU {_idleEmpty} % of a core per node ({o.IdleSeconds} s).");
        foreach (var n in _notes) md.AppendLine($"{n}.");
        md.AppendLine("Reach: ms from sending the write until every interested node's own FDB (`GET /api/v1/nodes/{node}/fdb?network=ID`, polled) shows the MAC where it is "
            + "(`local:` on its host, `vtep:` of the host elsewhere); interested = the nodes that host an endpoint of that network. p50 / p99 (samples, not seen within 30 s).");
        md.AppendLine();
        md.AppendLine("| endpoints | at (s) | creation rate (/s) | request p50 / p99 (ms) | 503 retried | errors | new, single POST during load | new, single POST after load | new, bulk item | move | FDB check |");
        md.AppendLine("|---:|---:|---:|---|---:|---:|---|---|---|---|---|");
        foreach (var r in _rows)
            md.AppendLine($"| {r.Endpoints:N0} | {r.AtS:0} | {r.Rate:0.0}{(r.Mode.StartsWith("single", StringComparison.Ordinal) ? " (single POSTs)" : "")} | {F(r.RequestP50)} / {F(r.RequestP99)} | {r.Retried503} | {r.Errors} | "
                + $"{r.SingleLoad} | {r.SingleAfter} | {r.BulkItem} | {r.Move} | {r.Check?.Cell ?? "–"} |");
        md.AppendLine();
        md.AppendLine($"| endpoints | RSS per node (MB) | idle CPU per node (% core, {o.IdleSeconds} s) | kill -9 of the last node | members | unexpected restarts |");
        md.AppendLine("|---:|---|---|---|---|---:|");
        foreach (var r in _rows)
            md.AppendLine($"| {r.Endpoints:N0} | {r.Rss} | {(r.IdleCpu.Length > 0 ? r.IdleCpu : "–")} | {r.Kill?.Cell ?? "–"} | {r.Members} | {r.Unexpected} |");
        md.AppendLine();
        md.AppendLine("Issue 10's targets at each checkpoint (\"new\" = the single POSTs after the load, once every tracked item of the load has reached its nodes and every node has used under 15 % of a core for 2 s, at most 60 s later; a sample not seen within 30 s fails the p99). The last column is our own stricter goal, not the issue's: the same p50/p99 for single POSTs sent while the bulk load runs:");
        md.AppendLine();
        md.AppendLine("| endpoints | bulk creation ≥ 1,000/s | new p50 < 100 ms | new p99 < 500 ms | move p50 < 100 / p99 < 500 ms | kill -9: forwards to everything ≤ 30 s after restart | RSS < 1 GB per node | idle CPU < 1 % of a core | no node downed or restarted | (ours) new during the bulk load p50 < 100 / p99 < 500 ms |");
        md.AppendLine("|---:|---|---|---|---|---|---|---|---|---|");
        foreach (var r in _rows)
        {
            bool? bulk = r.Mode.StartsWith("POST", StringComparison.Ordinal) ? r.Rate >= 1000 : false;
            bool? p50 = r.NewMs.Count == 0 ? null : P(r.NewMs, 50) < 100;
            bool? p99 = r.NewMs.Count == 0 ? null : r.NewMissing == 0 && P(r.NewMs, 99) < 500;
            bool? move = r.MoveSamples.Count == 0 ? null : r.MoveSamples.Missing == 0 && P(r.MoveSamples.Ms, 50) < 100 && P(r.MoveSamples.Ms, 99) < 500;
            bool? kill = r.Kill is null ? null : r.Kill.OwnFdbS is { } s && s <= 30 && r.Kill.VictimExits <= 1;
            bool? idle = double.IsNaN(r.MaxIdleCpu) || r.IdleCpu.Length == 0 ? null : r.MaxIdleCpu < 1;
            bool? during = r.NewLoadMs.Count == 0 ? null : r.NewLoadMissing == 0 && P(r.NewLoadMs, 50) < 100 && P(r.NewLoadMs, 99) < 500;
            var healthy = r.Unexpected == 0 && AllUp(r.Members) && (r.Kill is null || (AllUp(r.Kill.Members) && r.Kill.VictimExits <= 1));
            md.AppendLine($"| {r.Endpoints:N0} | {Verdict(bulk)}{(bulk == false && !r.Mode.StartsWith("POST", StringComparison.Ordinal) ? " (no bulk route)" : $" ({r.Rate:0}/s)")} | "
                + $"{Verdict(p50)} ({F(r.NewMs.Count > 0 ? P(r.NewMs, 50) : null)} ms) | {Verdict(p99)} ({F(r.NewMs.Count > 0 ? P(r.NewMs, 99) : null)} ms, {r.NewMissing} missing) | "
                + $"{Verdict(move)} ({F(r.MoveSamples.Ms.IsEmpty ? null : P(r.MoveSamples.Ms, 50))} / {F(r.MoveSamples.Ms.IsEmpty ? null : P(r.MoveSamples.Ms, 99))} ms) | {Verdict(kill)}{(r.Kill?.OwnFdbS is { } ks ? $" ({ks:0.0} s)" : "")} | {Verdict(r.MaxRssMb is > 0 and < 1024)} ({r.MaxRssMb} MB max) | "
                + $"{Verdict(idle)} ({(double.IsNaN(r.MaxIdleCpu) ? "–" : r.MaxIdleCpu.ToString("0.0", CultureInfo.InvariantCulture))} % max) | {Verdict(healthy)} | "
                + $"{Verdict(during)} ({F(r.NewLoadMs.Count > 0 ? P(r.NewLoadMs, 50) : null)} / {F(r.NewLoadMs.Count > 0 ? P(r.NewLoadMs, 99) : null)} ms) |");
        }
        md.AppendLine();
        var reExits = _rows.Sum(r => Math.Max(0, (r.Kill?.VictimExits ?? 1) - 1));
        md.AppendLine($"Whole run: no node downed or restarted by anything but the harness's kill -9: {Verdict(UnexpectedRestarts().Count == 0 && downOutside == 0 && reExits == 0)} "
            + $"({UnexpectedRestarts().Count} unexpected fabric up restart lines, {reExits} exits of a killed node's new process, {downOutside} unreachable/downing log lines outside kill -9 windows).");
        if (_finalCheck is { } fc)
            md.AppendLine($"Full FDB check at the end: {fc.Cell}: {fc.Requests:N0} requests, {fc.Took.TotalMilliseconds / Math.Max(1, fc.Requests):0.0} ms each on average with 8 in flight.");
        if (!_retried503.IsEmpty)
            md.AppendLine($"503 + Retry-After waited out and retried: {string.Join(", ", _retried503.OrderBy(kv => kv.Key).Select(kv => $"{kv.Value} × `{kv.Key}`"))}.");
        md.AppendLine();
        md.AppendLine($"Stopped: {stopReason ?? $"reached {o.Endpoints:N0} endpoints"}.");
        if (_lastError is not null) md.AppendLine($"Last error seen: `{_lastError.ReplaceLineEndings(" ")}`.");
        foreach (var f in findings) md.AppendLine($"- {f}");
        var restartLines = up.RestartLines;
        if (restartLines.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("fabric up said:");
            md.AppendLine("```");
            foreach (var l in restartLines.Take(12)) md.AppendLine(l);
            md.AppendLine("```");
        }
        return md.ToString();
    }
}
