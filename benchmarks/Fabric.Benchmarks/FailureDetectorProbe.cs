using System.Diagnostics;
using System.Globalization;

namespace Fabric.Benchmarks;

/// <summary>
/// The two figures of issue 10's "never down a node for being busy", on a real <c>fabric up --nodes 3</c> started with
/// <c>--restart never</c> (a restarted node would rejoin as a new incarnation and have the old one removed at once,
/// which hides the split brain resolver's timing):
/// <list type="bullet">
/// <item><c>--fd-probe crash</c>: kill -9 the last node; poll both survivors' <c>GET /cluster/members</c> every 50 ms and
/// print when the first marked it unreachable, when it was first seen down, and when it was gone from every view.</item>
/// <item><c>--fd-probe stop --pauses 2,4,6,…</c>: SIGSTOP the last node for each pause in turn, SIGCONT it, and watch
/// for 12 s + stable-after: the largest pause after which nobody is downed (the node process still runs and every
/// member is up and reachable again).</item>
/// <item><c>--fd-probe burn --burners 4 --pauses 10,30</c>: as <c>stop</c>, but with that many busy-looping processes
/// (<c>sh -c 'while :; do :; done'</c>, optionally <c>--rt</c>: SCHED_FIFO via chrt, which starves everything else
/// but the kernel's 5 % real-time throttling reserve) for each duration.</item>
/// </list>
/// <code>
/// flock /tmp/fabric-test.lock benchmarks/Fabric.Benchmarks/bin/Release/net10.0/Fabric.Benchmarks --fd-probe crash [-- --hocon FILE]
/// </code>
/// </summary>
public static class FailureDetectorProbe
{
    public static async Task<int> Run(string[] args)
    {
        var mode = LocalCluster.Value(args, "--fd-probe") ?? "crash";
        var pauses = (LocalCluster.Value(args, "--pauses") ?? "2,4,6,8,10").Split(',').Select(p => double.Parse(p, CultureInfo.InvariantCulture)).ToArray();
        var burners = int.Parse(LocalCluster.Value(args, "--burners") ?? "4", CultureInfo.InvariantCulture);
        var watch = double.Parse(LocalCluster.Value(args, "--watch") ?? "15", CultureInfo.InvariantCulture);
        await using var cluster = await LocalCluster.StartAsync(3, LocalCluster.UpArgs(args).Concat(["--restart", "never"]));
        Console.WriteLine($"fabric up --nodes 3 formed in {cluster.FormedIn.TotalSeconds:0.0} s ({cluster.Dir.FullName})");
        if (!await AllUpAsync(cluster, TimeSpan.FromSeconds(60))) { Console.WriteLine("the cluster never showed 3 members up and reachable"); return 2; }
        await Task.Delay(TimeSpan.FromSeconds(5));
        var victim = cluster.Nodes[^1].Name;
        var pid = cluster.NodePids()[victim];
        var code = mode switch
        {
            "crash" => await CrashAsync(cluster, victim, pid),
            "stop" or "burn" => await StarveAsync(cluster, victim, pid, mode, pauses, burners, args.Contains("--rt"), watch),
            _ => throw new ArgumentException($"--fd-probe {mode}: crash, stop or burn"),
        };
        PrintLogs(cluster);
        return code;
    }

