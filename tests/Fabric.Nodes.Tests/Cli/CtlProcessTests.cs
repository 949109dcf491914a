using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Fabric.Nodes.Cli;
using Fabric.Nodes.Cli.Ctl;
using Xunit.Abstractions;
using Fabric.Tests.Shared;

namespace Fabric.Nodes.Tests.Cli;

/// <summary>
/// The product path of <c>fabric ctl</c>: the built executable, run as a user runs it (in the folder where
/// <c>fabric up</c> wrote <c>fabric-data/cluster.json</c>, so URL and token come from that file), against one live
/// <c>fabric up --nodes 3</c> shared by every test of the class. Each test uses names and VNIs of its own.
/// </summary>
[Collection(LocalClusterCollection.Name)]
public sealed class CtlProcessTests(CtlCluster cluster, ITestOutputHelper output) : IClassFixture<CtlCluster>
{
    private Task<CtlResult> Ctl(params string[] args) => cluster.CtlAsync(output, args);

    [RealManagementEndpointFact]
    public async Task The_five_minutes_sequence_of_the_readme_works_by_name_and_exits_0()
    {
        await cluster.EnsureStartedAsync(output);

        var members = (await Ctl("members", "--json")).Ok().Json().AsArray();
        Assert.Equal(["node-1", "node-2", "node-3"], members.Select(m => m!["name"]!.GetValue<string>()).Order());

        // An l3 network with two subnets, everything after it named, not numbered.
        (await Ctl("networks", "create", "five-blue", "--vni", "100", "--kind", "l3", "--cidr", "10.10.0.0/16")).Ok();
        (await Ctl("subnets", "create", "a", "--network", "five-blue", "--cidr", "10.10.1.0/24")).Ok();
        (await Ctl("subnets", "create", "b", "--network", "five-blue", "--cidr", "10.10.2.0/24")).Ok();
        (await Ctl("endpoints", "create", "five-vm-a", "--network", "five-blue", "--subnet", "a", "--node", "node-1", "--ip", "10.10.1.10")).Ok();
        (await Ctl("endpoints", "create", "five-vm-b", "--network", "five-blue", "--subnet", "b", "--node", "node-2", "--ip", "10.10.2.10")).Ok();

        // The names were looked up, not sent as they are: the server holds the ids of the right network and subnets.
        var blue = (await Ctl("networks", "show", "five-blue", "--json")).Ok().Json();
        var blueId = blue["id"]!.GetValue<string>();
        Assert.Matches("^net-[0-9]+$", blueId);
        var subnets = (await cluster.GetAsync($"/api/v1/networks/{blueId}/subnets")).AsArray();
        string SubnetId(string name) => subnets.Single(s => s!["name"]!.GetValue<string>() == name)!["id"]!.GetValue<string>();
        var vmA = (await Ctl("endpoints", "show", "five-vm-a", "--json")).Ok().Json();
        var vmB = (await Ctl("endpoints", "show", "five-vm-b", "--json")).Ok().Json();
        Assert.Equal(blueId, vmA["network"]!.GetValue<string>());
        Assert.Equal(SubnetId("a"), vmA["subnet"]!.GetValue<string>());
        Assert.Equal(SubnetId("b"), vmB["subnet"]!.GetValue<string>());
        Assert.Equal("node-2", vmB["node"]!.GetValue<string>());

        // The echo crosses the fabric, node-1 → node-2; the summary is the one line the README shows.
        var ping = await PingUntilAnsweredAsync("five-vm-a", "10.10.2.10");
        Assert.Matches(@"^five-vm-a → 10\.10\.2\.10: 3 sent, 3 received, 0% loss; rtt min/avg/max [0-9./]+ ms; ttl 64$", ping.Stdout.Trim());

        // The same path, hop by hop: the route taken on node-1, delivered on node-2, and the answer back.
        var trace = (await Ctl("trace", "five-vm-a", "10.10.2.10")).Ok().Stdout;
        Assert.Contains("route 10.10.0.0/16 → local", trace);
        Assert.Contains("delivered on node-2 to five-vm-b", trace);
        Assert.Contains("answer reached five-vm-a", trace);
        Assert.Contains("stopped there, not delivered", (await Ctl("trace", "five-vm-a", "10.10.2.10", "--tcp", "443", "--no-deliver")).Ok().Stdout);

        // What node-1 forwards with: both VMs' MACs in blue's FDB, vm-b's behind node-2's VTEP.
        var fdb = (await Ctl("fdb", "node-1", "--network", "five-blue", "--json")).Ok().Json();
        var entries = fdb["entries"]!.AsArray();
        Assert.Contains(entries, e => e!["mac"]!.GetValue<string>() == vmA["mac"]!.GetValue<string>());
        Assert.Contains(entries, e => e!["mac"]!.GetValue<string>() == vmB["mac"]!.GetValue<string>());
        var counters = (await Ctl("counters", "node-1", "--json")).Ok().Json();
        Assert.NotNull(counters.AsObject());
        Assert.Contains("five-blue", (await Ctl("fdb", "node-1", "--network", "five-blue")).Ok().Stdout + (await Ctl("networks", "list")).Ok().Stdout);

        // Move vm-b to node-3 while it runs, and ping it there.
        var move = (await Ctl("endpoints", "move", "five-vm-b", "--node", "node-3")).Ok();
        Assert.StartsWith($"moved endpoint {vmB["id"]!.GetValue<string>()} to node-3", move.Stdout.Trim());
        Assert.Equal("node-3", (await Ctl("endpoints", "show", "five-vm-b", "--json")).Ok().Json()["node"]!.GetValue<string>());
        await PingUntilAnsweredAsync("five-vm-a", "10.10.2.10");
        var moved = (await Ctl("trace", "five-vm-a", "10.10.2.10", "--json")).Ok().Json()["probes"]![0]!;
        Assert.Equal(("delivered", "node-3"), (moved["verdict"]!.GetValue<string>(), moved["node"]!.GetValue<string>()));
    }

