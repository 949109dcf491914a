using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Akka.Actor;
using Fabric.Actors.Cluster;
using Fabric.Actors.Tests.Support;
using Fabric.Nodes.Cli;
using Fabric.Tests.Shared;
using Xunit.Abstractions;

namespace Fabric.Nodes.Tests.Cli;

/// <summary>
/// Two hosts made by <c>fabric init</c>, run as <c>fabric node --config NAME/node.conf</c> processes on loopback
/// addresses of their own (127.0.13.1 and .2 stand in for two hosts), on a throw-away PostgreSQL: they form a cluster
/// over mutual TLS, and refuse a plain-TCP client, a TLS client without a certificate, and a node whose certificate the
/// cluster CA did not sign. <c>fabric ctl</c> reaches them over HTTPS trusting ca.crt beside cluster.json, and says why
/// it cannot without it. Run under the test lock (ports 4050/4051 of 127.0.13.x).
/// </summary>
[Collection(LocalClusterCollection.Name)]
public sealed class TlsClusterProcessTests(TlsCluster cluster, ITestOutputHelper output) : IClassFixture<TlsCluster>
{
    [PostgresFact]
    public async Task Two_nodes_from_fabric_init_form_a_cluster_over_mutual_TLS_and_ctl_works_over_HTTPS_with_ca_crt()
    {
        await cluster.EnsureStartedAsync(output);
        var members = await cluster.MembersAsync();
        Assert.Equal(["akka.ssl.tcp://fabric@127.0.13.1:4050", "akka.ssl.tcp://fabric@127.0.13.2:4050"],
            members.Where(m => m.Status == "up").Select(m => m.Address).Order());

        // ctl as a user runs it: URL, token and the CA from the cluster file's folder.
        var ctl = await InitTests.RunFabricAsync(cluster.Dir, "ctl", "--cluster", Path.Combine(cluster.Dir, "cluster.json"), "members", "--json");
        Assert.True(ctl.Code == 0 && ctl.Stderr.Length == 0, ctl.ToString());
        Assert.Equal(2, JsonNode.Parse(ctl.Stdout)!.AsArray().Count);

        // The same cluster file without ca.crt beside it: the node's certificate is not trusted, and the error says what to do.
        var bare = Directory.CreateDirectory(Path.Combine(cluster.Dir, "elsewhere")).FullName;
        File.Copy(Path.Combine(cluster.Dir, "cluster.json"), Path.Combine(bare, "cluster.json"), overwrite: true);
        var untrusted = await InitTests.RunFabricAsync(bare, "ctl", "--cluster", Path.Combine(bare, "cluster.json"), "members");
        Assert.True(untrusted.Code == 1, untrusted.ToString());
        var line = Assert.Single(untrusted.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("https://127.0.13.1:4051", line, StringComparison.Ordinal);
        Assert.Contains("--ca", line, StringComparison.Ordinal);
        // ... and --ca fixes it.
        var withCa = await InitTests.RunFabricAsync(bare, "ctl", "--cluster", Path.Combine(bare, "cluster.json"), "--ca", Path.Combine(cluster.Dir, "ca.crt"), "members");
        Assert.True(withCa.Code == 0, withCa.ToString());
    }

    [PostgresFact]
    public async Task A_plain_TCP_client_gets_no_answer_on_the_cluster_port()
    {
        await cluster.EnsureStartedAsync(output);

        // Raw bytes: nothing comes back (the TLS layer drops what is not a handshake).
        using (var tcp = new TcpClient())
        {
            await tcp.ConnectAsync(IPAddress.Parse("127.0.13.1"), InitPlan.ClusterPort);
            var stream = tcp.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes("\x10\x00\x00\x00hello, akka?\r\n\r\n"));
            var received = await ReadSomeAsync(stream, TimeSpan.FromSeconds(2));
            Assert.True(received.Length == 0, $"the cluster port answered plain TCP with {received.Length} bytes: {Convert.ToHexString(received)}");
        }

        // A real Akka client speaking plain akka.tcp (what an unauthenticated peer would be): Identify finds no actor
        // (the association never forms, and the message ends in the client's own dead letters, which answer with an
        // empty identity). With remoting in plain TCP (fabric.remote-tls off) the node's guardian answers at once.
        var system = ActorSystem.Create("plain-client", """
            akka.actor.provider = remote
            akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
            akka.loglevel = ERROR
            akka.stdout-loglevel = ERROR
            """);
        try
        {
            var selection = system.ActorSelection("akka.tcp://fabric@127.0.13.1:4050/user");
            var identity = await selection.Ask<ActorIdentity>(new Identify(1), TimeSpan.FromSeconds(4))
                .ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : null, TaskScheduler.Default);
            Assert.True(identity?.Subject is null, $"the node answered a plain akka.tcp client: {identity?.Subject}");
        }
        finally
        {
            await system.Terminate();
        }
        Assert.True(cluster.NodesRunning(), cluster.Logs());
    }

    [PostgresFact]
    public async Task A_TLS_client_without_a_certificate_cannot_finish_a_session()
    {
        await cluster.EnsureStartedAsync(output);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Parse("127.0.13.1"), InitPlan.ClusterPort);
        // It trusts the cluster CA (so the server's certificate is no obstacle) but has no certificate of its own.
        using var tls = new SslStream(tcp.GetStream(), false, (_, cert, _, _) => cert is not null && RemoteTls.IsIssuedBy(new X509Certificate2(cert), cluster.Ca, out _));
        var refused = false;
        try
        {
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "127.0.13.1" }).WaitAsync(TimeSpan.FromSeconds(5));
            // TLS 1.3: the client's side finishes before the server has looked at its (missing) certificate; the
            // server's verdict arrives as an alert on the first read. Without mutual authentication the session stays
            // up and the read waits for data that never comes (the timeout below).
            var received = await ReadSomeAsync(tls, TimeSpan.FromSeconds(5), refusedOnError: true);
            refused = received.Length == 0;
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            refused = true;
        }
        Assert.True(refused, "a TLS client without a certificate kept its session open on the cluster port");
    }

    [PostgresFact]
    public async Task A_node_with_a_self_signed_certificate_and_the_same_seeds_does_not_join()
    {
        await cluster.EnsureStartedAsync(output);
        var intruder = await cluster.StartIntruderAsync(output);
        try
        {
            // 15 s: the intruder's seeds answer within a second or two, and a node that may join is Up in under 5 s.
            var watch = Stopwatch.StartNew();
            while (watch.Elapsed < TimeSpan.FromSeconds(15))
            {
                var members = await cluster.MembersAsync();
                Assert.DoesNotContain(members, m => m.Address.Contains("127.0.13.3", StringComparison.Ordinal));
                Assert.Equal(2, members.Count(m => m.Status == "up"));
                await Task.Delay(1000);
            }
            Assert.True(cluster.NodesRunning(), cluster.Logs());
            // The good nodes saw it and refused its certificate during the handshake (so nothing of it was read).
            Assert.Contains("TLS: refused", cluster.Logs(), StringComparison.Ordinal);
        }
        finally
        {
            output.WriteLine("intruder: " + intruder.Stop());
        }
    }

    /// <summary>Bytes read within <paramref name="timeout"/> (empty: the peer closed, or sent nothing).</summary>
    private static async Task<byte[]> ReadSomeAsync(Stream stream, TimeSpan timeout, bool refusedOnError = false)
    {
        var buffer = new byte[1024];
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            var n = await stream.ReadAsync(buffer, cts.Token);
            return buffer[..n];
        }
        catch (OperationCanceledException)
        {
            if (refusedOnError) return [0]; // still open and silent: not refused
            return [];
        }
        catch (IOException)
        {
            return []; // reset or alert: closed on us
        }
        catch (AuthenticationException)
        {
            return [];
        }
    }
}