    private static async Task<int> CrashAsync(LocalCluster cluster, string victim, int pid)
    {
        var sw = Stopwatch.StartNew();
        LocalCluster.Signal(pid, 9);
        Console.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} kill -9 {victim} (pid {pid})");
        TimeSpan? unreachable = null, down = null, gone = null;
        var goneFrom = new bool[cluster.Nodes.Count - 1];
        while (sw.Elapsed < TimeSpan.FromSeconds(60) && gone is null)
        {
            for (var i = 0; i < goneFrom.Length; i++)
            {
                var members = await cluster.MembersAsync(i);
                if (members is null) continue;
                var v = members.FirstOrDefault(m => m.Name == victim);
                if (v.Name is null) { goneFrom[i] = true; unreachable ??= sw.Elapsed; down ??= sw.Elapsed; continue; }
                if (!v.Reachable) unreachable ??= sw.Elapsed;
                if (v.Status is "down" or "removed" or "exiting") down ??= sw.Elapsed;
            }
            if (goneFrom.All(g => g)) gone = sw.Elapsed;
            await Task.Delay(50);
        }
        Console.WriteLine($"kill -9 → first survivor marks it unreachable: {S(unreachable)}; → first seen down: {S(down)}; → removed from every survivor's view: {S(gone)}");
        return gone is null ? 1 : 0;
    }

    private static async Task<int> StarveAsync(LocalCluster cluster, string victim, int pid, string mode, double[] pauses, int burners, bool rt, double watch)
    {
        double? largestTolerated = null;
        foreach (var pause in pauses)
        {
            var burning = new List<Process>();
            var sw = Stopwatch.StartNew();
            if (mode == "stop")
            {
                LocalCluster.Signal(pid, 19);
                Console.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} SIGSTOP {victim} for {pause} s");
            }
            else
            {
                for (var i = 0; i < burners; i++)
                {
                    var psi = new ProcessStartInfo(rt ? "chrt" : "sh") { UseShellExecute = false };
                    foreach (var a in rt ? ["-f", "1", "sh", "-c", "while :; do :; done"] : new[] { "-c", "while :; do :; done" }) psi.ArgumentList.Add(a);
                    burning.Add(Process.Start(psi)!);
                }
                Console.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {burners} {(rt ? "SCHED_FIFO " : "")}CPU burners for {pause} s");
            }
            var sawUnreachable = false;
            while (sw.Elapsed < TimeSpan.FromSeconds(pause))
            {
                if (mode == "burn") sawUnreachable |= await AnyUnreachableAsync(cluster);
                await Task.Delay(mode == "burn" ? 200 : 100);
            }
            if (mode == "stop") LocalCluster.Signal(pid, 18);
            foreach (var b in burning) { b.Kill(); b.WaitForExit(); b.Dispose(); }
            Console.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} released after {sw.Elapsed.TotalSeconds:0.0} s");
            // Watch for as long as a downing could still follow: the resolver acts stable-after after the last change.
            var watchSw = Stopwatch.StartNew();
            var downed = false;
            while (watchSw.Elapsed < TimeSpan.FromSeconds(watch))
            {
                sawUnreachable |= await AnyUnreachableAsync(cluster);
                if (cluster.NodePids().Count < cluster.Nodes.Count) { downed = true; break; }
                await Task.Delay(200);
            }
            var healthy = !downed && await AllUpAsync(cluster, TimeSpan.FromSeconds(10));
            Console.WriteLine($"  {pause} s: {(healthy ? "tolerated" : "A NODE WAS DOWNED")}{(sawUnreachable ? " (a member was marked unreachable on the way)" : " (nobody marked unreachable)")}");
            if (!healthy)
            {
                var left = cluster.NodePids();
                Console.WriteLine($"  node processes left: {string.Join(", ", left.Keys.Order())}");
                break;
            }
            largestTolerated = pause;
        }
        Console.WriteLine($"largest {(mode == "stop" ? "SIGSTOP pause" : $"{burners}-burner starvation")} tolerated: {(largestTolerated is { } l ? $"{l} s" : "none")}");
        return 0;
    }

    private static async Task<bool> AnyUnreachableAsync(LocalCluster cluster)
    {
        for (var i = 0; i < cluster.Nodes.Count; i++)
            if (await cluster.MembersAsync(i) is { } m && m.Any(x => !x.Reachable)) return true;
        return false;
    }

    private static async Task<bool> AllUpAsync(LocalCluster cluster, TimeSpan within)
    {
        var sw = Stopwatch.StartNew();
        do
        {
            var ok = true;
            for (var i = 0; i < cluster.Nodes.Count && ok; i++)
                ok = await cluster.MembersAsync(i) is { Count: var c } m && c == cluster.Nodes.Count && m.All(x => x.Status == "up" && x.Reachable);
            if (ok) return true;
            await Task.Delay(250);
        } while (sw.Elapsed < within);
        return false;
    }

    private static void PrintLogs(LocalCluster cluster)
    {
        foreach (var f in cluster.Dir.GetFiles("node-*.log").OrderBy(f => f.Name))
        {
            var lines = File.ReadAllLines(f.FullName).Where(l => l.Contains("heartbeat", StringComparison.OrdinalIgnoreCase)
                || l.Contains("unreachable", StringComparison.OrdinalIgnoreCase) || l.Contains("SBR", StringComparison.Ordinal)
                || l.Contains("Downing", StringComparison.OrdinalIgnoreCase)).ToArray();
            Console.WriteLine($"--- {f.Name}: {lines.Length} lines about heartbeats / reachability / downing");
            foreach (var l in lines.Take(12)) Console.WriteLine("  " + (l.Length > 240 ? l[..240] + "…" : l));
        }
    }

    private static string S(TimeSpan? t) => t is { } v ? $"{v.TotalSeconds:0.00} s" : "never (60 s)";
}
