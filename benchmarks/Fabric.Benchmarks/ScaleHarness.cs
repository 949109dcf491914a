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
/// Scale harness for issue 10 ("How to show it"): starts the built <c>fabric up --nodes K</c> (real processes, a temp
/// data dir, free ports) and then uses the HTTP API only. It creates M networks (l2 and l3 alternating, each l3 with
/// one subnet; each network spread over 1 to K nodes), then endpoints (guest ports) with
/// <c>POST /api/v1/endpoints/bulk</c> when the API has it (single POSTs otherwise), and at each checkpoint (1,000,
/// 10,000, 100,000 by default) measures: creation rate; the time for a NEW endpoint (single POSTs sampled during and
/// after the load, and bulk items) and for a MOVE to reach every interested node's FDB (interested: the nodes that
/// host an endpoint of its network); FDB completeness (sampled networks, all of them at the end); RSS and idle CPU per
/// node; the time for a node killed with kill -9 to forward to everything again; whether a node was downed or
/// restarted. Results go to stdout and, as a markdown section with PASS/FAIL against issue 10's targets, to --out.
/// <code>
/// dotnet run -c Release --project benchmarks/Fabric.Benchmarks -- --scale [--endpoints 100000] [--networks 1000]
///     [--checkpoints 1000,10000,100000] [--batch 1000] [--minutes 14] [--no-kill] [--out docs/scale.md] …
/// </code>
/// Run it under the shared lock: <c>flock /tmp/fabric-test.lock dotnet run …</c>. Options: <see cref="Options.Usage"/>.
/// </summary>
public static class ScaleHarness
{
    public static async Task<int> Run(string[] args)
    {
        if (args.Contains("--help"))
        {
            Console.WriteLine(Options.Usage);
            return 0;
        }
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

    /// <summary>When the harness kills a node with kill -9 (after the other measurements of a checkpoint).</summary>
    internal enum KillAt { None, Last, Every }

    internal sealed record Options(
        int Endpoints, int Networks, int Nodes, IReadOnlyList<int> Checkpoints, int Batch, int BulkConcurrency, int Concurrency,
        double Minutes, int Sample, int SingleEveryMs, int SinglesAfter, int Moves, int IdleSeconds, int IdleSettle, int CheckNetworks,
        KillAt Kill, int KillTimeoutS, string? Out)
    {
        public const string Usage = """
            --endpoints N        endpoints to create in all (default 100000)
            --networks M         networks (default N/100, 1 to 1000)
            --nodes K            nodes of fabric up (default 3)
            --checkpoints a,b,c  where to measure (default 1000,10000,100000; those <= N, and N itself)
            --batch B            items per bulk request (default 1000, at most 10000 per API.md)
            --bulk-concurrency C bulk requests in flight (default 2)
            --concurrency C      single-POST workers when the API has no bulk route (default 4)
            --minutes T          budget for the whole run; loads stop when it is spent (default 14)
            --sample S           track every S-th endpoint created (bulk item or single-POST load) to every interested FDB (default 1000; 50 with single POSTs)
            --single-every MS    during a bulk load, one single POST every MS ms, tracked (default 500)
            --singles-after K    after each load segment, K single POSTs 100 ms apart, tracked (default 20)
            --moves K            moves per checkpoint, 200 ms apart, tracked (default 20)
            --idle-seconds S     window of the idle-CPU measurement, no load at all (default 60)
            --idle-settle S      seconds with no load before that window, so JIT tiering and GC after a load settle (default 60)
            --check-networks K   networks whose FDBs are checked whole at each checkpoint but the last (default 100; the last checkpoint and every kill -9 check all)
            --kill every|last|none  kill -9 the last node at every checkpoint (default), only the last, or never (--no-kill = none)
            --kill-timeout S     how long to wait for the killed node to forward to everything again (default 180)
            --out FILE           write the markdown section between the scale-harness markers of FILE
            """;

        public static Options Parse(string[] args)
        {
            string? Value(string name)
            {
                var i = Array.IndexOf(args, name);
                return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
            }
            int Int(string name, int fallback) => Value(name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
            var endpoints = Int("--endpoints", 100_000);
            var checkpoints = (Value("--checkpoints") ?? "1000,10000,100000").Split(',', StringSplitOptions.RemoveEmptyEntries)
                .Select(c => int.Parse(c, CultureInfo.InvariantCulture)).Where(c => c > 0 && c <= endpoints).Append(endpoints).Distinct().Order().ToArray();
            var kill = args.Contains("--no-kill") ? KillAt.None : (Value("--kill") ?? "every") switch
            {
                "every" => KillAt.Every,
                "last" => KillAt.Last,
                "none" => KillAt.None,
                var k => throw new ArgumentException($"--kill {k}: every, last or none"),
            };
            return new Options(
                endpoints,
                Int("--networks", Math.Clamp(endpoints / 100, 1, 1000)),
                Int("--nodes", 3),
                checkpoints,
                Math.Clamp(Int("--batch", 1000), 1, 10_000),
                Math.Max(1, Int("--bulk-concurrency", 2)),
                Math.Max(1, Int("--concurrency", 4)),
                Value("--minutes") is { } m ? double.Parse(m, CultureInfo.InvariantCulture) : 14,
                Math.Max(0, Int("--sample", 0)),
                Math.Max(10, Int("--single-every", 500)),
                Int("--singles-after", 20),
                Int("--moves", 20),
                Math.Max(1, Int("--idle-seconds", 60)),
                Math.Max(0, Int("--idle-settle", 60)),
                Int("--check-networks", 100),
                kill,
                Int("--kill-timeout", 180),
                Value("--out"));
        }
    }

    internal sealed record NodeInfo(string Name, string VtepIp, string Http);

    /// <summary>The <c>fabric up</c> process, its output, and its node processes.</summary>
    internal sealed class UpProcess : IAsyncDisposable
    {
        private readonly Process _up;
        private readonly StringBuilder _log = new();
        private bool _disposed;
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
                if (up._disposed) return;
                try
                {
                    if (!process.HasExited)
                    {
                        _ = Kill(process.Id, 15);
                        process.WaitForExit(TimeSpan.FromSeconds(30));
                    }
                }
                catch (InvalidOperationException) { }
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
            if (_disposed) return;
            _disposed = true;
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
            {
                // Kept logs outlive the temporary directory; a folder that does not exist yet is made, not a crash.
                Directory.CreateDirectory(keep);
                foreach (var f in Dir.GetFiles("node-*.log")) f.CopyTo(Path.Combine(keep, f.Name), overwrite: true);
            }
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