/// <summary>A fact that needs root and PostgreSQL (the throw-away store of a cluster of hosts) and Linux loopback addresses.</summary>
public sealed class PostgresFactAttribute : FactAttribute
{
    public PostgresFactAttribute()
    {
        if (!OperatingSystem.IsLinux()) Skip = "needs Linux: nodes on 127.0.13.x";
        else if (PostgresServer.WhyUnavailable() is { } why) Skip = why;
    }
}

/// <summary>
/// The cluster of the class: a throw-away PostgreSQL, `fabric init --hosts 127.0.13.1,127.0.13.2 --store …`, and one
/// `fabric node` process per host, started by the first test that runs.
/// </summary>
public sealed class TlsCluster : IAsyncLifetime
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("fabric-tls-");
    private readonly List<NodeProcess> _nodes = [];
    // Kept apart from the cluster's nodes: an intruder is expected to exit (Akka.Remote shuts a node down when its own
    // outbound TLS handshake fails), and that must not read as a cluster node having died.
    private readonly List<NodeProcess> _intruders = [];
    private readonly SemaphoreSlim _start = new(1, 1);
    private PostgresServer? _postgres;
    private HttpClient? _http;
    private string? _token;
    private Exception? _failed;

    public string Dir => Path.Combine(_root.FullName, "cluster");
    public X509Certificate2 Ca { get; private set; } = null!;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task EnsureStartedAsync(ITestOutputHelper output)
    {
        await _start.WaitAsync();
        try
        {
            if (_failed is not null) throw new InvalidOperationException("the TLS cluster did not start", _failed);
            if (_http is not null) return;
            try { await StartAsync(output); }
            catch (Exception e) { _failed = e; throw; }
        }
        finally { _start.Release(); }
    }

    private async Task StartAsync(ITestOutputHelper output)
    {
        _postgres = await PostgresServer.StartAsync();
        var init = await InitTests.RunFabricAsync(_root.FullName, "init", "--hosts", "127.0.13.1,127.0.13.2", "--store", _postgres.ConnectionString, "--out", Dir);
        Assert.True(init.Code == 0, init.ToString());
        output.WriteLine(init.Stdout);
        Ca = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(Dir, "ca.crt"));
        _token = ClusterFile.Read(Path.Combine(Dir, "cluster.json")).Token;
        foreach (var name in new[] { "node-1", "node-2" })
            _nodes.Add(NodeProcess.Start(Dir, Path.Combine(name, "node.conf"), name));

        var handler = new SocketsHttpHandler();
        handler.SslOptions.CertificateChainPolicy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust, CustomTrustStore = { Ca }, RevocationMode = X509RevocationMode.NoCheck,
        };
        _http = new HttpClient(handler) { BaseAddress = new Uri("https://127.0.13.1:4051"), Timeout = TimeSpan.FromSeconds(5) };
        _http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", _token);

        // No node lists itself as a seed, so the first start forms through the store's lease: about reform.after
        // (5 s) plus a lease round; 60 s is for a loaded machine.
        var watch = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                if ((await MembersAsync()).Count(m => m.Status == "up") == 2) break;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            if (watch.Elapsed > TimeSpan.FromSeconds(60) || !NodesRunning())
                throw new Xunit.Sdk.XunitException($"the two nodes did not form a cluster within {watch.Elapsed.TotalSeconds:0} s\n{Logs()}");
            await Task.Delay(500);
        }
        output.WriteLine($"formed over TLS in {watch.Elapsed.TotalSeconds:0.0} s");
    }

    public async Task<IReadOnlyList<(string Address, string Status)>> MembersAsync()
    {
        var json = JsonNode.Parse(await _http!.GetStringAsync("/cluster/members"))!.AsArray();
        return [.. json.Select(m => (m!["address"]!.GetValue<string>(), m["status"]!.GetValue<string>().ToLowerInvariant()))];
    }

    public bool NodesRunning() => _nodes.All(n => !n.HasExited);

    public string Logs() => string.Join("\n", _nodes.Concat(_intruders).Select(n => $"--- {n.Name}\n{n.Output}"));

    /// <summary>
    /// A third host's folder, as a second `fabric init` would lay it out with the same token, store and seeds, but with a
    /// self-signed certificate in the name of node-1, and the real cluster CA as its trust root (so the only thing
    /// between it and the cluster is the nodes' refusal of its certificate).
    /// </summary>
    public Task<NodeProcess> StartIntruderAsync(ITestOutputHelper output)
    {
        var plan = InitPlan.Create("127.0.13.1,127.0.13.2,127.0.13.3", null, _postgres!.ConnectionString, Path.Combine(_root.FullName, "intruder"), _token!);
        var host = plan.Hosts[2];
        var dir = Directory.CreateDirectory(plan.HostDir(host)).FullName;
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=node-1, O=Fabric", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(host.Address);
        san.AddDnsName("node-1");
        request.CertificateExtensions.Add(san.Build());
        using var self = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(1));
        File.WriteAllBytes(Path.Combine(dir, InitPlan.NodeCertificateFile), self.Export(X509ContentType.Pkcs12));
        File.Copy(Path.Combine(Dir, InitPlan.CaCertificateFile), Path.Combine(dir, InitPlan.CaCertificateFile));
        File.WriteAllText(Path.Combine(dir, InitPlan.NodeConfigFile), plan.NodeHocon(host));
        output.WriteLine(plan.NodeHocon(host));
        var intruder = NodeProcess.Start(dir, InitPlan.NodeConfigFile, "intruder");
        _intruders.Add(intruder);
        return Task.FromResult(intruder);
    }

    public async Task DisposeAsync()
    {
        _http?.Dispose();
        foreach (var n in _nodes.Concat(_intruders)) n.Stop();
        if (_postgres is not null) await _postgres.DisposeAsync();
        try { _root.Delete(recursive: true); } catch (IOException) { }
    }
}

