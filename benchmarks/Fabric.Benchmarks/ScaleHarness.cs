using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;
using Fabric.Tests.Shared;

namespace Fabric.Benchmarks;

/// <summary>
/// Scale harness for issue 10: starts the built <c>fabric up --nodes K</c> (real processes, a temp data dir, free
/// ports), creates M networks (l2 and l3 alternating, each l3 with one subnet) and then endpoints (guest ports,
/// round robin over networks and nodes) through the HTTP API only, and at each checkpoint (250, 500, 1,000, 2,000,
/// 5,000, 10,000, …) measures creation rate and latency, the time for a sample of new endpoints and of moves to
/// reach every node's FDB, RSS and idle CPU per node process, and whether a node was downed or restarted. It stops
/// on a restart/down, a p99 create above 10 s, or the wall-clock budget, then SIGTERMs fabric up and deletes the
/// temp dir. Results go to stdout and, as a markdown section, to --out.
/// <code>
/// dotnet run -c Release --project benchmarks/Fabric.Benchmarks -- --scale [--endpoints 10000] [--networks M]
///     [--nodes 3] [--concurrency 4] [--minutes 10] [--sample 50] [--no-kill] [--out docs/scale.md]
/// </code>
/// Run it under the shared lock: <c>flock /tmp/fabric-test.lock dotnet run …</c>.
/// </summary>
public static class ScaleHarness
{
    public static async Task<int> Run(string[] args)
    {
        var o = Options.Parse(args);
        var root = RepositoryRoot();
        var binary = Path.Combine(root, "src", "Nodes", "bin", "Release", "net10.0", "fabric");
        if (!File.Exists(binary))
        {
            Console.Error.WriteLine($"{binary} does not exist: dotnet build src/Nodes -c Release first");
            return 2;
        }
        await using var cluster = await UpProcess.StartAsync(binary, o.Nodes);
        var run = new ScaleRun(cluster, o);
        string? stopReason;
        try
        {
            stopReason = await run.RunAsync();
        }
        catch (Exception e)
        {
            stopReason = $"harness error: {e.GetType().Name}: {e.Message}";
            Console.Error.WriteLine(e);
        }
        var markdown = run.Markdown(stopReason, string.Join(' ', args));
        Console.WriteLine();
        Console.WriteLine(markdown);
        if (o.Out is not null) WriteSection(Path.IsPathRooted(o.Out) ? o.Out : Path.Combine(root, o.Out), markdown);
        return 0;
    }

    private const string Begin = "<!-- scale-harness:begin -->";
    private const string End = "<!-- scale-harness:end -->";

    /// <summary>Replaces the harness's section of the file (between markers), leaving the hand-written rest alone.</summary>
    private static void WriteSection(string path, string markdown)
    {
        var section = $"{Begin}\n{markdown.TrimEnd()}\n{End}\n";
        var text = File.Exists(path) ? File.ReadAllText(path) : "# Scale\n\n";
        var b = text.IndexOf(Begin, StringComparison.Ordinal);
        var e = text.IndexOf(End, StringComparison.Ordinal);
        text = b >= 0 && e > b ? text[..b] + section + "\n" + text[(e + End.Length)..].TrimStart('\n') : text.TrimEnd() + "\n\n" + section;
        File.WriteAllText(path, text);
        Console.WriteLine($"wrote {path}");
    }

