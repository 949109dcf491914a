using System.Diagnostics;
using System.Text;
using Fabric.Nodes.Cli;
using Xunit.Abstractions;

namespace Fabric.Chaos.Tests.Harness;

/// <summary>
/// Hosts of the README's "Run on your own hosts" as network namespaces on one bridge: the database host
/// (<c>fguide-db</c>, 198.51.100.10) and hosts <c>fguide-1</c> … (198.51.100.11 …), each joined by a veth pair to bridge
/// <c>fguide-br</c>, which has 198.51.100.254 so the test (this machine, "your machine" of the guide) reaches them. Each
/// host has a folder of its own standing for its disk (<see cref="Root"/>). The addresses are the README's own
/// (198.51.100.0/24, TEST-NET-2, never routed), so its commands run with no address changed. Disposing kills every
/// process started here and removes the namespaces, the bridge and the folders.
/// </summary>
public sealed class GuideHosts : IAsyncDisposable
{
    public const string Bridge = "fguide-br";
    public const string BridgeAddress = "198.51.100.254";
    public const string Network = "198.51.100.0/24";
    public const string DatabaseNamespace = "fguide-db";
    private const string Prefix = "fguide-";

    private readonly ITestOutputHelper _output;
    private readonly List<HostProcess> _processes = [];
    private readonly List<string> _namespaces = [];
    private readonly HashSet<string> _vmNamespaces = [];

    public DirectoryInfo Dir { get; }

    private GuideHosts(DirectoryInfo dir, ITestOutputHelper output)
    {
        Dir = dir;
        _output = output;
    }

    /// <summary>The namespace of host <paramref name="index"/> (1-based).</summary>
    public static string NamespaceOf(int index) => $"{Prefix}{index}";

    /// <summary>Host <paramref name="index"/>'s address: 198.51.100.10 + index.</summary>
    public static string AddressOf(int index) => $"198.51.100.{10 + index}";

    /// <summary>The folder that stands for host <paramref name="index"/>'s disk (0: your machine).</summary>
    public string Root(int index) => Path.Combine(Dir.FullName, index == 0 ? "your-machine" : $"host-{index}");

    /// <summary>The database host's namespace and <paramref name="hosts"/> hosts, all on the bridge.</summary>
    public static async Task<GuideHosts> StartAsync(ITestOutputHelper output, int hosts)
    {
        await RemoveLeftoversAsync();
        // The README's addresses must be free here: a machine already on that network would route them elsewhere.
        var routes = await Shell.Ip("-4", "route", "show", "match", AddressOf(1));
        var taken = routes.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(r => !r.StartsWith("default", StringComparison.Ordinal)).ToArray();
        if (taken.Length > 0)
            throw new InvalidOperationException($"this machine already routes {AddressOf(1)} ({string.Join("; ", taken)}): the guide's example network {Network} cannot stand for the hosts here");
        var dir = Directory.CreateTempSubdirectory("fabric-guide-");
        var h = new GuideHosts(dir, output);
        try
        {
            await Must("link", "add", Bridge, "type", "bridge");
            await Must("addr", "add", $"{BridgeAddress}/24", "dev", Bridge);
            await Must("link", "set", Bridge, "up");
            await h.AddHostAsync(DatabaseNamespace, "fgv-db", ReadmeGuide.DatabaseHost);
            Directory.CreateDirectory(h.Root(0));
            for (var i = 1; i <= hosts; i++) await h.AddHostAsync(i);
        }
        catch
        {
            await h.DisposeAsync();
            throw;
        }
        return h;
    }

    /// <summary>Adds host <paramref name="index"/> (its namespace on the bridge and its folder).</summary>
    public Task AddHostAsync(int index)
    {
        Directory.CreateDirectory(Root(index));
        return AddHostAsync(NamespaceOf(index), $"fgv-{index}", AddressOf(index));
    }

    private async Task AddHostAsync(string ns, string veth, string address)
    {
        await Must("netns", "add", ns);
        _namespaces.Add(ns);
        await Must("link", "add", veth, "type", "veth", "peer", "name", veth + "p");
        await Must("link", "set", veth + "p", "netns", ns);
        await Must("-n", ns, "link", "set", veth + "p", "name", "eth0");
        await Must("-n", ns, "addr", "add", $"{address}/24", "dev", "eth0");
        await Must("-n", ns, "link", "set", "eth0", "up");
        await Must("-n", ns, "link", "set", "lo", "up");
        await Must("link", "set", veth, "master", Bridge);
        await Must("link", "set", veth, "up");
    }

    /// <summary>A VM namespace a node makes for a TAP endpoint: removed when the hosts go.</summary>
    public void RemoveOnDispose(string vmNamespace) => _vmNamespaces.Add(vmNamespace);

    /// <summary>
    /// Runs <paramref name="command"/> (bash) in namespace <paramref name="ns"/> to completion. Only the network
    /// namespace is entered (nsenter --net, as <c>fabric up --netns</c> does): namespaces a node makes for TAP
    /// endpoints stay visible to this machine's <c>ip netns</c>, as on a real host.
    /// </summary>
    public static Task<Shell.Result> RunAsync(string ns, string command, string? workingDirectory = null, IDictionary<string, string>? environment = null, TimeSpan? timeout = null)
        => RunProcessAsync(Start(ns, command, workingDirectory, environment, redirect: true), command, timeout ?? TimeSpan.FromSeconds(60));

