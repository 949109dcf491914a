using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Fabric.Nodes.Cli;
using Xunit.Abstractions;

namespace Fabric.Chaos.Tests.Harness;

/// <summary>
/// A cluster as a user runs it: the built <c>fabric</c> executable as <c>fabric up --nodes N --netns --restart
/// always</c>, each node a process in namespace <c>fabric-node-i</c> on bridge <c>fabric-br</c>, driven over
/// HTTP from the root namespace (through the bridge). Faults are injected from outside: signals to a node's
/// process, routes and links of its namespace. Disposing stops everything and removes what the case made.
/// </summary>
public sealed class ChaosCluster : IAsyncDisposable
{
    public const string VmPrefix = "chaos-vm-";
    private static readonly TimeSpan FormTimeout = TimeSpan.FromSeconds(90);

    private readonly Process _up;
    private readonly StringBuilder _log = new();
    private readonly ITestOutputHelper _output;
    private readonly DirectoryInfo _dir;
    private readonly Dictionary<int, HttpClient> _clients = [];
    private readonly HashSet<string> _vmNamespaces = [];
    private bool _stopped;
    private string _case = "";

    public ClusterFile Cluster { get; private set; } = null!;
    public IReadOnlyList<ClusterFileNode> Nodes => Cluster.Nodes;
    public ITestOutputHelper Output => _output;
    /// <summary>The cluster's SQLite store (journal and snapshots); read it after <see cref="StopAsync"/>.</summary>
    public string StorePath => Path.Combine(_dir.FullName, "fabric.db");

    private ChaosCluster(Process up, DirectoryInfo dir, ITestOutputHelper output)
    {
        _up = up;
        _dir = dir;
        _output = output;
    }

    /// <summary>
    /// Starts <paramref name="nodes"/> nodes and waits until every one is ready. A node that exits (killed, downed)
    /// is brought back by <c>fabric up</c> after <paramref name="restartDelay"/>.
    /// </summary>
    public static async Task<ChaosCluster> StartAsync(ITestOutputHelper output, int nodes = 3, TimeSpan? restartDelay = null, string? hocon = null,
        [System.Runtime.CompilerServices.CallerMemberName] string caseName = "")
    {
        await RemoveLeftoverVmsAsync();
        var dir = Directory.CreateTempSubdirectory("fabric-chaos-");
        var args = new List<string>
        {
            "up", "--nodes", $"{nodes}", "--netns", "--data", dir.FullName, "--timeout", $"{FormTimeout.TotalSeconds:0}",
            "--restart", "always", "--restart-delay", $"{(restartDelay ?? TimeSpan.FromSeconds(1)).TotalSeconds:0.###}",
        };
        if (hocon is not null)
        {
            var file = Path.Combine(dir.FullName, "chaos.conf");
            await File.WriteAllTextAsync(file, hocon);
            args.AddRange(["--hocon", file]);
        }
        var psi = new ProcessStartInfo(Fabric.Tests.Shared.FabricBinary.Path())
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["TERM"] = "dumb";
        var process = Process.Start(psi) ?? throw new InvalidOperationException("fabric up did not start");
        var cluster = new ChaosCluster(process, dir, output) { _case = caseName };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) cluster.AppendLog(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) cluster.AppendLog("stderr: " + e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var clusterFile = Path.Combine(dir.FullName, UpPlan.ClusterFileName);
            var clock = Stopwatch.StartNew();
            while (!File.Exists(clusterFile))
            {
                if (process.HasExited) throw new Xunit.Sdk.XunitException($"fabric up exited with {process.ExitCode} before the cluster formed:\n{cluster.Log}");
                if (clock.Elapsed > FormTimeout + TimeSpan.FromSeconds(10))
                    throw new Xunit.Sdk.XunitException($"no cluster after {clock.Elapsed.TotalSeconds:0} s:\n{cluster.Log}");
                await Task.Delay(200);
            }
            cluster.Cluster = ClusterFile.Read(clusterFile);
            output.WriteLine($"{nodes} nodes formed a cluster in {clock.Elapsed.TotalSeconds:0.0} s");
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
        return cluster;
    }