    [RealManagementEndpointFact]
    public async Task Json_prints_the_servers_answer_as_it_is()
    {
        await cluster.EnsureStartedAsync(output);

        var created = (await Ctl("networks", "create", "json-green", "--vni", "201", "--kind", "l2", "--json")).Ok();
        var body = created.Json();
        Assert.Equal("json-green", body["name"]!.GetValue<string>());
        Assert.Equal(201, body["vni"]!.GetValue<int>());
        var id = body["id"]!.GetValue<string>();

        // show --json is exactly what GET answers, field for field, and list --json the listing.
        var shown = (await Ctl("networks", "show", "json-green", "--json")).Ok().Json();
        Assert.True(JsonNode.DeepEquals(await cluster.GetAsync($"/api/v1/networks/{id}"), shown), shown.ToJsonString());
        var listed = (await Ctl("networks", "list", "--json")).Ok().Json();
        Assert.True(JsonNode.DeepEquals(await cluster.GetAsync("/api/v1/networks"), listed), listed.ToJsonString());
        Assert.Single(listed.AsArray(), n => n!["id"]!.GetValue<string>() == id);

        // Without --json the same command prints a table for people, not JSON.
        var table = (await Ctl("networks", "show", "json-green")).Ok();
        Assert.Contains("json-green", table.Stdout, StringComparison.Ordinal);
        Assert.False(table.Stdout.TrimStart().StartsWith('{'), table.Stdout);
    }

