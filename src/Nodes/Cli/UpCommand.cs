using System.CommandLine;
using System.Net;
using Spectre.Console;

namespace Fabric.Nodes.Cli;

/// <summary>
/// <c>fabric up --nodes N [--data DIR] [--base-port P]</c>: N node processes on this machine, progress until
/// the cluster has formed, a table of nodes, <c>DIR/cluster.json</c>; Ctrl-C or SIGTERM stops them all.
/// </summary>
public static class UpCommand
{
    public static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(30);

    public sealed record Parsed(UpOptions Options, bool Netns, string? Underlay, TimeSpan Timeout);

    public static Command Create()
    {
        var nodes = new Option<int>("--nodes", "-n") { Description = "how many nodes", DefaultValueFactory = _ => UpOptions.DefaultNodes };
        var data = new Option<string>("--data", "-d")
        {
            Description = "folder for the nodes' HOCON files, logs, the shared SQLite store and cluster.json",
            DefaultValueFactory = _ => UpOptions.DefaultDataDir,
        };
        var basePort = new Option<int>("--base-port", "-p")
        {
            Description = "first TCP port: node i listens for akka on P+2(i-1) and for http on P+2(i-1)+1",
            DefaultValueFactory = _ => UpOptions.DefaultBasePort,
        };
        var vtepPort = new Option<int>("--vtep-port")
        {
            Description = "UDP port of every VTEP (127.0.0.i)",
            DefaultValueFactory = _ => UpOptions.DefaultVtepPort,
        };
        var timeout = new Option<int>("--timeout")
        {
            Description = "seconds to wait for the cluster to form",
            DefaultValueFactory = _ => 120,
        };
        var netns = new Option<bool>("--netns") { Description = "as root: each node in a network namespace of its own (fabric-node-i) on one bridge (fabric-br)" };
        var underlay = new Option<string?>("--underlay") { Description = "with --netns: the underlay CIDR (default 10.250.0.0/24)" };
        var command = new Command("up", "Start a cluster of N nodes on this machine; Ctrl-C stops it")
        {
            nodes, data, basePort, vtepPort, timeout, netns, underlay,
        };
        command.SetAction((parse, _) =>
        {
            var parsed = new Parsed(
                new UpOptions(parse.GetValue(nodes), parse.GetValue(data) ?? UpOptions.DefaultDataDir, parse.GetValue(basePort), parse.GetValue(vtepPort)),
                parse.GetValue(netns), parse.GetValue(underlay), TimeSpan.FromSeconds(Math.Max(1, parse.GetValue(timeout))));
            return RunAsync(parsed);
        });
        return command;
    }

    public static async Task<int> RunAsync(Parsed parsed)
    {
        if (OperatingSystem.IsWindows())
            return Errors.Fail("`fabric up` runs on Linux (it uses 127.0.0.2 … as VTEP addresses and POSIX signals)");
        if (parsed.Netns && Netns.Unsupported() is { } why) return Errors.Fail(why);

        UpPlan plan;
        try { plan = UpPlan.Create(parsed.Options with { Netns = parsed.Netns, Underlay = parsed.Underlay }, UpPlan.NewToken()); }
        catch (CliException e) { return Errors.Fail(e.Message); }

        Directory.CreateDirectory(plan.DataDir);
        File.Delete(plan.ClusterFile); // whoever waits for it must not read the previous run's
        if (plan.Underlay is null)
        {
            var problems = Preflight.Check(plan);
            if (problems.Count > 0)
            {
                foreach (var p in problems) Errors.Write(p);
                return 1;
            }
        }
        foreach (var n in plan.Nodes) await File.WriteAllTextAsync(n.ConfigFile, plan.NodeHocon(n));

        using var shutdown = ShutdownSignal.Listen();
        var launcher = Launcher.Current();
        var children = new List<LocalNode>();
        var madeNetns = false;
        try
        {
            if (plan.Underlay is { } underlay)
            {
                await Netns.RemoveLeftoversAsync(line => AnsiConsole.WriteLine(line));
                madeNetns = true;
                await Netns.SetUpAsync(plan);
                AnsiConsole.WriteLine($"network namespaces fabric-node-1 … fabric-node-{plan.Nodes.Count} on bridge {UpPlan.Bridge} ({plan.BridgeAddress}), underlay {underlay}");
            }
            foreach (var n in plan.Nodes) children.Add(LocalNode.Start(launcher, n));

            var failure = await WaitUntilReadyAsync(children, parsed.Timeout, shutdown.Token);
            if (failure is not null)
            {
                Errors.Write(failure);
                return 1;
            }

            PrintCluster(plan);
            plan.ToClusterFile().Write(plan.ClusterFile);
            var ctlHint = Path.GetFullPath(UpOptions.DefaultDataDir) == plan.DataDir ? "`fabric ctl` run from here reads it" : $"`fabric ctl --cluster {plan.ClusterFile}` reads it";
            AnsiConsole.MarkupLineInterpolated($"Wrote [bold]{plan.ClusterFile}[/] (the bearer token is in it; {ctlHint}).");
            AnsiConsole.MarkupLineInterpolated($"Logs: {Path.Combine(plan.DataDir, "node-*.log")}. Try [bold]fabric ctl members[/]. Ctrl-C stops the cluster.");

            if (!await WatchAsync(children, shutdown.Token)) return 1;
            AnsiConsole.MarkupLineInterpolated($"Stopping {children.Count} nodes ({shutdown.Reason}) …");
            return 0;
        }
        catch (CliException e)
        {
            return Errors.Fail(e.Message);
        }
        finally
        {
            var codes = await LocalNode.StopAllAsync(children, StopGrace);
            foreach (var (name, code) in codes)
                if (code is null) AnsiConsole.MarkupLineInterpolated($"  {name}: [red]killed[/] (did not stop within {StopGrace.TotalSeconds:0} s)");
                else AnsiConsole.MarkupLineInterpolated($"  {name}: exited ({code})");
            foreach (var c in children) c.Dispose();
            try { File.Delete(plan.ClusterFile); } catch (IOException) { }
            if (madeNetns)
            {
                await Netns.TearDownAsync(plan);
                AnsiConsole.WriteLine($"removed the network namespaces and {UpPlan.Bridge}");
            }
        }
    }

