using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Fabric.Nodes.Cli;
using Fabric.Nodes.Http;
using Xunit.Abstractions;
using Fabric.Tests.Shared;

namespace Fabric.Nodes.Tests.Cli;

/// <summary>
/// Process level: the built <c>fabric</c> executable launched as <c>fabric up --nodes 3</c>, driven from outside
/// like a user would, stopped with SIGTERM; afterwards no child process may be left. Bounded: every wait has a
/// deadline, each test stays well under 90 s.
/// </summary>
[Collection(LocalClusterCollection.Name)]
public class LocalClusterProcessTests(ITestOutputHelper output)
{
    private static readonly TimeSpan FormTimeout = TimeSpan.FromSeconds(45);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(40);

    [LinuxFact]
    public async Task Up_forms_a_cluster_writes_cluster_json_and_SIGTERM_leaves_no_process_behind()
    {
        await using var up = await LocalCluster.StartAsync(output);
        var cluster = up.Cluster;

        Assert.Equal(["node-1", "node-2", "node-3"], cluster.Nodes.Select(n => n.Name));
        Assert.Equal(["127.0.0.1", "127.0.0.2", "127.0.0.3"], cluster.Nodes.Select(n => n.Vtep.Split(':')[0]));
        Assert.False(string.IsNullOrWhiteSpace(cluster.Token));
        foreach (var n in cluster.Nodes)
        {
            Assert.Equal(HttpStatusCode.OK, await up.GetStatusAsync(n.Http + "/health/ready"));
            Assert.Equal(HttpStatusCode.OK, await up.GetStatusAsync(n.Http + "/health/alive"));
        }
        Assert.Equal(3, up.ChildPids.Count);

        // Retiring a node from elsewhere: asked to leave, it exits 3 and fabric up does not bring it back.
        using (var api = up.ApiClient(cluster.Nodes[0].Http))
        {
            using var leave = await api.PostAsync("/cluster/members/node-3/leave", null);
            Assert.Equal(HttpStatusCode.Accepted, leave.StatusCode);
            var clock = Stopwatch.StartNew();
            while (!up.Log.Contains("node-3 left the cluster on request; not restarting it", StringComparison.Ordinal))
            {
                if (clock.Elapsed > TimeSpan.FromSeconds(30)) throw new Xunit.Sdk.XunitException($"node-3 did not leave within 30 s:\n{up.Log}");
                await Task.Delay(200);
            }
            await Task.Delay(TimeSpan.FromSeconds(3)); // longer than fabric up's restart delay (2 s)
            Assert.DoesNotContain("node-3 restarted", up.Log, StringComparison.Ordinal);
            var members = JsonNode.Parse(await api.GetStringAsync("/cluster/members"))!.AsArray().Select(m => m!["name"]!.GetValue<string>()).ToArray();
            Assert.Equal(["node-1", "node-2"], members.Order());
        }

        await up.StopAndAssertNoOrphansAsync();
    }

    [RootNetnsFact]
    public async Task Up_netns_gives_each_node_a_namespace_of_its_own_and_removes_everything_on_SIGTERM()
    {
        await using var up = await LocalCluster.StartAsync(output, "--netns");
        Assert.Equal(["10.250.0.1", "10.250.0.2", "10.250.0.3"], up.Cluster.Nodes.Select(n => n.Vtep.Split(':')[0]));
        var namespaces = await Ip("netns", "list");
        foreach (var n in up.Cluster.Nodes)
        {
            Assert.Contains($"fabric-{n.Name}", namespaces, StringComparison.Ordinal);
            Assert.StartsWith("http://10.250.0.", n.Http, StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.OK, await up.GetStatusAsync(n.Http + "/health/ready"));
        }
        // The node really is inside: its underlay address is on the namespace's eth0.
        Assert.Contains("10.250.0.2/24", await Ip("-n", "fabric-node-2", "-br", "addr", "show", "eth0"), StringComparison.Ordinal);

        await up.StopAndAssertNoOrphansAsync();
        Assert.DoesNotContain("fabric-node-", await Ip("netns", "list"), StringComparison.Ordinal);
        Assert.DoesNotContain("fabric-br", await Ip("-br", "link", "show"), StringComparison.Ordinal);
    }