    [RealManagementEndpointFact]
    public async Task A_refused_request_is_one_error_line_naming_the_field_and_exit_1()
    {
        await cluster.EnsureStartedAsync(output);
        (await Ctl("networks", "create", "err-net", "--vni", "301", "--kind", "l3", "--cidr", "10.30.0.0/16")).Ok();
        (await Ctl("subnets", "create", "s", "--network", "err-net", "--cidr", "10.30.1.0/24")).Ok();

        // 409: the VNI is taken.
        var taken = await Ctl("networks", "create", "err-net-2", "--vni", "301", "--kind", "l2");
        taken.FailsWith(409, "vni");
        // 409: a subnet outside the network's CIDR.
        (await Ctl("subnets", "create", "t", "--network", "err-net", "--cidr", "10.31.1.0/24")).FailsWith(409, "cidr");
        // An address outside the subnet.
        (await Ctl("endpoints", "create", "err-vm", "--network", "err-net", "--subnet", "s", "--node", "node-1", "--ip", "10.30.2.5")).FailsWith(409, "ip");
        // 400: an l3 network without its CIDR.
        (await Ctl("networks", "create", "err-net-3", "--vni", "302", "--kind", "l3")).FailsWith(400, "cidr");
        // 404: a name nobody has.
        (await Ctl("networks", "show", "no-such-network")).FailsWith(404, null);
        // Retiring a host: a name that is no member is refused, naming the field (leave and down are otherwise driven
        // by the cluster tests; here the shared cluster must keep its three nodes).
        (await Ctl("members", "leave", "no-such-node")).FailsWith(404, "name");
        (await Ctl("members", "down", "no-such-node")).FailsWith(404, "name");
        // Nothing of the refused writes was made.
        var names = (await cluster.GetAsync("/api/v1/networks")).AsArray().Select(n => n!["name"]!.GetValue<string>()).ToArray();
        Assert.DoesNotContain("err-net-2", names);
        Assert.DoesNotContain("err-net-3", names);
        Assert.DoesNotContain(await cluster.GetAsync("/api/v1/endpoints") is JsonArray eps ? eps : [], e => e!["name"]!.GetValue<string>() == "err-vm");

        // The token is checked: a wrong one is one line too, and so is a node nobody listens on.
        (await Ctl("networks", "list", "--token", "wrong")).FailsWith(403, null);
        var unreachable = await Ctl("networks", "list", "--url", $"http://127.0.0.1:{CtlCluster.ClosedPort()}");
        unreachable.FailsWith(null, null);
        Assert.Contains("cannot reach", unreachable.Stderr, StringComparison.Ordinal);
    }

    [RealManagementEndpointFact]
    public async Task Tokens_are_created_listed_and_revoked_with_ctl_and_a_read_token_cannot_write()
    {
        await cluster.EnsureStartedAsync(output);
        var created = (await Ctl("tokens", "create", "--name", "ctl-reader", "--scope", "read")).Ok();
        var secret = created.Stdout.Trim().Split('\n')[^1].Trim(); // the secret, alone on the last line
        Assert.Matches("^[A-Za-z0-9_-]{43}$", secret);
        var listed = (await Ctl("tokens", "list", "--json")).Ok().Json().AsArray();
        Assert.Contains(listed, t => t!["name"]!.GetValue<string>() == "ctl-reader" && t["scope"]!.GetValue<string>() == "read");
        Assert.DoesNotContain(secret, (await Ctl("tokens", "list")).Ok().Stdout);

        (await Ctl("networks", "list", "--token", secret)).Ok();
        (await Ctl("networks", "create", "reader-net", "--vni", "501", "--token", secret)).FailsWith(403, "admin");
        (await Ctl("tokens", "revoke", "ctl-reader")).Ok();
        (await Ctl("networks", "list", "--token", secret)).FailsWith(401, null);
    }

    [RealManagementEndpointFact]
    public async Task A_ping_that_gets_no_answer_exits_1()
    {
        await cluster.EnsureStartedAsync(output);
        (await Ctl("networks", "create", "quiet", "--vni", "401", "--kind", "l3", "--cidr", "10.40.0.0/16")).Ok();
        (await Ctl("subnets", "create", "q", "--network", "quiet", "--cidr", "10.40.0.0/24")).Ok();
        (await Ctl("endpoints", "create", "quiet-vm", "--network", "quiet", "--subnet", "q", "--node", "node-2", "--ip", "10.40.0.10")).Ok();
        (await Ctl("endpoints", "create", "quiet-peer", "--network", "quiet", "--subnet", "q", "--node", "node-1", "--ip", "10.40.0.11")).Ok();
        // First prove this VM can ping at all (so the failure below is the missing answer, not a missing port) ...
        await PingUntilAnsweredAsync("quiet-vm", "10.40.0.11");

        // ... then ping an address nobody has: a summary with 0 received, and exit code 1, like ping(8).
        var silent = await Ctl("endpoints", "ping", "quiet-vm", "10.40.0.99", "--count", "2");
        Assert.True(silent.ExitCode == 1, silent.ToString());
        Assert.Contains("2 sent, 0 received, 100% loss", silent.Stdout, StringComparison.Ordinal);
        var silentJson = await Ctl("endpoints", "ping", "quiet-vm", "10.40.0.99", "--count", "1", "--json");
        Assert.True(silentJson.ExitCode == 1, silentJson.ToString());
        Assert.Equal(0, silentJson.Json()["received"]!.GetValue<int>());
    }