    private static void PrintCluster(UpPlan plan)
    {
        var table = new Table().Border(TableBorder.Rounded).Title($"Fabric: {plan.Nodes.Count} nodes");
        table.AddColumns("node", "vtep", "akka", "http");
        foreach (var n in plan.Nodes) table.AddRow(n.Name, n.Vtep, n.AkkaAddress, n.HttpUrl);
        AnsiConsole.Write(table);
    }

    /// <summary>
    /// Polls every node's /health/ready, with a progress display on a terminal (a line per change otherwise);
    /// null when all are ready, else why not.
    /// </summary>
    private static async Task<string?> WaitUntilReadyAsync(IReadOnlyList<LocalNode> nodes, TimeSpan timeout, CancellationToken stop)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            return await PollUntilReadyAsync(nodes, timeout, stop, (node, step, state) =>
            {
                if (step > 1) Console.WriteLine($"{node.Plan.Name}: {state}");
            });
        }
        string? failure = null;
        await AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new SpinnerColumn(), new ElapsedTimeColumn())
            .StartAsync(async ctx =>
            {
                var tasks = nodes.ToDictionary(n => n.Plan.Name, n => ctx.AddTask($"{n.Plan.Name} starting", maxValue: 3));
                failure = await PollUntilReadyAsync(nodes, timeout, stop, (node, step, state) =>
                {
                    var task = tasks[node.Plan.Name];
                    task.Value = step;
                    task.Description = $"{node.Plan.Name} {state}";
                });
            });
        return failure;
    }

    /// <summary>Steps: 1 started, 2 serving HTTP (joining), 3 ready.</summary>
    private static async Task<string?> PollUntilReadyAsync(IReadOnlyList<LocalNode> nodes, TimeSpan timeout, CancellationToken stop,
        Action<LocalNode, int, string> report)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stop);
        deadline.CancelAfter(timeout);
        var states = new System.Collections.Concurrent.ConcurrentDictionary<string, string>(nodes.ToDictionary(n => n.Plan.Name, _ => "not serving http yet"));
        var polls = nodes.Select(async n =>
        {
            report(n, 1, "starting");
            var step = 1;
            while (true)
            {
                if (n.HasExited)
                    throw new CliException($"{n.Plan.Name} exited with code {n.Process.ExitCode} while starting; the end of {n.Plan.LogFile}:\n{n.LogTail()}");
                var status = await ProbeAsync(http, n.Plan.HttpUrl + "/health/ready", deadline.Token);
                if (status == HttpStatusCode.OK)
                {
                    states[n.Plan.Name] = "ready";
                    report(n, 3, "ready");
                    return;
                }
                if (status is not null && step < 2)
                {
                    step = 2;
                    states[n.Plan.Name] = "serving http, not yet Up in the cluster";
                    report(n, 2, "joining");
                }
                await Task.Delay(TimeSpan.FromMilliseconds(250), deadline.Token);
            }
        }).ToArray();
        try
        {
            await Task.WhenAll(polls);
            return null;
        }
        catch (CliException e) { return e.Message; }
        catch (OperationCanceledException)
        {
            if (polls.Select(p => p.Exception?.InnerException).OfType<CliException>().FirstOrDefault() is { } exited) return exited.Message;
            return stop.IsCancellationRequested
                ? "interrupted while the cluster was forming"
                : $"the cluster did not form within {timeout.TotalSeconds:0} s: "
                  + string.Join(", ", states.Where(s => s.Value != "ready").OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => $"{s.Key} {s.Value}"))
                  + $" (see the logs in {Path.GetDirectoryName(nodes[0].Plan.LogFile)})";
        }
    }

    private static async Task<HttpStatusCode?> ProbeAsync(HttpClient http, string url, CancellationToken ct)
    {
        try
        {
            using var response = await http.GetAsync(url, ct);
            return response.StatusCode;
        }
        catch (HttpRequestException) { return null; }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested) { return null; } // the 2 s request timeout
    }

    /// <summary>Waits for the stop signal (true), reporting any node that exits on its own meanwhile; false when all have.</summary>
    private static async Task<bool> WatchAsync(IReadOnlyList<LocalNode> nodes, CancellationToken stop)
    {
        var reported = new HashSet<string>();
        while (!stop.IsCancellationRequested)
        {
            foreach (var n in nodes.Where(n => n.HasExited && reported.Add(n.Plan.Name)))
                Errors.Write($"{n.Plan.Name} exited on its own (code {n.Process.ExitCode}); see {n.Plan.LogFile}");
            if (reported.Count == nodes.Count)
            {
                Errors.Write("every node has exited");
                return false;
            }
            try { await Task.Delay(TimeSpan.FromMilliseconds(500), stop); }
            catch (OperationCanceledException) { }
        }
        return true;
    }
}