/// <summary>One `fabric node` process, its stdout and stderr kept in memory.</summary>
public sealed class NodeProcess
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private NodeProcess(Process process, string name)
    {
        _process = process;
        Name = name;
    }

    public string Name { get; }
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    /// <summary>Whether it exited within <paramref name="timeout"/> (its output read to the end then).</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var wait = new CancellationTokenSource(timeout);
        try { await _process.WaitForExitAsync(wait.Token); }
        catch (OperationCanceledException) { return false; }
        return true;
    }

    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    public static NodeProcess Start(string workingDirectory, string config, string name)
    {
        var psi = new ProcessStartInfo(FabricBinary.Path())
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = workingDirectory,
        };
        foreach (var a in new[] { "node", "--config", config }) psi.ArgumentList.Add(a);
        psi.Environment.Remove(NodeCommand.TokenVariable);
        var process = new Process { StartInfo = psi };
        var node = new NodeProcess(process, name);
        process.OutputDataReceived += (_, e) => node.Append(e.Data);
        process.ErrorDataReceived += (_, e) => node.Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return node;
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }

    /// <summary>Kills it (the test is over: no graceful leave needed) and says how it ended.</summary>
    public string Stop()
    {
        var exited = _process.HasExited ? $"had exited with {_process.ExitCode}" : "was running";
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
        return $"{Name} {exited}\n{Output}";
    }
}