    private static string RepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Fabric.sln"))) return d.FullName;
        for (var d = new DirectoryInfo(Environment.CurrentDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Fabric.sln"))) return d.FullName;
        throw new InvalidOperationException("no Fabric.sln found");
    }

    internal sealed record Options(int Endpoints, int Networks, int Nodes, int Concurrency, double Minutes, int Sample, bool Kill, string? Out)
    {
        public static Options Parse(string[] args)
        {
            string? Value(string name)
            {
                var i = Array.IndexOf(args, name);
                return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
            }
            int Int(string name, int fallback) => Value(name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
            var endpoints = Int("--endpoints", 10_000);
            return new Options(
                endpoints,
                Int("--networks", Math.Max(1, endpoints / 10)),
                Int("--nodes", 3),
                Int("--concurrency", 4),
                Value("--minutes") is { } m ? double.Parse(m, CultureInfo.InvariantCulture) : 10,
                Int("--sample", 50),
                !args.Contains("--no-kill"),
                Value("--out"));
        }
    }

    internal sealed record NodeInfo(string Name, string VtepIp, string Http);

    internal sealed record Checkpoint(
        int Endpoints, double ElapsedS, double Rate, double CreateP50, double CreateP99, int CreateErrors,
        double? ReachP50, double? ReachP99, int ReachSamples, int ReachMissing,
        double? MoveP50, double? MoveP99, int MoveSamples, int MoveMissing,
        string FdbCounts, string RssMb, string IdleCpu, string Members, int Restarts);

    /// <summary>The <c>fabric up</c> process, its output, and its node processes.</summary>
    internal sealed class UpProcess : IAsyncDisposable
    {
        private readonly Process _up;
        private readonly StringBuilder _log = new();
        public DirectoryInfo Dir { get; }
        public string Token { get; private set; } = "";
        public IReadOnlyList<NodeInfo> Nodes { get; private set; } = [];
        public TimeSpan FormedIn { get; private set; }

        private UpProcess(Process up, DirectoryInfo dir) { _up = up; Dir = dir; }

        public string Log { get { lock (_log) return _log.ToString(); } }

        /// <summary>Lines of fabric up's output that say a node exited or was restarted.</summary>
        public IReadOnlyList<string> RestartLines => Log.Split('\n').Where(l => l.Contains(" exited", StringComparison.Ordinal) || l.Contains(" restarted", StringComparison.Ordinal)).Select(l => l.Trim()).ToArray();

        public static async Task<UpProcess> StartAsync(string binary, int nodes)
        {
            var dir = Directory.CreateTempSubdirectory("fabric-scale-");
            var (basePort, vtepPort) = FreePorts.ForLocalCluster(nodes);
            var psi = new ProcessStartInfo(binary) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
            foreach (var a in new[] { "up", "--nodes", $"{nodes}", "--data", dir.FullName, "--base-port", $"{basePort}", "--vtep-port", $"{vtepPort}", "--timeout", "90" })
                psi.ArgumentList.Add(a);
            var process = Process.Start(psi) ?? throw new InvalidOperationException("fabric up did not start");
            var up = new UpProcess(process, dir);
            // The harness killed by a signal (an outer timeout, Ctrl-C) skips DisposeAsync: stop the cluster and
            // remove its directory anyway, so no node outlives the harness.
            AppDomain.CurrentDomain.ProcessExit += (_, _) =>
            {
                if (!process.HasExited)
                {
                    _ = Kill(process.Id, 15);
                    process.WaitForExit(TimeSpan.FromSeconds(30));
                }
                try { if (dir.Exists) dir.Delete(true); } catch (IOException) { }
            };
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (up._log) up._log.AppendLine(e.Data); };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (up._log) up._log.AppendLine("stderr: " + e.Data); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var clusterFile = Path.Combine(dir.FullName, "cluster.json");
            var sw = Stopwatch.StartNew();
            while (!File.Exists(clusterFile))
            {
                if (process.HasExited || sw.Elapsed > TimeSpan.FromSeconds(120))
                {
                    await up.DisposeAsync();
                    throw new InvalidOperationException($"fabric up did not form a cluster:\n{up.Log}");
                }
                await Task.Delay(200);
            }
            up.FormedIn = sw.Elapsed;
            var json = JsonNode.Parse(await File.ReadAllTextAsync(clusterFile))!;
            up.Token = json["token"]!.GetValue<string>();
            up.Nodes = json["nodes"]!.AsArray().Select(n => new NodeInfo(
                n!["name"]!.GetValue<string>(), n["vtep"]!.GetValue<string>().Split(':')[0], n["http"]!.GetValue<string>())).ToArray();
            Console.WriteLine($"cluster of {nodes} formed in {sw.Elapsed.TotalSeconds:0.0} s in {dir.FullName}");
            return up;
        }

        /// <summary>Node name → pid, from the children of fabric up and their command lines (which name the node's config).</summary>
        public Dictionary<string, int> NodePids()
        {
            var result = new Dictionary<string, int>();
            foreach (var pid in ChildrenOf(_up.Id))
            {
                try
                {
                    var cmd = File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
                    foreach (var n in Nodes)
                        if (cmd.Contains(n.Name, StringComparison.Ordinal)) result[n.Name] = pid;
                }
                catch (IOException) { }
            }
            return result;
        }

        public async ValueTask DisposeAsync()
        {
            if (!_up.HasExited)
            {
                // SIGTERM: fabric up stops its nodes gracefully.
                _ = Kill(_up.Id, 15);
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(60));
                try { await _up.WaitForExitAsync(wait.Token); } catch (OperationCanceledException) { _up.Kill(entireProcessTree: true); }
            }
            foreach (var f in Dir.GetFiles("node-*.log"))
            {
                var lines = File.ReadAllLines(f.FullName);
                var interesting = lines.Where(l => l.Contains("oversized", StringComparison.OrdinalIgnoreCase) || l.Contains("frame", StringComparison.OrdinalIgnoreCase)
                    || l.Contains("Downing", StringComparison.OrdinalIgnoreCase) || l.Contains("heartbeat was delayed", StringComparison.Ordinal)).ToArray();
                Console.WriteLine($"--- {f.Name}: {lines.Length} lines, {interesting.Length} about oversized frames / downing / delayed heartbeats");
                foreach (var l in interesting.Take(8)) Console.WriteLine("  " + (l.Length > 300 ? l[..300] + "…" : l));
            }
            var keep = Environment.GetEnvironmentVariable("FABRIC_SCALE_KEEP");
            if (keep is not null)
                foreach (var f in Dir.GetFiles("node-*.log")) f.CopyTo(Path.Combine(keep, f.Name), overwrite: true);
            _up.Dispose();
            try { Dir.Delete(true); } catch (IOException) { }
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    internal static void KillNine(int pid) => Kill(pid, 9);

    private static List<int> ChildrenOf(int pid)
    {
        var children = new List<int>();
        foreach (var d in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(d), out var candidate)) continue;
            try
            {
                var stat = File.ReadAllText(Path.Combine(d, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (fields[0] is not ("Z" or "X") && int.Parse(fields[1], CultureInfo.InvariantCulture) == pid) children.Add(candidate);
            }
            catch (IOException) { }
        }
        return children;
    }

    internal static long RssKb(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        }
        catch (IOException) { }
        return -1;
    }

    /// <summary>utime + stime of a process, in clock ticks (USER_HZ, 100 a second on Linux).</summary>
    internal static long CpuTicks(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(f[11], CultureInfo.InvariantCulture) + long.Parse(f[12], CultureInfo.InvariantCulture);
        }
        catch (IOException) { return -1; }
    }