    /// <summary>
    /// Path MTU probing across a real underlay: node-2's veth (its namespace's eth0) lowered to 1400 bytes loses node-1's
    /// 1500-byte probes (overlay MTU 1450 + 50, DF set) while 1400 still passes, so node-1 raises a path-mtu alarm naming
    /// the path and the size that fits; with the MTU back at 1500 the next round clears it. Probes every 2 s here.
    /// </summary>
    [RootNetnsFact]
    public async Task A_veth_with_a_lowered_mtu_raises_a_path_mtu_alarm_naming_the_path_and_clears_when_it_is_restored()
    {
        var hocon = Path.Combine(Path.GetTempPath(), $"fabric-pmtu-{Guid.NewGuid():N}.conf");
        await File.WriteAllTextAsync(hocon, "fabric.path-mtu.interval = 2s\nfabric.path-mtu.timeout = 500ms\n");
        try
        {
            await using var up = await LocalCluster.StartAsync(output, "--netns", "--hocon", hocon);
            var http = up.ApiClient(up.Cluster.Nodes[0].Http);
            async Task<JsonArray> PathAlarms() => (await http.GetFromJsonAsync<JsonArray>("/api/v1/alarms?kind=path-mtu"))!;
            bool ToNode2(JsonNode? a) => a!["node"]!.GetValue<string>() == "node-1" && a["key"]!.GetValue<string>() == "path node-1 -> node-2";

            Assert.Empty(await PathAlarms()); // a 1500-byte underlay carries 1450-byte overlay frames
            await Ip("-n", "fabric-node-2", "link", "set", "eth0", "mtu", "1400");
            var alarm = await Until(async () => (await PathAlarms()).FirstOrDefault(ToNode2), TimeSpan.FromSeconds(20), "a path-mtu alarm on node-1 for node-2");
            var detail = alarm["detail"]!.GetValue<string>();
            output.WriteLine(detail);
            Assert.Contains("node-1 (10.250.0.1) -> node-2 (VTEP 10.250.0.2:", detail, StringComparison.Ordinal);
            Assert.Contains("1500-byte packets", detail, StringComparison.Ordinal);
            Assert.Contains("1400 bytes fit", detail, StringComparison.Ordinal);
            var metrics = await http.GetStringAsync("/metrics");
            Assert.Contains("fabric_alarms{kind=\"path-mtu\"} 1", metrics, StringComparison.Ordinal);

            await Ip("-n", "fabric-node-2", "link", "set", "eth0", "mtu", "1500");
            await Until(async () => (await PathAlarms()).Any(ToNode2) ? null : "cleared", TimeSpan.FromSeconds(20), "the alarm cleared once the MTU is back");
            await up.StopAndAssertNoOrphansAsync();
        }
        finally
        {
            File.Delete(hocon);
        }
    }