    /// <summary>Pings (3 echoes) until all three come back and ctl exits 0, for at most 30 s: a new port and ARP take a moment.</summary>
    private async Task<CtlResult> PingUntilAnsweredAsync(string from, string target)
    {
        var deadline = Stopwatch.StartNew();
        CtlResult last;
        do
        {
            last = await Ctl("endpoints", "ping", from, target);
            if (last.ExitCode == 0 && last.Stdout.Contains("3 received", StringComparison.Ordinal)) return last;
            // A ping that got nothing back is exit 1, never 0.
            if (last.Stdout.Contains(" 0 received", StringComparison.Ordinal)) Assert.Equal(1, last.ExitCode);
            await Task.Delay(500);
        }
        while (deadline.Elapsed < TimeSpan.FromSeconds(30));
        throw new Xunit.Sdk.XunitException($"no answer from {target} to {from} within 30 s; last: {last}");
    }
}

/// <summary>What one <c>fabric ctl</c> run did.</summary>
public sealed record CtlResult(string[] Args, int ExitCode, string Stdout, string Stderr)
{
    /// <summary>Exit 0 and nothing on stderr.</summary>
    public CtlResult Ok()
    {
        Assert.True(ExitCode == 0 && Stderr.Length == 0, ToString());
        return this;
    }

    /// <summary>stdout parsed as JSON: what --json prints must be JSON and nothing else.</summary>
    public JsonNode Json()
    {
        try { return JsonNode.Parse(Stdout) ?? throw new Xunit.Sdk.XunitException($"null JSON: {this}"); }
        catch (System.Text.Json.JsonException e) { throw new Xunit.Sdk.XunitException($"stdout is not JSON ({e.Message}): {this}"); }
    }

    /// <summary>Exit 1, nothing on stdout, exactly one line on stderr: "error: STATUS …" naming <paramref name="field"/>.</summary>
    public void FailsWith(int? status, string? field)
    {
        Assert.True(ExitCode == 1, ToString());
        Assert.True(Stdout.Length == 0, ToString());
        var lines = Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"{lines.Length} lines on stderr: {this}");
        Assert.StartsWith(status is { } s ? $"error: {s} " : "error: ", lines[0], StringComparison.Ordinal);
        if (field is not null) Assert.Matches($@"\b{field}\b", lines[0]);
    }

    public override string ToString() => $"`fabric ctl {string.Join(' ', Args)}` exited {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";
}

/// <summary>
/// One <c>fabric up --nodes 3</c> for the whole class, started by the first test that runs (a skipped class starts
/// nothing), in <c>TEMP/fabric-data</c> so that ctl, run in TEMP, finds <c>fabric-data/cluster.json</c> as a user's would.
/// </summary>
public sealed class CtlCluster : IAsyncLifetime
{
    private static readonly TimeSpan FormTimeout = TimeSpan.FromSeconds(45);
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly StringBuilder _log = new();
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("fabric-ctl-");
    private Process? _up;
    private ClusterFile? _cluster;
    private HttpClient? _http;

    public ClusterFile Cluster => _cluster ?? throw new InvalidOperationException("not started");