    private void AppendLog(string line)
    {
        lock (_log) _log.Append(DateTime.UtcNow.ToString("HH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture)).Append(' ').AppendLine(line);
    }

    public string Log { get { lock (_log) return _log.ToString(); } }

    public ClusterFileNode Node(int index) => Nodes[index - 1];
    /// <summary>Node <paramref name="index"/>'s underlay address (its VTEP without the port).</summary>
    public string UnderlayAddress(int index) => Node(index).Vtep.Split(':')[0];
    public static string NamespaceOf(int index) => $"fabric-node-{index}";

    /// <summary>The API client of node <paramref name="index"/> (1-based) with the cluster's token (15 s per request).</summary>
    public HttpClient Api(int index)
    {
        lock (_clients)
        {
            if (_clients.TryGetValue(index, out var existing)) return existing;
            var client = new HttpClient { BaseAddress = new Uri(Node(index).Http), Timeout = TimeSpan.FromSeconds(15) };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Cluster.Token);
            return _clients[index] = client;
        }
    }

    /// <summary>A request's answer: status and body (JSON when there is one).</summary>
    public sealed record Answer(HttpStatusCode Status, string Body, string? ContentType = null)
    {
        public JsonNode? Json => Body.Length == 0 ? null : JsonNode.Parse(Body);
        public string Id => Json?["id"]?.GetValue<string>() ?? throw new Xunit.Sdk.XunitException($"no id in {(int)Status} {Body}");
        public override string ToString() => $"{(int)Status} {Body}";
    }

    public async Task<Answer> SendAsync(int index, HttpMethod method, string path, object? body = null, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(15));
        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        using var response = await Api(index).SendAsync(request, cts.Token);
        return new Answer(response.StatusCode, await response.Content.ReadAsStringAsync(cts.Token), response.Content.Headers.ContentType?.MediaType);
    }

    /// <summary>POST that must be accepted (201/202/200), else the test fails with the answer.</summary>
    public async Task<Answer> CreateAsync(int index, string path, object body)
    {
        var answer = await SendAsync(index, HttpMethod.Post, path, body);
        Assert.True((int)answer.Status is >= 200 and < 300, $"POST {path} on node-{index}: {answer}");
        return answer;
    }