    internal static double Percentile(IReadOnlyList<double> values, double p)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.OrderBy(v => v).ToArray();
        var rank = (int)Math.Ceiling(p / 100 * sorted.Length) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Length - 1)];
    }
}

/// <summary>One run of the scale harness against a formed cluster.</summary>
internal sealed class ScaleRun(ScaleHarness.UpProcess up, ScaleHarness.Options o)
{
    private sealed record Net(string Id, string? Subnet, int Index);
    private sealed record Created(string Id, string Network, string Mac, int NodeIndex);

    private static readonly int[] Checkpoints = [250, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000];
    private static readonly TimeSpan ReachTimeout = TimeSpan.FromSeconds(30);
    private readonly Stopwatch _wall = Stopwatch.StartNew();
    private readonly List<ScaleHarness.Checkpoint> _rows = new();
    private readonly List<string> _notes = new();
    private readonly List<Net> _networks = new();
    private readonly List<Created> _endpoints = new();
    private readonly ConcurrentBag<double> _createMs = new();
    private readonly ConcurrentQueue<DateTime> _createdAt = new();
    private readonly ConcurrentBag<double> _reachMs = new();
    private int _reachMissing;
    private int _reachSamples;
    private int _createErrors;
    private string? _lastError;
    private readonly List<Task> _reachTasks = new();
    private HttpClient[] _clients = [];
    private string _mode = "single POSTs";
    private string _idleEmpty = "";
    private string _rssEmpty = "";
    private string? _killResult;

    private IReadOnlyList<ScaleHarness.NodeInfo> Nodes => up.Nodes;

    private HttpClient Client(int i) => _clients[i % _clients.Length];

    public async Task<string?> RunAsync()
    {
        _clients = Nodes.Select(n =>
        {
            var c = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = new Uri(n.Http), Timeout = TimeSpan.FromSeconds(60) };
            c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", up.Token);
            return c;
        }).ToArray();

        // Empty cluster first: the baseline for RSS and idle CPU.
        await Task.Delay(TimeSpan.FromSeconds(5));
        _rssEmpty = Rss();
        _idleEmpty = await IdleCpuAsync();
        Console.WriteLine($"empty: RSS {_rssEmpty} MB, idle CPU {_idleEmpty} % of a core");