    /// <summary>Starts <paramref name="command"/> in namespace <paramref name="ns"/> as a long-running process whose output goes to <paramref name="logFile"/>.</summary>
    /// <remarks>A single command is exec'd (its pid is the process's, for signals); a script (<paramref name="script"/>) runs under bash.</remarks>
    public HostProcess Spawn(string ns, string name, string command, string? workingDirectory = null, IDictionary<string, string>? environment = null, bool script = false)
    {
        var logFile = Path.Combine(Dir.FullName, $"{name}.log");
        var p = Start(ns, script ? command : "exec " + command, workingDirectory, environment, redirect: true);
        var hp = new HostProcess(name, ns, command, p, logFile);
        lock (_processes) _processes.Add(hp);
        _output.WriteLine($"{ChaosCluster.Stamp()} {name} ({ns}): {command} (pid {p.Id})");
        return hp;
    }

    private static Process Start(string ns, string command, string? workingDirectory, IDictionary<string, string>? environment, bool redirect)
    {
        var psi = new ProcessStartInfo(Netns.FindNsenter() ?? "nsenter")
        {
            RedirectStandardOutput = redirect, RedirectStandardError = redirect, RedirectStandardInput = true, UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var a in new[] { $"--net={Netns.PathOf(ns)}", "--", "/bin/bash", "-c", command }) psi.ArgumentList.Add(a);
        psi.Environment["TERM"] = "dumb";
        if (environment is not null) foreach (var (k, v) in environment) psi.Environment[k] = v;
        var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {command}");
        p.StandardInput.Close();
        return p;
    }

    private static async Task<Shell.Result> RunProcessAsync(Process p, string command, TimeSpan timeout)
    {
        using (p)
        {
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            using var cts = new CancellationTokenSource(timeout);
            try { await p.WaitForExitAsync(cts.Token); }
            catch (OperationCanceledException)
            {
                try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                throw new TimeoutException($"`{command}` did not finish within {timeout.TotalSeconds:0} s");
            }
            return new Shell.Result(p.ExitCode, await stdout, await stderr);
        }
    }

    /// <summary>Removes what an earlier run that was killed left behind (its processes, namespaces and bridge).</summary>
    public static async Task RemoveLeftoversAsync()
    {
        var list = await Shell.Ip("netns", "list");
        foreach (var ns in list.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[0])
                     .Where(n => n.StartsWith(Prefix, StringComparison.Ordinal) || n.StartsWith("guide-vm-", StringComparison.Ordinal)))
        {
            var pids = await Shell.Ip("netns", "pids", ns);
            foreach (var pid in pids.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                if (int.TryParse(pid.Trim(), out var p)) Shell.Signal(p, 9);
            await Shell.Ip("netns", "del", ns);
        }
        var links = await Shell.Ip("-o", "link", "show");
        foreach (var line in links.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var name = line.Split(':')[1].Trim().Split('@')[0];
            if (name.StartsWith("fgv-", StringComparison.Ordinal) || name == Bridge) await Shell.Ip("link", "del", name);
        }
    }

    private bool _disposed;

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        HostProcess[] processes;
        lock (_processes) processes = [.. _processes];
        foreach (var p in processes) await p.DisposeAsync();
        foreach (var ns in _vmNamespaces.Concat(_namespaces))
        {
            var pids = await Shell.Ip("netns", "pids", ns);
            foreach (var pid in pids.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                if (int.TryParse(pid.Trim(), out var p)) Shell.Signal(p, 9);
        }
        foreach (var ns in _vmNamespaces) await Shell.Ip("netns", "del", ns);
        await RemoveLeftoversAsync();
        // The last case's logs stay in /tmp/fabric-chaos-last for whoever investigates a failure.
        var keep = Path.Combine(Path.GetTempPath(), "fabric-chaos-last");
        try { if (Directory.Exists(keep)) Directory.Delete(keep, true); Directory.CreateDirectory(keep); } catch (IOException) { }
        foreach (var p in processes)
        {
            _output.WriteLine($"--- {p.Name} (last lines)\n{string.Join('\n', p.Log.Split('\n').TakeLast(15))}");
            try { File.WriteAllText(Path.Combine(keep, p.Name + ".log"), p.Log); } catch (IOException) { }
        }
        try { Dir.Delete(true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private static async Task Must(params string[] args) => (await Shell.Ip(args)).Check($"ip {string.Join(' ', args)}");
}

/// <summary>A long-running command on a host (a node): its output, kept in memory and in a file, and a way to kill it.</summary>
public sealed class HostProcess : IAsyncDisposable
{
    private readonly StringBuilder _log = new();
    private readonly Process _process;

    public string Name { get; }
    public string Namespace { get; }
    public string Command { get; }
    public string LogFile { get; }
    public int Pid { get; }

    public HostProcess(string name, string ns, string command, Process process, string logFile)
    {
        Name = name;
        Namespace = ns;
        Command = command;
        LogFile = logFile;
        _process = process;
        Pid = process.Id;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data is null ? null : "stderr: " + e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    private void Append(string? line)
    {
        if (line is null) return;
        var stamped = DateTime.UtcNow.ToString("HH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture) + " " + line + "\n";
        lock (_log)
        {
            _log.Append(stamped);
            try { File.AppendAllText(LogFile, stamped); } catch (IOException) { }
        }
    }

    public string Log { get { lock (_log) return _log.ToString(); } }
    public bool HasExited => _disposed || _process.HasExited;
    public int? ExitCode => !_disposed && _process.HasExited ? _process.ExitCode : null;

    /// <summary>kill -9 (the command was exec'd by bash and nsenter, so this is the node itself).</summary>
    public void Kill9()
    {
        if (!HasExited) Shell.Signal(Pid, 9);
    }

    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try { await _process.WaitForExitAsync(cts.Token); return true; }
        catch (OperationCanceledException) { return false; }
    }

    private bool _disposed;

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        if (!_process.HasExited)
        {
            Shell.Signal(_process.Id, 9);
            await WaitForExitAsync(TimeSpan.FromSeconds(10));
        }
        _process.Dispose();
    }
}
