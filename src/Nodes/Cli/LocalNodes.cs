using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Fabric.Nodes.Cli;

/// <summary>How to start this very executable again: the apphost, or <c>dotnet fabric.dll</c> when run through dotnet.</summary>
public sealed record Launcher(string FileName, IReadOnlyList<string> PrefixArguments)
{
    public static Launcher Current()
    {
        var path = Environment.ProcessPath ?? throw new CliException("cannot tell which executable this is (no process path)");
        return Path.GetFileNameWithoutExtension(path).Equals("dotnet", StringComparison.OrdinalIgnoreCase)
            ? new Launcher(path, [typeof(FabricCli).Assembly.Location])
            : new Launcher(path, []);
    }
}

/// <summary>A <c>fabric node</c> child process of <c>fabric up</c>.</summary>
public sealed class LocalNode(NodePlan plan, Process process) : IDisposable
{
    public NodePlan Plan { get; } = plan;
    public Process Process { get; } = process;
    public int Pid { get; } = process.Id;
    public bool HasExited => Process.HasExited;

    /// <summary>
    /// Starts <c>fabric node --config FILE</c> with stdout and stderr going straight to the node's log file (not
    /// through us), stdin from /dev/null, in a session of its own (setsid, where present) so that a terminal's
    /// Ctrl-C reaches only the launcher, which stops the nodes in order. FABRIC_PARENT_PID makes the node stop
    /// by itself should the launcher die without doing so.
    /// </summary>
    public static LocalNode Start(Launcher launcher, NodePlan plan, bool append = false)
    {
        var setsid = new[] { "/usr/bin/setsid", "/bin/setsid" }.FirstOrDefault(File.Exists);
        var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add((setsid is null ? "exec " : $"exec '{setsid}' ") + "\"$@\" </dev/null " + (append ? ">>" : ">") + "\"$FABRIC_LOG\" 2>&1");
        psi.ArgumentList.Add("fabric-node");
        foreach (var a in Command(launcher, plan)) psi.ArgumentList.Add(a);
        psi.Environment["FABRIC_LOG"] = plan.LogFile;
        psi.Environment[ShutdownSignal.ParentPidVariable] = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var process = Process.Start(psi) ?? throw new CliException($"could not start {plan.Name}");
        return new LocalNode(plan, process);
    }

    /// <summary>
    /// The command that runs the node (pure). With a namespace, <c>nsenter --net</c> enters only the network
    /// namespace and execs the node: same pid, so signals and the watch still work, and the node stays in the host's
    /// mount namespace. Not <c>ip netns exec</c>: it also unshares the mount namespace (to remount /sys), so the
    /// <c>ip netns add</c> a node runs for a TAP endpoint's namespace bind-mounted it where only that node saw it,
    /// and from the host the VM's namespace was unusable ("Peer netns reference is invalid"). Nothing in the node
    /// reads /sys or /etc/netns, which is all the rest of <c>ip netns exec</c> gave it.
    /// </summary>
    public static IReadOnlyList<string> Command(Launcher launcher, NodePlan plan)
    {
        List<string> args = [];
        if (plan.Namespace is not null)
            args.AddRange([Netns.FindNsenter() ?? "nsenter", $"--net={Netns.PathOf(plan.Namespace)}", "--"]);
        args.Add(launcher.FileName);
        args.AddRange(launcher.PrefixArguments);
        args.AddRange(["node", "--config", plan.ConfigFile]);
        return args;
    }

    /// <summary>The last lines of the node's log (for error messages).</summary>
    public string LogTail(int lines = 15)
    {
        try
        {
            var all = File.ReadAllLines(Plan.LogFile);
            return string.Join('\n', all.TakeLast(lines));
        }
        catch (IOException) { return "(no log)"; }
    }

    public void Dispose() => Process.Dispose();

    /// <summary>
    /// Stops every node that still runs: SIGTERM to all but the first (the seed, normally the oldest member, which
    /// leads and hosts the configuration singleton), so that they leave while the leader is there to see them
    /// out; then SIGTERM to the first. Each group gets <paramref name="grace"/> to leave the cluster and exit;
    /// whatever still runs after that is killed. Returns each node's exit code (null: killed).
    /// </summary>
    public static async Task<IReadOnlyDictionary<string, int?>> StopAllAsync(IReadOnlyList<LocalNode> nodes, TimeSpan grace)
    {
        await TerminateAsync(nodes.Skip(1).ToArray(), grace);
        await TerminateAsync(nodes.Take(1).ToArray(), grace);
        var result = new Dictionary<string, int?>();
        foreach (var n in nodes) result[n.Plan.Name] = n.Killed ? null : n.Process.ExitCode;
        return result;
    }

    private bool Killed { get; set; }

    private static async Task TerminateAsync(IReadOnlyList<LocalNode> nodes, TimeSpan grace)
    {
        foreach (var n in nodes.Where(n => !n.HasExited)) ShutdownSignal.Terminate(n.Pid);
        using (var wait = new CancellationTokenSource(grace))
        {
            try { await Task.WhenAll(nodes.Select(n => n.Process.WaitForExitAsync(wait.Token))); }
            catch (OperationCanceledException) { }
        }
        foreach (var n in nodes.Where(n => !n.HasExited))
        {
            try { n.Process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            n.Killed = true;
            using var killed = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try { await n.Process.WaitForExitAsync(killed.Token); } catch (OperationCanceledException) { }
        }
    }
}

/// <summary>Checks, before anything starts, that every address and port of the plan can be bound.</summary>
public static class Preflight
{
    public static IReadOnlyList<string> Check(UpPlan plan)
    {
        var problems = new List<string>();
        foreach (var n in plan.Nodes)
        {
            if (!CanBindUdp(n.VtepAddress, n.VtepPort, out var udpError))
                problems.Add($"{n.Name}: cannot bind the VTEP on UDP {n.VtepAddress}:{n.VtepPort} ({udpError})"
                    + (n.Index > 1 && udpError.Contains("assign", StringComparison.OrdinalIgnoreCase)
                        ? $"; {n.VtepAddress} is not a local address here (Linux answers on all of 127.0.0.0/8; elsewhere add it to lo)"
                        : "; is another `fabric up` running?"));
            foreach (var (what, port) in new[] { ("akka", n.AkkaPort), ("http", n.HttpPort) })
                if (!CanBindTcp(n.Host, port, out var tcpError))
                    problems.Add($"{n.Name}: TCP {n.Host}:{port} for {what} is not free ({tcpError}); choose another --base-port");
        }
        return problems;
    }

    private static bool CanBindUdp(string address, int port, out string error)
    {
        try
        {
            using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            s.Bind(new IPEndPoint(IPAddress.Parse(address), port));
            error = "";
            return true;
        }
        catch (SocketException e) { error = e.Message; return false; }
    }

    private static bool CanBindTcp(string address, int port, out string error)
    {
        try
        {
            using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            s.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            s.Bind(new IPEndPoint(IPAddress.Parse(address), port));
            s.Listen(1);
            error = "";
            return true;
        }
        catch (SocketException e) { error = e.Message; return false; }
    }
}
