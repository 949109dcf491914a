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

    public sealed record Parsed(UpOptions Options, bool Netns, string? Underlay, TimeSpan Timeout)
    {
        /// <summary>A file of HOCON for every node (null: none).</summary>
        public string? HoconFile { get; init; }
        public RestartPolicy Restart { get; init; } = RestartPolicy.Default;
    }

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
        var hocon = new Option<FileInfo?>("--hocon")
        {
            Description = "a HOCON file added to every node's configuration, last (e.g. include \"postgres.conf\" and fabric.store.connection-string)",
        };
        var restart = new Option<string>("--restart")
        {
            Description = "restart a node that exits on its own: never, on-failure (non-zero exit or killed, e.g. downed by the split brain resolver) or always",
            DefaultValueFactory = _ => RestartPolicy.Name(RestartPolicy.Default.Mode),
        };
        restart.AcceptOnlyFromAmong("never", "on-failure", "always");
        var restartDelay = new Option<double>("--restart-delay")
        {
            Description = "seconds before the first restart of a node; doubled (up to 60 s) while it keeps exiting within 30 s of starting",
            DefaultValueFactory = _ => RestartPolicy.Default.Delay.TotalSeconds,
        };
        var command = new Command("up", "Start a cluster of N nodes on this machine; Ctrl-C stops it")
        {
            nodes, data, basePort, vtepPort, timeout, netns, underlay, hocon, restart, restartDelay,
        };
        command.SetAction((parse, _) =>
        {
            var parsed = new Parsed(
                new UpOptions(parse.GetValue(nodes), parse.GetValue(data) ?? UpOptions.DefaultDataDir, parse.GetValue(basePort), parse.GetValue(vtepPort)),
                parse.GetValue(netns), parse.GetValue(underlay), TimeSpan.FromSeconds(Math.Max(1, parse.GetValue(timeout))))
            {
                HoconFile = parse.GetValue(hocon)?.FullName,
                Restart = new RestartPolicy(RestartPolicy.Parse(parse.GetValue(restart)), TimeSpan.FromSeconds(Math.Clamp(parse.GetValue(restartDelay), 0, 3600))),
            };
            return RunAsync(parsed);
        });
        return command;
    }

    public static async Task<int> RunAsync(Parsed parsed)
    {
        if (OperatingSystem.IsWindows())
            return Errors.Fail("`fabric up` runs on Linux (it uses 127.0.0.2 … as VTEP addresses and POSIX signals)");
        if (parsed.Netns && Netns.Unsupported() is { } why) return Errors.Fail(why);

        string? extraHocon = null;
        if (parsed.HoconFile is { } hoconFile)
        {
            if (!File.Exists(hoconFile)) return Errors.Fail($"--hocon: the file {hoconFile} does not exist");
            extraHocon = await File.ReadAllTextAsync(hoconFile);
        }
        UpPlan plan;
        try { plan = UpPlan.Create(parsed.Options with { Netns = parsed.Netns, Underlay = parsed.Underlay, ExtraHocon = extraHocon }, UpPlan.NewToken()); }
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

            if (!await WatchAsync(plan, children, launcher, parsed.Restart, shutdown.Token)) return 1;
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

    /// <summary>
    /// Waits for the stop signal (true), reporting any node that exits on its own meanwhile and restarting it as
    /// the policy says (a node downed by the split brain resolver exits 1: it comes back, joins and relearns, as
    /// a process supervisor would bring it back on a real host); false when every node has exited for good.
    /// </summary>
    private static async Task<bool> WatchAsync(UpPlan plan, List<LocalNode> nodes, Launcher launcher, RestartPolicy policy, CancellationToken stop)
    {
        var pending = new Dictionary<string, DateTime>(); // node → when it restarts
        var startedAt = nodes.ToDictionary(n => n.Plan.Name, _ => DateTime.UtcNow);
        var delays = nodes.ToDictionary(n => n.Plan.Name, _ => policy.Delay);
        var restarts = nodes.ToDictionary(n => n.Plan.Name, _ => 0);
        var gone = new HashSet<string>();
        while (!stop.IsCancellationRequested)
        {
            for (var i = 0; i < nodes.Count; i++)
            {
                var n = nodes[i];
                var name = n.Plan.Name;
                if (n.HasExited && !pending.ContainsKey(name) && !gone.Contains(name))
                {
                    var code = n.Process.ExitCode;
                    if (!policy.Restarts(code))
                    {
                        gone.Add(name);
                        if (code == NodeCommand.LeftExitCode) Console.WriteLine($"{name} left the cluster on request; not restarting it");
                        else Errors.Write($"{name} exited on its own (code {code}); see {n.Plan.LogFile}");
                        continue;
                    }
                    // A node that keeps dying soon after it starts waits longer each time (crash-loop backoff).
                    var delay = DateTime.UtcNow - startedAt[name] < RestartPolicy.StableAfter ? delays[name] : policy.Delay;
                    delays[name] = TimeSpan.FromTicks(Math.Min(RestartPolicy.MaxDelay.Ticks, Math.Max(delay.Ticks * 2, TimeSpan.FromSeconds(1).Ticks)));
                    pending[name] = DateTime.UtcNow + delay;
                    restarts[name]++;
                    Console.WriteLine($"{name} exited (code {code}); restarting it in {delay.TotalSeconds:0.#} s (restart {restarts[name]}); see {n.Plan.LogFile}");
                }
                else if (pending.TryGetValue(name, out var due) && DateTime.UtcNow >= due)
                {
                    pending.Remove(name);
                    n.Dispose();
                    // Never a seed of itself, even when nothing else runs: whether the others are dead or only cut
                    // off cannot be told from here. It joins what runs; when every node has died, one forms the
                    // cluster again through the configuration lease (fabric.cluster.reform in hocon/fabric.conf).
                    await File.WriteAllTextAsync(n.Plan.ConfigFile, plan.NodeHocon(n.Plan, rejoin: true), CancellationToken.None);
                    nodes[i] = LocalNode.Start(launcher, n.Plan, append: true);
                    startedAt[name] = DateTime.UtcNow;
                    Console.WriteLine($"{name} restarted (pid {nodes[i].Pid})");
                }
            }
            if (gone.Count == nodes.Count)
            {
                Errors.Write("every node has exited");
                return false;
            }
            try { await Task.Delay(TimeSpan.FromMilliseconds(200), stop); }
            catch (OperationCanceledException) { }
        }
        return true;
    }
}

public enum RestartMode { Never, OnFailure, Always }

/// <summary>When <c>fabric up</c> brings back a node that exited on its own, and after how long.</summary>
public sealed record RestartPolicy(RestartMode Mode, TimeSpan Delay)
{
    public static readonly RestartPolicy Default = new(RestartMode.OnFailure, TimeSpan.FromSeconds(2));
    /// <summary>A node that ran this long before exiting is restarted after the base delay again.</summary>
    public static readonly TimeSpan StableAfter = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(60);

    public static string Name(RestartMode mode) => mode switch { RestartMode.Always => "always", RestartMode.OnFailure => "on-failure", _ => "never" };

    public static RestartMode Parse(string? text) => text switch
    {
        "always" => RestartMode.Always,
        "never" => RestartMode.Never,
        _ => RestartMode.OnFailure,
    };

    /// <summary>Whether a node that exited with <paramref name="exitCode"/> (negative or over 128: killed by a signal) comes back.</summary>
    public bool Restarts(int exitCode) => Mode switch
    {
        RestartMode.Always => true,
        RestartMode.OnFailure => exitCode != 0 && exitCode != NodeCommand.LeftExitCode, // asked to leave: it stays out
        _ => false,
    };
}