    private static async Task<T> Until<T>(Func<Task<T?>> probe, TimeSpan timeout, string what) where T : class
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (await probe() is { } found) return found;
            if (deadline.Elapsed > timeout) throw new Xunit.Sdk.XunitException($"{what}: not within {timeout.TotalSeconds:0} s");
            await Task.Delay(250);
        }
    }

    private static async Task<string> Ip(params string[] args)
    {
        var psi = new ProcessStartInfo(Netns.FindIp() ?? "ip") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var text = await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        return text;
    }

    [RealManagementEndpointFact]
    public async Task Guests_on_different_nodes_ping_across_the_udp_underlay_before_and_after_a_move()
    {
        await using var up = await LocalCluster.StartAsync(output);
        var http = up.ApiClient(up.Cluster.Nodes[0].Http);

        var members = await http.GetFromJsonAsync<JsonArray>("/cluster/members");
        Assert.Equal(3, members!.Count);

        var network = await up.PostAsync(http, "/api/v1/networks", new { name = "blue", vni = 7001, kind = "l3", cidr = "10.77.0.0/16" });
        var net = Id(network);
        var subnetA = Id(await up.PostAsync(http, $"/api/v1/networks/{net}/subnets", new { name = "a", cidr = "10.77.1.0/24" }));
        var subnetB = Id(await up.PostAsync(http, $"/api/v1/networks/{net}/subnets", new { name = "b", cidr = "10.77.2.0/24" }));
        var vmA = Id(await up.PostAsync(http, "/api/v1/endpoints",
            new { name = "vm-a", network = net, subnet = subnetA, node = "node-1", ip = "10.77.1.10", port = new { kind = "guest" } }));
        var vmB = Id(await up.PostAsync(http, "/api/v1/endpoints",
            new { name = "vm-b", network = net, subnet = subnetB, node = "node-2", ip = "10.77.2.10", port = new { kind = "guest" } }));

        // Ask node-3's endpoint: every node serves the whole cluster.
        var other = up.ApiClient(up.Cluster.Nodes[2].Http);
        await up.PingUntilAnsweredAsync(other, vmA, "10.77.2.10");

        using (var move = await other.PutAsJsonAsync($"/api/v1/endpoints/{vmB}/node", new { node = "node-3" }))
            Assert.True(move.IsSuccessStatusCode, $"move: {(int)move.StatusCode} {await move.Content.ReadAsStringAsync()}");
        await up.PingUntilAnsweredAsync(http, vmA, "10.77.2.10");
        await up.PingUntilAnsweredAsync(http, vmB, "10.77.1.10");

        await up.StopAndAssertNoOrphansAsync();
    }

    private static string Id(JsonNode node) => node["id"]?.GetValue<string>() ?? throw new Xunit.Sdk.XunitException($"no id in {node.ToJsonString()}");

    /// <summary>One `fabric up` process and what it started.</summary>
    private sealed class LocalCluster : IAsyncDisposable
    {
        private readonly Process _up;
        private readonly StringBuilder _log = new();
        private readonly ITestOutputHelper _output;
        private readonly DirectoryInfo _dir;
        private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(20) };
        private bool _stopped;

        private LocalCluster(Process up, DirectoryInfo dir, ITestOutputHelper output)
        {
            _up = up;
            _dir = dir;
            _output = output;
            Cluster = null!;
        }

        public ClusterFile Cluster { get; private set; }
        public IReadOnlyList<int> ChildPids { get; private set; } = [];

        public static async Task<LocalCluster> StartAsync(ITestOutputHelper output, params string[] extra)
        {
            var dir = Directory.CreateTempSubdirectory("fabric-up-");
            var (basePort, vtepPort) = FreePorts.ForLocalCluster(3);
            var psi = new ProcessStartInfo(Fabric.Tests.Shared.FabricBinary.Path())
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
                UseShellExecute = false,
            };
            foreach (var a in new[] { "up", "--nodes", "3", "--data", dir.FullName, "--base-port", $"{basePort}", "--vtep-port", $"{vtepPort}", "--timeout", $"{FormTimeout.TotalSeconds:0}" })
                psi.ArgumentList.Add(a);
            foreach (var a in extra) psi.ArgumentList.Add(a);
            var process = Process.Start(psi) ?? throw new InvalidOperationException("fabric up did not start");
            var cluster = new LocalCluster(process, dir, output);
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (cluster._log) cluster._log.AppendLine(e.Data); };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (cluster._log) cluster._log.AppendLine("stderr: " + e.Data); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            try
            {
                await cluster.WaitFormedAsync();
            }
            catch
            {
                await cluster.DisposeAsync();
                throw;
            }
            return cluster;
        }

        private async Task WaitFormedAsync()
        {
            var clusterFile = Path.Combine(_dir.FullName, "cluster.json");
            var deadline = Stopwatch.StartNew();
            while (!File.Exists(clusterFile))
            {
                if (_up.HasExited) throw new Xunit.Sdk.XunitException($"fabric up exited with {_up.ExitCode} before writing cluster.json:\n{Log}");
                if (deadline.Elapsed > FormTimeout + TimeSpan.FromSeconds(10))
                    throw new Xunit.Sdk.XunitException($"no cluster.json after {deadline.Elapsed.TotalSeconds:0} s:\n{Log}");
                await Task.Delay(200);
            }
            _output.WriteLine($"cluster formed in {deadline.Elapsed.TotalSeconds:0.0} s");
            Cluster = ClusterFile.Read(clusterFile);
            ChildPids = ChildrenOf(_up.Id);
        }

        public string Log { get { lock (_log) return _log.ToString(); } }

        public async Task<HttpStatusCode> GetStatusAsync(string url)
        {
            using var r = await _http.GetAsync(url);
            return r.StatusCode;
        }

        public HttpClient ApiClient(string baseUrl)
        {
            var client = new HttpClient { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(20) };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Cluster.Token);
            return client;
        }

        public async Task<JsonNode> PostAsync(HttpClient client, string path, object body)
        {
            using var r = await client.PostAsJsonAsync(path, body);
            var text = await r.Content.ReadAsStringAsync();
            Assert.True(r.StatusCode == HttpStatusCode.Created, $"POST {path}: {(int)r.StatusCode} {text}");
            return JsonNode.Parse(text)!;
        }

        /// <summary>Pings (3 echoes) until one comes back, for at most 20 s: ARP and gossip may take a moment after a change.</summary>
        public async Task PingUntilAnsweredAsync(HttpClient client, string endpoint, string target)
        {
            var deadline = Stopwatch.StartNew();
            string last = "";
            while (deadline.Elapsed < TimeSpan.FromSeconds(20))
            {
                using var r = await client.PostAsJsonAsync($"/api/v1/endpoints/{endpoint}/ping", new { target, count = 3 });
                last = $"{(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}";
                if (r.IsSuccessStatusCode && JsonNode.Parse(last[4..])?["received"]?.GetValue<int>() > 0)
                {
                    _output.WriteLine($"ping {endpoint} → {target}: {last}");
                    return;
                }
                await Task.Delay(500);
            }
            throw new Xunit.Sdk.XunitException($"no echo reply from {target} to {endpoint} within 20 s; last answer: {last}");
        }

        /// <summary>SIGTERM to `fabric up`; it must exit 0 in time, and every node it started must be gone.</summary>
        public async Task StopAndAssertNoOrphansAsync()
        {
            Assert.True(ShutdownSignal.Terminate(_up.Id), "could not signal fabric up");
            using (var wait = new CancellationTokenSource(StopTimeout))
            {
                try { await _up.WaitForExitAsync(wait.Token); }
                catch (OperationCanceledException) { throw new Xunit.Sdk.XunitException($"fabric up did not exit within {StopTimeout.TotalSeconds:0} s of SIGTERM:\n{Log}"); }
            }
            _stopped = true;
            _output.WriteLine(Log);
            Assert.Equal(0, _up.ExitCode);
            var left = ChildPids.Where(ShutdownSignal.ProcessIsAlive).ToArray();
            Assert.True(left.Length == 0, $"child processes still running after fabric up exited: {string.Join(", ", left)}");
            Assert.Empty(ChildrenOf(_up.Id));
            Assert.False(File.Exists(Path.Combine(_dir.FullName, "cluster.json")), "cluster.json of a stopped cluster was left behind");
        }

        public async ValueTask DisposeAsync()
        {
            // Whatever happened in the test: nothing it started may outlive it.
            if (!_stopped && !_up.HasExited)
            {
                ShutdownSignal.Terminate(_up.Id);
                using var wait = new CancellationTokenSource(StopTimeout);
                try { await _up.WaitForExitAsync(wait.Token); } catch (OperationCanceledException) { _up.Kill(entireProcessTree: true); }
                _output.WriteLine(Log);
            }
            foreach (var pid in ChildPids.Where(ShutdownSignal.ProcessIsAlive))
                try { Process.GetProcessById(pid).Kill(); } catch (ArgumentException) { }
            foreach (var f in _dir.GetFiles("node-*.log"))
                _output.WriteLine($"--- {f.Name} (last lines)\n{string.Join('\n', File.ReadAllLines(f.FullName).TakeLast(10))}");
            _up.Dispose();
            _http.Dispose();
            try { _dir.Delete(true); } catch (IOException) { }
        }
    }

    /// <summary>Pids whose parent is <paramref name="pid"/> (from /proc/PID/stat).</summary>
    private static IReadOnlyList<int> ChildrenOf(int pid)
    {
        var children = new List<int>();
        foreach (var d in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(d), out var candidate)) continue;
            try
            {
                var stat = File.ReadAllText(Path.Combine(d, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (fields[0] is not ("Z" or "X") && int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture) == pid) children.Add(candidate);
            }
            catch (IOException) { }
        }
        return children;
    }

}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LocalClusterCollection
{
    public const string Name = "local cluster processes";
}