    public async Task EnsureStartedAsync(ITestOutputHelper output)
    {
        await _gate.WaitAsync();
        try
        {
            if (_cluster is not null) return;
            if (_up is not null) throw new Xunit.Sdk.XunitException($"fabric up did not form a cluster for an earlier test:\n{Log}");
            var (basePort, vtepPort) = FreePorts.ForLocalCluster(3);
            var psi = new ProcessStartInfo(Fabric.Tests.Shared.FabricBinary.Path())
            {
                RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
                WorkingDirectory = _dir.FullName,
            };
            foreach (var a in new[] { "up", "--nodes", "3", "--data", Path.Combine(_dir.FullName, "fabric-data"), "--base-port", $"{basePort}",
                         "--vtep-port", $"{vtepPort}", "--timeout", $"{FormTimeout.TotalSeconds:0}" })
                psi.ArgumentList.Add(a);
            _up = Process.Start(psi) ?? throw new InvalidOperationException("fabric up did not start");
            _up.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.AppendLine(e.Data); };
            _up.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.AppendLine("stderr: " + e.Data); };
            _up.BeginOutputReadLine();
            _up.BeginErrorReadLine();

            var file = Path.Combine(_dir.FullName, "fabric-data", "cluster.json");
            var clock = Stopwatch.StartNew();
            while (!File.Exists(file))
            {
                if (_up.HasExited) throw new Xunit.Sdk.XunitException($"fabric up exited with {_up.ExitCode} before writing cluster.json:\n{Log}");
                if (clock.Elapsed > FormTimeout + TimeSpan.FromSeconds(10)) throw new Xunit.Sdk.XunitException($"no cluster.json after {clock.Elapsed.TotalSeconds:0} s:\n{Log}");
                await Task.Delay(200);
            }
            var cluster = ClusterFile.Read(file);
            _http = new HttpClient { BaseAddress = new Uri(cluster.Nodes[0].Http), Timeout = TimeSpan.FromSeconds(20) };
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", cluster.Token);
            _cluster = cluster;
            output.WriteLine($"cluster formed in {clock.Elapsed.TotalSeconds:0.0} s: {string.Join(", ", cluster.Nodes.Select(n => $"{n.Name} {n.Http}"))}");
        }
        finally { _gate.Release(); }
    }

    private string Log { get { lock (_log) return _log.ToString(); } }

    /// <summary>Runs the built <c>fabric ctl ARGS</c> in the folder above fabric-data, with no FABRIC_URL/FABRIC_TOKEN to lean on.</summary>
    public async Task<CtlResult> CtlAsync(ITestOutputHelper output, string[] args)
    {
        var psi = new ProcessStartInfo(Fabric.Tests.Shared.FabricBinary.Path())
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = _dir.FullName,
        };
        psi.ArgumentList.Add("ctl");
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment.Remove(CtlOptions.UrlVariable);
        psi.Environment.Remove(NodeCommand.TokenVariable);
        psi.Environment["NO_COLOR"] = "1";
        psi.Environment["COLUMNS"] = "200"; // tables are not cut to a narrow terminal
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("fabric ctl did not start");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using (var wait = new CancellationTokenSource(TimeSpan.FromSeconds(90)))
        {
            try { await p.WaitForExitAsync(wait.Token); }
            catch (OperationCanceledException) { p.Kill(); throw new Xunit.Sdk.XunitException($"fabric ctl {string.Join(' ', args)} did not exit within 90 s"); }
        }
        var result = new CtlResult(args, p.ExitCode, await stdout, await stderr);
        output.WriteLine($"$ fabric ctl {string.Join(' ', args)}   → {result.ExitCode}\n{result.Stdout}{result.Stderr}");
        return result;
    }

    /// <summary>GET through HTTP directly (not through ctl), to compare ctl's answers with the server's.</summary>
    public async Task<JsonNode> GetAsync(string path)
    {
        using var r = await _http!.GetAsync(path);
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.OK, $"GET {path}: {(int)r.StatusCode} {text}");
        return JsonNode.Parse(text)!;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_up is { HasExited: false })
        {
            ShutdownSignal.Terminate(_up.Id);
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(40));
            try { await _up.WaitForExitAsync(wait.Token); } catch (OperationCanceledException) { _up.Kill(entireProcessTree: true); }
        }
        _up?.Dispose();
        _http?.Dispose();
        try { _dir.Delete(true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>A TCP port on 127.0.0.1 that nothing listens on (bound, then released).</summary>
    public static int ClosedPort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }
}