        // Bulk endpoint creation when the API has it (API.md describes it; today's code may not).
        using (var probe = await Client(0).PostAsJsonAsync("/api/v1/endpoints/bulk", new { endpoints = Array.Empty<object>() }))
            if (probe.StatusCode is not (HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed)) _mode = "POST /api/v1/endpoints/bulk";
        Console.WriteLine($"endpoint creation: {_mode}");

        var sw = Stopwatch.StartNew();
        for (var i = 0; i < o.Networks; i++)
        {
            if (Stop() is { } why) return $"while creating networks: {why}";
            _networks.Add(await CreateNetworkAsync(i));
        }
        var networksS = sw.Elapsed.TotalSeconds;
        _notes.Add($"{o.Networks} networks ({(o.Networks + 1) / 2} l2, {o.Networks / 2} l3 with one subnet each) created in {networksS:0.0} s, each network and subnet one POST");
        Console.WriteLine(_notes[^1]);

        var created = 0;
        var segmentStart = Stopwatch.StartNew();
        foreach (var target in Checkpoints.Where(c => c <= o.Endpoints).Append(o.Endpoints).Distinct().Order())
        {
            segmentStart.Restart();
            _createMs.Clear();
            _reachMs.Clear();
            _reachMissing = 0;
            _reachSamples = 0;
            var errorsBefore = _createErrors;
            string? stop = null;
            if (_mode.StartsWith("POST", StringComparison.Ordinal)) stop = await CreateBulkAsync(created, target);
            else stop = await CreateSinglesAsync(created, target);
            created = _endpoints.Count;
            var segmentS = segmentStart.Elapsed.TotalSeconds;
            var rate = (created - (_rows.Count == 0 ? 0 : _rows[^1].Endpoints)) / segmentS;
            await Task.WhenAll(_reachTasks);
            _reachTasks.Clear();
            var createP50 = ScaleHarness.Percentile(_createMs.ToArray(), 50);
            var createP99 = ScaleHarness.Percentile(_createMs.ToArray(), 99);
            var reach = _reachMs.ToArray();
            var reachSamples = _reachSamples;
            var reachMissing = _reachMissing;

            var fdb = await FdbCountsAsync();
            var (moveP50, moveP99, moveSamples, moveMissing) = await MovesAsync(10);
            var rss = Rss();
            var idle = await IdleCpuAsync();
            var members = await MembersAsync();
            var restarts = up.RestartLines.Count;
            var row = new ScaleHarness.Checkpoint(created, _wall.Elapsed.TotalSeconds, rate, createP50, createP99, _createErrors - errorsBefore,
                reach.Length > 0 ? ScaleHarness.Percentile(reach, 50) : null, reach.Length > 0 ? ScaleHarness.Percentile(reach, 99) : null, reachSamples, reachMissing,
                moveP50, moveP99, moveSamples, moveMissing, fdb, rss, idle, members, restarts);
            _rows.Add(row);
            Console.WriteLine($"checkpoint {created}: {rate:0.0}/s, create p50 {createP50:0} ms p99 {createP99:0} ms, errors {row.CreateErrors}; "
                + $"reach p50 {row.ReachP50:0} p99 {row.ReachP99:0} ms ({reachSamples} samples, {reachMissing} not seen in {ReachTimeout.TotalSeconds:0} s); "
                + $"move p50 {moveP50:0} p99 {moveP99:0} ms ({moveSamples}, {moveMissing} missing); FDB {fdb}; RSS {rss} MB; idle CPU {idle} %; members {members}; restarts {restarts}");
            if (_lastError is not null) Console.WriteLine($"  last create error: {_lastError}");

            stop ??= Stop();
            if (stop is null && createP99 > 10_000) stop = $"p99 create {createP99:0} ms > 10 s";
            if (stop is null && !members.Split(" / ").All(m => m.Equals("up", StringComparison.OrdinalIgnoreCase))) stop = $"a member is not up: {members}";
            if (stop is not null) return stop;
            if (created >= o.Endpoints) break;
        }
        if (o.Kill && Stop() is null) await KillNineAsync();
        return Stop() ?? (_endpoints.Count >= o.Endpoints ? null : "budget");
    }

    /// <summary>Why the run must stop now, or null: a node exited/restarted, or the wall-clock budget is spent.</summary>
    private string? Stop()
    {
        if (up.RestartLines.Count > 0) return $"a node exited or was restarted: {string.Join(" | ", up.RestartLines.Take(3))}";
        if (_wall.Elapsed > TimeSpan.FromMinutes(o.Minutes)) return $"wall-clock budget of {o.Minutes} min spent";
        return null;
    }

    private async Task<Net> CreateNetworkAsync(int i)
    {
        var l3 = i % 2 == 1;
        // Each network its own /20 of 10.0.0.0/8 (room for 4,096 networks); the l3 subnet is the lower /21 (2,045 hosts).
        var baseAddr = (10u << 24) + (uint)i * 4096;
        string Addr(uint a) => $"{a >> 24}.{(a >> 16) & 255}.{(a >> 8) & 255}.{a & 255}";
        object body = l3
            ? new { name = $"scale-{i}", vni = 100_000 + i, kind = "l3", cidr = $"{Addr(baseAddr)}/20" }
            : new { name = $"scale-{i}", vni = 100_000 + i, kind = "l2" };
        var net = await PostAsync(Client(i), "/api/v1/networks", body);
        var id = net["id"]!.GetValue<string>();
        string? subnet = null;
        if (l3) subnet = (await PostAsync(Client(i), $"/api/v1/networks/{id}/subnets", new { name = "s", cidr = $"{Addr(baseAddr)}/21" }))["id"]!.GetValue<string>();
        return new Net(id, subnet, i);
    }

    private static async Task<JsonNode> PostAsync(HttpClient c, string path, object body)
    {
        for (var attempt = 0; ; attempt++)
        {
            using var r = await c.PostAsJsonAsync(path, body);
            var text = await r.Content.ReadAsStringAsync();
            if (r.StatusCode == HttpStatusCode.Created) return JsonNode.Parse(text)!;
            if (attempt >= 5 || (int)r.StatusCode < 500) throw new InvalidOperationException($"POST {path}: {(int)r.StatusCode} {text}");
            await Task.Delay(500);
        }
    }

    private object EndpointBody(int k)
    {
        var net = _networks[k % _networks.Count];
        var node = Nodes[k % Nodes.Count].Name;
        return net.Subnet is null
            ? new { name = $"ep-{k}", network = net.Id, node, port = new { kind = "guest" } }
            : new { name = $"ep-{k}", network = net.Id, subnet = net.Subnet, node, port = new { kind = "guest" } };
    }

    private async Task<string?> CreateSinglesAsync(int from, int to)
    {
        var next = from - 1;
        var results = new ConcurrentDictionary<int, Created>();
        string? stop = null;
        async Task Worker()
        {
            while (true)
            {
                var k = Interlocked.Increment(ref next);
                if (k >= to || stop is not null) return;
                if (Stop() is { } why) { stop = why; return; }
                var sw = Stopwatch.StartNew();
                try
                {
                    using var r = await Client(k).PostAsJsonAsync("/api/v1/endpoints", EndpointBody(k));
                    var text = await r.Content.ReadAsStringAsync();
                    var ms = sw.Elapsed.TotalMilliseconds;
                    _createMs.Add(ms);
                    if (r.StatusCode != HttpStatusCode.Created)
                    {
                        Interlocked.Increment(ref _createErrors);
                        _lastError = $"{(int)r.StatusCode} {(text.Length > 300 ? text[..300] : text)}";
                        continue;
                    }
                    var e = JsonNode.Parse(text)!;
                    var created = new Created(e["id"]!.GetValue<string>(), e["network"]!.GetValue<string>(), e["mac"]!.GetValue<string>(), k % Nodes.Count);
                    results[k] = created;
                    _createdAt.Enqueue(DateTime.UtcNow);
                    if (k % o.Sample == 0) Track(created, sw);
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                {
                    _createMs.Add(sw.Elapsed.TotalMilliseconds);
                    Interlocked.Increment(ref _createErrors);
                    _lastError = ex.Message;
                }
            }
        }
        await Task.WhenAll(Enumerable.Range(0, o.Concurrency).Select(_ => Worker()));
        _endpoints.AddRange(results.OrderBy(kv => kv.Key).Select(kv => kv.Value));
        return stop;
    }

    private async Task<string?> CreateBulkAsync(int from, int to)
    {
        const int Batch = 500;
        for (var start = from; start < to; start += Batch)
        {
            if (Stop() is { } why) return why;
            var ks = Enumerable.Range(start, Math.Min(Batch, to - start)).ToArray();
            var sw = Stopwatch.StartNew();
            using var r = await Client(start / Batch).PostAsJsonAsync("/api/v1/endpoints/bulk", new { endpoints = ks.Select(EndpointBody).ToArray() });
            var text = await r.Content.ReadAsStringAsync();
            _createMs.Add(sw.Elapsed.TotalMilliseconds);
            if (r.StatusCode != HttpStatusCode.Created)
            {
                _createErrors += ks.Length;
                _lastError = $"{(int)r.StatusCode} {(text.Length > 300 ? text[..300] : text)}";
                if ((int)r.StatusCode == 503) await Task.Delay(1000);
                continue;
            }
            var list = JsonNode.Parse(text)!["endpoints"]!.AsArray();
            for (var i = 0; i < ks.Length; i++)
            {
                var e = list[i]!;
                var created = new Created(e["id"]!.GetValue<string>(), e["network"]!.GetValue<string>(), e["mac"]!.GetValue<string>(), ks[i] % Nodes.Count);
                _endpoints.Add(created);
                _createdAt.Enqueue(DateTime.UtcNow);
                if (ks[i] % o.Sample == 0) Track(created, sw);
            }
        }
        return null;
    }

    /// <summary>Polls every node's FDB for the endpoint's network until each shows it where it is; records the time since the write was sent.</summary>
    private void Track(Created e, Stopwatch sinceSent)
    {
        Interlocked.Increment(ref _reachSamples);
        lock (_reachTasks)
            _reachTasks.Add(Task.Run(async () =>
            {
                var ms = await ReachAllAsync(e.Network, e.Mac, e.NodeIndex, sinceSent);
                if (ms is { } v) _reachMs.Add(v); else Interlocked.Increment(ref _reachMissing);
            }));
    }

    private async Task<double?> ReachAllAsync(string network, string mac, int hostIndex, Stopwatch since)
    {
        var pending = Enumerable.Range(0, Nodes.Count).ToHashSet();
        while (since.Elapsed < ReachTimeout)
        {
            foreach (var i in pending.ToArray())
                if (await FdbShowsAsync(i, network, mac, hostIndex)) pending.Remove(i);
            if (pending.Count == 0) return since.Elapsed.TotalMilliseconds;
            await Task.Delay(50);
        }
        return null;
    }

    /// <summary>Node i's own FDB (asked at its own HTTP endpoint) has the MAC local when i hosts it, else at the host's VTEP.</summary>
    private async Task<bool> FdbShowsAsync(int i, string network, string mac, int hostIndex)
    {
        try
        {
            using var r = await Client(i).GetAsync($"/api/v1/nodes/{Nodes[i].Name}/fdb?network={network}");
            if (!r.IsSuccessStatusCode) return false;
            var entries = JsonNode.Parse(await r.Content.ReadAsStringAsync())!["entries"]!.AsArray();
            foreach (var x in entries)
            {
                if (!string.Equals(x!["mac"]!.GetValue<string>(), mac, StringComparison.OrdinalIgnoreCase)) continue;
                var loc = x["location"]!.GetValue<string>();
                return i == hostIndex ? loc.StartsWith("local:", StringComparison.Ordinal) : loc.StartsWith("vtep:" + Nodes[hostIndex].VtepIp, StringComparison.Ordinal);
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException) { }
        return false;
    }

    /// <summary>Moves n endpoints (spread over the networks) to the next node and times until every node's FDB shows the new place.</summary>
    private async Task<(double? P50, double? P99, int Samples, int Missing)> MovesAsync(int n)
    {
        if (_endpoints.Count == 0) return (null, null, 0, 0);
        var step = Math.Max(1, _endpoints.Count / n);
        var picks = Enumerable.Range(0, n).Select(i => (i * step + _rows.Count) % _endpoints.Count).Distinct().ToArray();
        var times = new ConcurrentBag<double>();
        var missing = 0;
        await Task.WhenAll(picks.Select(async (idx, j) =>
        {
            var e = _endpoints[idx];
            var to = (e.NodeIndex + 1) % Nodes.Count;
            var sw = Stopwatch.StartNew();
            try
            {
                using var r = await Client(j).PutAsJsonAsync($"/api/v1/endpoints/{e.Id}/node", new { node = Nodes[to].Name });
                if (!r.IsSuccessStatusCode) { Interlocked.Increment(ref missing); _lastError = $"move: {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}"; return; }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                Interlocked.Increment(ref missing);
                _lastError = $"move: {ex.Message}";
                return;
            }
            lock (_endpoints) _endpoints[idx] = e with { NodeIndex = to };
            var ms = await ReachAllAsync(e.Network, e.Mac, to, sw);
            if (ms is { } v) times.Add(v); else Interlocked.Increment(ref missing);
        }));
        var t = times.ToArray();
        return (t.Length > 0 ? ScaleHarness.Percentile(t, 50) : null, t.Length > 0 ? ScaleHarness.Percentile(t, 99) : null, picks.Length, missing);
    }

    /// <summary>How many FDB entries each node holds over all networks (every node should hold every endpoint today).</summary>
    private async Task<string> FdbCountsAsync()
    {
        var counts = new List<string>();
        for (var i = 0; i < Nodes.Count; i++)
        {
            try
            {
                using var r = await Client(i).GetAsync($"/api/v1/nodes/{Nodes[i].Name}/fdb");
                counts.Add(r.IsSuccessStatusCode ? $"{JsonNode.Parse(await r.Content.ReadAsStringAsync())!["entries"]!.AsArray().Count}" : $"{(int)r.StatusCode}");
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException) { counts.Add("timeout"); }
        }
        return string.Join(" / ", counts);
    }

    private string Rss()
    {
        var pids = up.NodePids();
        return string.Join(" / ", Nodes.Select(n => pids.TryGetValue(n.Name, out var p) ? $"{ScaleHarness.RssKb(p) / 1024}" : "-"));
    }

    /// <summary>CPU of each node process over 10 s with no load from the harness, in % of one core.</summary>
    private async Task<string> IdleCpuAsync()
    {
        var pids = up.NodePids();
        var before = Nodes.Select(n => pids.TryGetValue(n.Name, out var p) ? ScaleHarness.CpuTicks(p) : -1).ToArray();
        var sw = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(10));
        var after = Nodes.Select(n => pids.TryGetValue(n.Name, out var p) ? ScaleHarness.CpuTicks(p) : -1).ToArray();
        return string.Join(" / ", before.Zip(after).Select(x => x.Item1 < 0 || x.Item2 < 0 ? "-" : $"{(x.Item2 - x.Item1) / sw.Elapsed.TotalSeconds:0.0}"));
    }

    private async Task<string> MembersAsync()
    {
        try
        {
            var members = await Client(0).GetFromJsonAsync<JsonArray>("/cluster/members");
            return string.Join(" / ", members!.Select(m => $"{m!["status"]}{(m["reachable"]?.GetValue<bool>() == false ? " unreachable" : "")}"));
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException) { return "no answer"; }
    }

    /// <summary>kill -9 the last node; fabric up restarts it; time until its FDB holds every endpoint again.</summary>
    private async Task KillNineAsync()
    {
        var victim = Nodes[^1];
        var pids = up.NodePids();
        if (!pids.TryGetValue(victim.Name, out var pid)) return;
        var expected = _endpoints.Count;
        Console.WriteLine($"kill -9 {victim.Name} (pid {pid}) with {expected} endpoints");
        var sw = Stopwatch.StartNew();
        ScaleHarness.KillNine(pid);
        TimeSpan? restartedAt = null;
        var c = Client(Nodes.Count - 1);
        // At most 3 minutes, and never past the budget by more than that (the budget covers the load).
        var limit = TimeSpan.FromMinutes(3);
        while (sw.Elapsed < limit)
        {
            await Task.Delay(250);
            if (restartedAt is null)
            {
                if (up.NodePids().TryGetValue(victim.Name, out var p2) && p2 != pid) restartedAt = sw.Elapsed;
                continue;
            }
            try
            {
                using var r = await c.GetAsync($"/api/v1/nodes/{victim.Name}/fdb");
                if (!r.IsSuccessStatusCode) continue;
                var entries = JsonNode.Parse(await r.Content.ReadAsStringAsync())!["entries"]!.AsArray().Count;
                if (entries >= expected)
                {
                    _killResult = $"kill -9 {victim.Name} at {expected} endpoints: new process after {restartedAt.Value.TotalSeconds:0.0} s "
                        + $"(fabric up's restart delay included); its FDB held all {expected} endpoints {(sw.Elapsed - restartedAt.Value).TotalSeconds:0.0} s after that. "
                        + $"Members afterwards: {await MembersAsync()}";
                    Console.WriteLine(_killResult);
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException) { }
        }
        _killResult = $"kill -9 {victim.Name} at {expected} endpoints: {(restartedAt is null ? "no new process" : "its FDB did not hold every endpoint")} within {limit.TotalMinutes:0} min";
        Console.WriteLine(_killResult);
    }

    /// <summary>
    /// The first occurrence in the node logs of what breaks today's control plane, with how many endpoints had been
    /// created by then: a listing dropped as an oversized frame, a delayed heartbeat, a node marked unreachable or downed.
    /// </summary>
    private IEnumerable<string> LogFindings()
    {
        var marks = new (string Needle, string What)[]
        {
            ("OversizedPayloadException", "first oversized frame dropped"),
            ("Scheduled sending of heartbeat was delayed", "first delayed heartbeat"),
            ("Marking node(s) as UNREACHABLE", "first node marked unreachable"),
            ("has been downed", "first node downed"),
        };
        var created = _createdAt.ToArray();
        foreach (var f in up.Dir.GetFiles("node-*.log").OrderBy(f => f.Name))
        {
            string[] lines;
            try { lines = File.ReadAllLines(f.FullName); } catch (IOException) { continue; }
            foreach (var (needle, what) in marks)
            {
                var i = Array.FindIndex(lines, l => l.Contains(needle, StringComparison.Ordinal));
                if (i < 0) continue;
                var count = lines.Count(l => l.Contains(needle, StringComparison.Ordinal));
                // The timestamp is on the line itself or, for an exception's "Cause:" line, on the line before.
                var stamped = lines[i].StartsWith('[') ? lines[i] : i > 0 ? lines[i - 1] : lines[i];
                var at = System.Text.RegularExpressions.Regex.Match(stamped, @"\]\[(\d\d/\d\d/\d{4} \d\d:\d\d:\d\d\.\d+)Z\]");
                var when = at.Success && DateTime.TryParseExact(at.Groups[1].Value, "MM/dd/yyyy HH:mm:ss.FFFFFFF", CultureInfo.InvariantCulture,
                    DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var t)
                    ? $" at {t:HH:mm:ss} UTC, {created.Count(c => c <= t):N0} endpoints created by then"
                    : "";
                var detail = lines[i].Trim();
                if (detail.Length > 260) detail = detail[..260] + "…";
                yield return $"{f.Name}: {what}{when} ({count} such lines): `{detail}`";
            }
        }
    }

    public string Markdown(string? stopReason, string args)
    {
        var md = new StringBuilder();
        md.AppendLine($"### Scale harness run, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        md.AppendLine();
        md.AppendLine($"`dotnet run -c Release --project benchmarks/Fabric.Benchmarks -- {args}` (under `flock /tmp/fabric-test.lock`), "
            + $"machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}; `fabric up --nodes {o.Nodes}` formed in {up.FormedIn.TotalSeconds:0.0} s; endpoints created with {_mode}, concurrency {o.Concurrency}.");
        md.AppendLine();
        md.AppendLine($"Empty cluster: RSS {_rssEmpty} MB, idle CPU {_idleEmpty} % of a core per node.");
        foreach (var n in _notes) md.AppendLine($"{n}.");
        md.AppendLine();
        md.AppendLine("| endpoints | at (s) | rate (/s) | create p50 / p99 (ms) | errors | new → every FDB p50 / p99 (ms) (samples, missing) | move → every FDB p50 / p99 (ms) (samples, missing) | FDB entries per node | RSS per node (MB) | idle CPU per node (% core, 10 s) | members | restarts |");
        md.AppendLine("|---:|---:|---:|---|---:|---|---|---|---|---|---|---:|");
        static string F(double? v) => v is { } x && !double.IsNaN(x) ? x.ToString("0", CultureInfo.InvariantCulture) : "–";
        foreach (var r in _rows)
            md.AppendLine($"| {r.Endpoints:N0} | {r.ElapsedS:0} | {r.Rate:0.0} | {F(r.CreateP50)} / {F(r.CreateP99)} | {r.CreateErrors} | {F(r.ReachP50)} / {F(r.ReachP99)} ({r.ReachSamples}, {r.ReachMissing}) | {F(r.MoveP50)} / {F(r.MoveP99)} ({r.MoveSamples}, {r.MoveMissing}) | {r.FdbCounts} | {r.RssMb} | {r.IdleCpu} | {r.Members} | {r.Restarts} |");
        md.AppendLine();
        md.AppendLine($"Stopped: {stopReason ?? $"reached {o.Endpoints:N0} endpoints"}.");
        if (_lastError is not null) md.AppendLine($"Last error seen: `{_lastError.ReplaceLineEndings(" ")}`.");
        if (_killResult is not null) md.AppendLine(_killResult + ".");
        foreach (var f in LogFindings()) md.AppendLine($"- {f}");
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