/// <summary>A fact for Linux only (127.0.0.2 … on loopback, POSIX signals, /proc).</summary>
public sealed class LinuxFactAttribute : FactAttribute
{
    public LinuxFactAttribute()
    {
        if (!OperatingSystem.IsLinux()) Skip = "needs Linux: VTEPs on 127.0.0.2 … and /proc";
    }
}

/// <summary>A fact that needs root and the `ip` command (network namespaces, a bridge, veth pairs).</summary>
public sealed class RootNetnsFactAttribute : FactAttribute
{
    public RootNetnsFactAttribute()
    {
        if (Netns.Unsupported() is { } why) Skip = why;
    }
}

/// <summary>
/// A fact that needs the real management endpoint (the HTTP API, not just /health). A build with the stand-in
/// (src/Nodes/Http/ManagementEndpoint.cs marked IsStandIn, used until the HTTP branch lands) skips it and says so.
/// </summary>
public sealed class RealManagementEndpointFactAttribute : FactAttribute
{
    public RealManagementEndpointFactAttribute()
    {
        if (!OperatingSystem.IsLinux()) Skip = "needs Linux: VTEPs on 127.0.0.2 … and /proc";
        else if (typeof(ManagementEndpoint).GetField("IsStandIn", BindingFlags.Public | BindingFlags.Static) is not null)
            Skip = "this build has the stand-in management endpoint (it serves /health only); the HTTP API test needs the real one from the HTTP branch";
    }
}
