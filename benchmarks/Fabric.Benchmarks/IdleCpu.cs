using System.Diagnostics;
using System.Globalization;

namespace Fabric.Benchmarks;

/// <summary>
/// Idle CPU of a fresh <c>fabric up --nodes K</c> (issue 10: under 1 % of a core per node). Starts the built cluster,
/// waits for it to form and settle (JIT, tiering, the singleton's start), then reads every thread's run time
/// (<c>/proc/PID/task/TID/schedstat</c>, nanoseconds) and context switches at the start and the end of the window, and
/// prints per node: % of a core, RSS, wake-ups per second, and the threads that cost most, grouped by name
/// (<c>comm</c>: ".NET TP Worker", "fabric-dataplan", ".NET Timer", …). The <c>fabric up</c> supervisor is a row too.
/// <code>
/// flock /tmp/fabric-test.lock benchmarks/Fabric.Benchmarks/bin/Release/net10.0/Fabric.Benchmarks --idle-cpu
///     [--nodes 3] [--seconds 60] [--settle 30] [--top 8] [--networks 100 --endpoints 1000]
///     [-- extra fabric up arguments, e.g. --hocon FILE]
/// </code>
/// With <c>--endpoints N</c> the cluster is loaded first, through the API: M networks (l2 and l3 alternating, one subnet
/// per l3 network), network i spread over 1 + i % K nodes as the scale harness spreads them, and N guest endpoints,
/// endpoint k in network k % M on the next node of its span (bulk POSTs of 500); the settle time starts after the load.
/// Environment variables reach the nodes (fabric up passes its own on), so DOTNET_* runtime knobs can be tried
/// without a rebuild.
/// </summary>
public static class IdleCpu
{
    public static async Task<int> Run(string[] args)
    {
        var nodes = int.Parse(LocalCluster.Value(args, "--nodes") ?? "3", CultureInfo.InvariantCulture);
        var seconds = double.Parse(LocalCluster.Value(args, "--seconds") ?? "60", CultureInfo.InvariantCulture);
        var settle = double.Parse(LocalCluster.Value(args, "--settle") ?? "30", CultureInfo.InvariantCulture);
        var top = int.Parse(LocalCluster.Value(args, "--top") ?? "8", CultureInfo.InvariantCulture);
        var endpoints = int.Parse(LocalCluster.Value(args, "--endpoints") ?? "0", CultureInfo.InvariantCulture);
        var networks = int.Parse(LocalCluster.Value(args, "--networks") ?? (endpoints > 0 ? "100" : "0"), CultureInfo.InvariantCulture);
        await using var cluster = await LocalCluster.StartAsync(nodes, LocalCluster.UpArgs(args));
        Console.WriteLine($"fabric up --nodes {nodes} formed in {cluster.FormedIn.TotalSeconds:0.0} s");
        if (networks > 0)
        {
            var load = Stopwatch.StartNew();
            await LoadAsync(cluster, nodes, networks, endpoints);
            Console.WriteLine($"{networks} networks and {endpoints} endpoints created in {load.Elapsed.TotalSeconds:0.0} s");
        }
        Console.WriteLine($"settling {settle:0} s, then measuring {seconds:0} s");
        await Task.Delay(TimeSpan.FromSeconds(settle));
        var pids = cluster.NodePids();
        var targets = pids.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => (p.Key, p.Value)).Append(("fabric up", cluster.UpPid)).ToArray();
        var before = targets.Select(t => Threads(t.Item2)).ToArray();
        var ticks0 = targets.Select(t => ProcessTicks(t.Item2)).ToArray();
        var load0 = File.ReadAllText("/proc/loadavg").Split(' ')[0];
        var sw = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(seconds));
        var after = targets.Select(t => Threads(t.Item2)).ToArray();
        var ticks1 = targets.Select(t => ProcessTicks(t.Item2)).ToArray();
        var elapsed = sw.Elapsed.TotalSeconds;
        var load1 = File.ReadAllText("/proc/loadavg").Split(' ')[0];
        var restarted = pids.Any(p => !cluster.NodePids().TryGetValue(p.Key, out var now) || now != p.Value);

        Console.WriteLine();
        Console.WriteLine($"window {elapsed:0.0} s, load average {load0} → {load1}{(restarted ? "; A NODE RESTARTED during the window" : "")}");
        Console.WriteLine();
        // The first figure sums the threads alive at the end (to the nanosecond); the second is the process's own
        // utime + stime (10 ms ticks), which also counts threads that exited during the window.
        // The tiered JIT's background compiler is listed apart: it recompiles methods as they reach 30 calls, which for
        // code run once a second takes minutes after start, then stops; it is warm-up, not what an idle node burns.
        Console.WriteLine("| process | CPU, % of a core (threads) | of which JIT (Tiered Com) | CPU, % (process stat) | RSS, MB | threads | wake-ups/s |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
        var perThread = new List<string>();
        for (var i = 0; i < targets.Length; i++)
        {
            var (name, pid) = targets[i];
            var rows = new Dictionary<string, (double Ns, long Switches, int Count)>();
            double total = 0, jit = 0;
            long switches = 0;
            foreach (var (tid, t1) in after[i])
            {
                var t0 = before[i].TryGetValue(tid, out var b) ? b : (t1.Comm, 0L, 0L);
                var ns = t1.RunNs - t0.Item2;
                var sw1 = t1.Switches - t0.Item3;
                total += ns;
                if (t1.Comm.StartsWith(".NET Tiered", StringComparison.Ordinal)) jit += ns;
                switches += sw1;
                rows[t1.Comm] = rows.TryGetValue(t1.Comm, out var r) ? (r.Ns + ns, r.Switches + sw1, r.Count + 1) : (ns, sw1, 1);
            }
            Console.WriteLine($"| {name} | {total / 1e9 / elapsed * 100:0.00} | {jit / 1e9 / elapsed * 100:0.00} | {(ticks1[i] - ticks0[i]) / elapsed:0.0} | {RssMb(pid):0} | {after[i].Count} | {switches / elapsed:0} |");
            foreach (var (comm, r) in rows.OrderByDescending(r => r.Value.Ns).Take(top))
                perThread.Add($"| {name} | {comm} ×{r.Count} | {r.Ns / 1e9 / elapsed * 100:0.000} | {r.Switches / elapsed:0} |");
        }
        Console.WriteLine();
        Console.WriteLine("| process | thread (comm × count) | CPU, % of a core | wake-ups/s |");
        Console.WriteLine("|---|---|---:|---:|");
        foreach (var line in perThread) Console.WriteLine(line);
        return restarted ? 1 : 0;
    }

    /// <summary>The scale harness's layout (ScaleRun): network i on 1 + i % K nodes from node (i / K) % K; endpoint k in network k % M.</summary>
    private static async Task LoadAsync(LocalCluster cluster, int k, int m, int n)
    {
        var nets = new (string Id, string? Subnet, int[] Span)[m];
        for (var i = 0; i < m; i++)
        {
            var l3 = i % 2 == 1;
            var a = (10u << 24) + (uint)i * 4096;
            var addr = $"{a >> 24}.{(a >> 16) & 255}.{(a >> 8) & 255}.0";
            object body = l3
                ? new { name = $"idle-{i}", vni = 100_000 + i, kind = "l3", cidr = $"{addr}/20" }
                : new { name = $"idle-{i}", vni = 100_000 + i, kind = "l2" };
            var id = (await cluster.PostAsync(i % k, "/api/v1/networks", body))["id"]!.GetValue<string>();
            var subnet = l3 ? (await cluster.PostAsync(i % k, $"/api/v1/networks/{id}/subnets", new { name = "s", cidr = $"{addr}/21" }))["id"]!.GetValue<string>() : null;
            var start = (i / k) % k;
            nets[i] = (id, subnet, Enumerable.Range(0, 1 + i % k).Select(t => (start + t) % k).ToArray());
        }
        for (var first = 0; first < n; first += 500)
        {
            var batch = Enumerable.Range(first, Math.Min(500, n - first)).Select(e =>
            {
                var (id, subnet, span) = nets[e % m];
                var node = cluster.Nodes[span[(e / m) % span.Length]].Name;
                return subnet is null
                    ? (object)new { name = $"ep-{e}", network = id, node, port = new { kind = "guest" } }
                    : new { name = $"ep-{e}", network = id, subnet, node, port = new { kind = "guest" } };
            }).ToArray();
            await cluster.PostAsync(first / 500 % k, "/api/v1/endpoints/bulk", new { endpoints = batch });
        }
    }

    /// <summary>tid → (comm, run time in ns, voluntary + involuntary context switches).</summary>
    private static Dictionary<int, (string Comm, long RunNs, long Switches)> Threads(int pid)
    {
        var result = new Dictionary<int, (string, long, long)>();
        string[] tasks;
        try { tasks = Directory.GetDirectories($"/proc/{pid}/task"); }
        catch (IOException) { return result; }
        catch (UnauthorizedAccessException) { return result; }
        foreach (var task in tasks)
        {
            try
            {
                var tid = int.Parse(Path.GetFileName(task), CultureInfo.InvariantCulture);
                var comm = File.ReadAllText(Path.Combine(task, "comm")).Trim();
                var runNs = long.Parse(File.ReadAllText(Path.Combine(task, "schedstat")).Split(' ')[0], CultureInfo.InvariantCulture);
                long switches = 0;
                foreach (var line in File.ReadLines(Path.Combine(task, "status")))
                    if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal) || line.StartsWith("nonvoluntary_ctxt_switches:", StringComparison.Ordinal))
                        switches += long.Parse(line[(line.IndexOf(':') + 1)..].Trim(), CultureInfo.InvariantCulture);
                result[tid] = (comm, runNs, switches);
            }
            catch (IOException) { }
            catch (FormatException) { }
        }
        return result;
    }

    /// <summary>utime + stime of a process, in clock ticks (USER_HZ, 100 a second).</summary>
    private static long ProcessTicks(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(f[11], CultureInfo.InvariantCulture) + long.Parse(f[12], CultureInfo.InvariantCulture);
        }
        catch (IOException) { return 0; }
    }

    private static double RssMb(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
        }
        catch (IOException) { }
        return -1;
    }
}