    /// <summary>The pid of node <paramref name="index"/>'s <c>fabric node</c> process, or null while none runs.</summary>
    public async Task<int?> NodePidAsync(int index)
    {
        var pids = await Shell.Ip("netns", "pids", NamespaceOf(index));
        foreach (var text in pids.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!int.TryParse(text.Trim(), out var pid)) continue;
            try
            {
                var cmdline = (await File.ReadAllTextAsync($"/proc/{pid}/cmdline")).Split('\0');
                if (cmdline.Contains("node") && cmdline.Contains("--config") && ShutdownSignal.ProcessIsAlive(pid)) return pid;
            }
            catch (IOException) { }
        }
        return null;
    }

    /// <summary>Sends <paramref name="signal"/> (9: kill, 15: terminate) to node <paramref name="index"/>; returns its pid.</summary>
    public async Task<int> SignalAsync(int index, int signal)
    {
        var pid = await NodePidAsync(index) ?? throw new InvalidOperationException($"node-{index} runs no process");
        if (!Shell.Signal(pid, signal)) throw new InvalidOperationException($"kill -{signal} {pid} failed");
        _output.WriteLine($"{Stamp()} kill -{signal} node-{index} (pid {pid})");
        return pid;
    }

    public static string Stamp() => DateTime.UtcNow.ToString("HH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Polls until <paramref name="condition"/> holds; returns how long it took, or fails saying what was awaited.</summary>
    public static async Task<TimeSpan> WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, int pollMs = 100)
    {
        var clock = Stopwatch.StartNew();
        Exception? last = null;
        while (clock.Elapsed < timeout)
        {
            try
            {
                if (await condition()) return clock.Elapsed;
                last = null;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or InvalidOperationException or System.Text.Json.JsonException)
            {
                last = e;
            }
            await Task.Delay(pollMs);
        }
        throw new Xunit.Sdk.XunitException($"not within {timeout.TotalSeconds:0} s: {what}" + (last is null ? "" : $" (last error: {last.Message})"));
    }

    /// <summary>GET /health/ready on node <paramref name="index"/> answers 200.</summary>
    public async Task<bool> IsReadyAsync(int index)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        try
        {
            using var r = await http.GetAsync(Node(index).Http + "/health/ready");
            return r.StatusCode == HttpStatusCode.OK;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { return false; }
    }

    /// <summary>The members node <paramref name="index"/> sees, as (name, status, reachable).</summary>
    public async Task<IReadOnlyList<(string Name, string Status, bool Reachable)>> MembersAsync(int index)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        var members = await Api(index).GetFromJsonAsync<JsonArray>("/cluster/members", cts.Token) ?? [];
        return members.Select(m => (m!["name"]!.GetValue<string>(), m["status"]!.GetValue<string>(), m["reachable"]!.GetValue<bool>())).ToArray();
    }

    /// <summary>Node <paramref name="viewer"/> sees exactly <paramref name="names"/> as Up and reachable.</summary>
    public async Task<bool> SeesUpAsync(int viewer, params string[] names)
    {
        var members = await MembersAsync(viewer);
        return members.Count == names.Length && names.All(n => members.Any(m => m.Name == n && m.Status == "up" && m.Reachable));
    }

    /// <summary>The FDB entry for <paramref name="mac"/> of network <paramref name="network"/> on node <paramref name="viewer"/>, or null.</summary>
    public async Task<JsonNode?> FdbEntryAsync(int viewer, string network, string mac)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        var fdb = await Api(viewer).GetFromJsonAsync<JsonObject>($"/api/v1/nodes/node-{viewer}/fdb?network={network}", cts.Token);
        return fdb?["entries"]?.AsArray().FirstOrDefault(e => string.Equals(e?["mac"]?.GetValue<string>(), mac, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>The intended configuration as node <paramref name="index"/> lists it (networks and endpoints, as JSON text).</summary>
    public async Task<string> ListingAsync(int index)
    {
        var client = Api(index);
        var networks = await client.GetStringAsync("/api/v1/networks");
        var endpoints = await client.GetStringAsync("/api/v1/endpoints");
        return networks + "\n" + endpoints;
    }

    /// <summary>A VM's network namespace, made by the suite (so no node owns it and it outlives node restarts).</summary>
    public async Task<string> VmNamespaceAsync(string name)
    {
        var ns = VmPrefix + name;
        await Shell.Ip("netns", "add", ns);
        _vmNamespaces.Add(ns);
        return ns;
    }

    /// <summary>A namespace a node makes (a TAP endpoint's), removed at the end should the node not have done so.</summary>
    public void RemoveOnDispose(string ns) => _vmNamespaces.Add(ns);

    /// <summary>Removes VM namespaces an earlier, killed run left behind.</summary>
    private static async Task RemoveLeftoverVmsAsync()
    {
        var list = await Shell.Ip("netns", "list");
        foreach (var line in list.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var ns = line.Split(' ')[0];
            if (ns.StartsWith(VmPrefix, StringComparison.Ordinal)) await Shell.Ip("netns", "del", ns);
        }
    }

    /// <summary>Stops the cluster (SIGTERM to <c>fabric up</c>, which stops the nodes in order and removes the namespaces).</summary>
    public async Task StopAsync()
    {
        if (_stopped) return;
        _stopped = true;
        if (!_up.HasExited)
        {
            ShutdownSignal.Terminate(_up.Id);
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try { await _up.WaitForExitAsync(wait.Token); }
            catch (OperationCanceledException) { _up.Kill(entireProcessTree: true); }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        // Whatever happened: no node process of this case may outlive it.
        for (var i = 1; i <= (Cluster?.Nodes.Count ?? 0); i++)
            if (await NodePidAsync(i) is { } pid)
                try { Process.GetProcessById(pid).Kill(); } catch (ArgumentException) { }
        foreach (var ns in _vmNamespaces) await Shell.Ip("netns", "del", ns);
        _output.WriteLine("--- fabric up\n" + Log);
        // The last case's logs stay in /tmp/fabric-chaos-last for whoever investigates a failure.
        // And each case's in /tmp/fabric-chaos-logs/CASE, so a failure early in a run is not overwritten by the cases after it.
        string[] keeps = [Path.Combine(Path.GetTempPath(), "fabric-chaos-last"), Path.Combine(Path.GetTempPath(), "fabric-chaos-logs", _case)];
        foreach (var keep in keeps)
        {
            try { if (Directory.Exists(keep)) Directory.Delete(keep, true); Directory.CreateDirectory(keep); } catch (IOException) { }
            File.WriteAllText(Path.Combine(keep, "fabric-up.log"), Log);
        }
        foreach (var f in _dir.GetFiles("node-*.log").OrderBy(f => f.Name))
        {
            _output.WriteLine($"--- {f.Name} (last lines)\n{string.Join('\n', File.ReadAllLines(f.FullName).TakeLast(12))}");
            foreach (var keep in keeps)
                try { f.CopyTo(Path.Combine(keep, f.Name), true); } catch (IOException) { }
        }
        foreach (var c in _clients.Values) c.Dispose();
        _up.Dispose();
        try { _dir.Delete(true); } catch (IOException) { }
    }
}
