using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Configuration;
using Fabric.Actors.Cluster;
using Fabric.Actors.Configuration;
using Fabric.Nodes.Cli;
using Fabric.Tests.Shared;

namespace Fabric.Nodes.Tests.Cli;

/// <summary>
/// <c>fabric init</c> (API.md, "Command line"): the files it writes and their modes, the certificates' chain and names,
/// node.conf as a node reads it, the refusals (exit 2, one line naming the option), and <c>fabric node</c> refusing the
/// SQLite store under seeds on other hosts. No ports, no cluster: these run without the test lock.
/// </summary>
public sealed class InitTests : IDisposable
{
    private const string Store = "Host=db.example;Port=5432;Database=fabric;Username=fabric;Password=s3cret";
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("fabric-init-");

    public void Dispose() => _dir.Delete(recursive: true);

    private string Out => Path.Combine(_dir.FullName, "cluster");

    private static UnixFileMode Mode(string path)
        => OperatingSystem.IsWindows() ? throw new PlatformNotSupportedException() : File.GetUnixFileMode(path);

    [LinuxFact]
    public void Init_writes_the_CA_a_folder_per_host_and_cluster_json_with_secrets_0600()
    {
        var code = InitCommand.Run("10.0.0.1,10.0.0.2,10.0.0.3", "alpha,beta,gamma", Store, Out, TextWriter.Null);
        Assert.Equal(0, code);

        const UnixFileMode secret = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        Assert.Equal(secret, Mode(Path.Combine(Out, "ca.key")));
        Assert.Equal(secret, Mode(Path.Combine(Out, "cluster.json")));
        using var ca = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(Out, "ca.crt"));
        Assert.True(ca.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority);
        // ca.key is the CA certificate's key.
        using (var key = ECDsa.Create())
        {
            key.ImportFromPem(File.ReadAllText(Path.Combine(Out, "ca.key")));
            using var pub = ca.GetECDsaPublicKey()!;
            Assert.Equal(pub.ExportSubjectPublicKeyInfo(), key.ExportSubjectPublicKeyInfo());
        }

        var cluster = ClusterFile.Read(Path.Combine(Out, "cluster.json"));
        Assert.Equal(["alpha", "beta", "gamma"], cluster.Nodes.Select(n => n.Name));
        Assert.Equal(["https://10.0.0.1:4051", "https://10.0.0.2:4051", "https://10.0.0.3:4051"], cluster.Nodes.Select(n => n.Http));
        Assert.Equal("akka.ssl.tcp://fabric@10.0.0.2:4050", cluster.Nodes[1].Akka);
        Assert.Equal("10.0.0.3", cluster.Nodes[2].Vtep);

        var names = new[] { "alpha", "beta", "gamma" };
        for (var i = 0; i < 3; i++)
        {
            var ip = $"10.0.0.{i + 1}";
            var dir = Path.Combine(Out, names[i]);
            Assert.Equal(secret, Mode(Path.Combine(dir, "node.pfx")));
            Assert.Equal(secret, Mode(Path.Combine(dir, "node.conf")));
            Assert.Equal(File.ReadAllText(Path.Combine(Out, "ca.crt")), File.ReadAllText(Path.Combine(dir, "ca.crt")));

            // No password; the key is in it; the CA signed it; it names the host's IP and the node's name, for both TLS roles.
            using var cert = X509CertificateLoader.LoadPkcs12FromFile(Path.Combine(dir, "node.pfx"), null);
            Assert.True(cert.HasPrivateKey);
            Assert.True(RemoteTls.IsIssuedBy(cert, ca, out var why), why);
            var san = cert.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
            Assert.Equal([IPAddress.Parse(ip)], san.EnumerateIPAddresses());
            Assert.Equal([names[i]], san.EnumerateDnsNames());
            var usages = cert.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<Oid>().Select(o => o.Value).ToArray();
            Assert.Contains("1.3.6.1.5.5.7.3.1", usages);
            Assert.Contains("1.3.6.1.5.5.7.3.2", usages);

            // node.conf as `fabric node` reads it: PostgreSQL with the given string, everything on the host's IP,
            // TLS files beside it, every other host a seed (never itself: see InitPlan.SeedsOf).
            var file = Path.Combine(dir, "node.conf");
            var config = NodeCommand.ResolveFiles(FabricHocon.Load(file), dir);
            var settings = FabricSettings.From(config);
            Assert.False(settings.UsesSqlite);
            Assert.StartsWith("PostgreSQL", settings.StoreProviderName, StringComparison.Ordinal);
            Assert.Equal(Store, settings.StoreConnectionString);
            Assert.Equal(names[i], settings.NodeName);
            Assert.Equal(ip, settings.VtepAddress.ToString());
            Assert.Equal(4789, settings.VtepPort);
            Assert.Equal(ip, config.GetString("akka.remote.dot-netty.tcp.hostname"));
            Assert.Equal(4050, config.GetInt("akka.remote.dot-netty.tcp.port"));
            Assert.Equal(cluster.Nodes.Where(n => n.Name != names[i]).Select(n => n.Akka), config.GetStringList("akka.cluster.seed-nodes"));
            var startup = NodeCommand.Resolve(config, file, _ => null);
            Assert.Equal($"https://{ip}:4051", startup.HttpUrl);
            Assert.Equal(cluster.Token, startup.Token);
            Assert.Equal(Path.Combine(dir, "node.pfx"), startup.HttpCertificate);
            var tls = RemoteTls.From(config);
            Assert.NotNull(tls);
            Assert.Equal(cert.Thumbprint, tls.Certificate.Thumbprint);
            Assert.Equal(ca.Thumbprint, tls.Authority.Thumbprint);
            NodeCommand.RefuseSplitJournal(config, file); // PostgreSQL: fine
        }
    }

    [Fact]
    public void Names_default_to_node_1_to_N_and_one_host_may_use_the_embedded_store()
    {
        var plan = InitPlan.Create("192.168.1.7", null, null, Out, "t");
        var host = Assert.Single(plan.Hosts);
        Assert.Equal("node-1", host.Name);
        Assert.Equal([host.AkkaAddress], plan.SeedsOf(host)); // alone: it lists itself and forms at once
        var config = FabricHocon.Parse(FabricHocon.ShippedText("fabric.conf") + "\n" + plan.NodeHocon(host));
        Assert.True(FabricSettings.From(config).UsesSqlite);
        NodeCommand.RefuseSplitJournal(config, "node.conf"); // its only seed is itself

        Assert.Equal(["node-1", "node-2", "node-3"], InitPlan.Create("10.1.1.1, 10.1.1.2 ,10.1.1.3", null, Store, Out, "t").Hosts.Select(h => h.Name));
    }

    [Theory]
    [InlineData("10.0.0.1,10.0.0.300", null, Store, "--hosts", "10.0.0.300")]
    [InlineData("10.0.0.1,fe80::1", null, Store, "--hosts", "fe80::1")]
    [InlineData("10.0.0.1,10.0.0.1", null, Store, "--hosts", "twice")]
    [InlineData("", null, Store, "--hosts", "IPv4")]
    [InlineData("10.0.0.1,10.0.0.2", "a", Store, "--names", "1 name(s) for 2 host(s)")]
    [InlineData("10.0.0.1,10.0.0.2", "a,b,c", Store, "--names", "3 name(s) for 2 host(s)")]
    [InlineData("10.0.0.1,10.0.0.2", "a,A", Store, "--names", "twice")]
    [InlineData("10.0.0.1,10.0.0.2", "a,b/c", Store, "--names", "b/c")]
    [InlineData("10.0.0.1,10.0.0.2", "a,-b", Store, "--names", "-b")]
    [InlineData("10.0.0.1,10.0.0.2", null, null, "--store", "PostgreSQL")]
    [InlineData("10.0.0.1,10.0.0.2", null, "Data Source=/var/lib/fabric/fabric.db", "--store", "SQLite")]
    [InlineData("10.0.0.1", null, "Data Source=/var/lib/fabric/fabric.db", "--store", "SQLite")]
    [InlineData("10.0.0.1,10.0.0.2", null, "Database=fabric;Username=fabric", "--store", "server")]
    public void Bad_input_is_refused_naming_the_option(string hosts, string? names, string? store, string option, string detail)
    {
        var e = Assert.Throws<InitUsageException>(() => InitPlan.Create(hosts, names, store, Out, "t"));
        Assert.StartsWith(option + ":", e.Message, StringComparison.Ordinal);
        Assert.Contains(detail, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [LinuxFact]
    public async Task Three_hosts_without_a_store_exit_2_with_one_line_naming_store_and_write_nothing()
    {
        var r = await RunFabricAsync(_dir.FullName, "init", "--hosts", "10.0.0.1,10.0.0.2,10.0.0.3", "--out", Out);
        Assert.True(r.Code == 2, r.ToString());
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, r.ToString());
        Assert.StartsWith("error: --store:", lines[0], StringComparison.Ordinal);
        Assert.Equal("", r.Stdout);
        Assert.False(Directory.Exists(Out));

        // An SQLite store is the same refusal.
        var sqlite = await RunFabricAsync(_dir.FullName, "init", "--hosts", "10.0.0.1,10.0.0.2", "--store", "Data Source=./fabric.db", "--out", Out);
        Assert.True(sqlite.Code == 2 && sqlite.Stderr.Trim().Split('\n').Length == 1 && sqlite.Stderr.StartsWith("error: --store:", StringComparison.Ordinal), sqlite.ToString());
    }

    [Fact]
    public void Init_never_overwrites_a_folder_that_holds_something()
    {
        Directory.CreateDirectory(Out);
        File.WriteAllText(Path.Combine(Out, "ca.key"), "precious");
        Assert.Equal(InitCommand.UsageExitCode, InitCommand.Run("10.0.0.1", null, null, Out, TextWriter.Null));
        Assert.Equal("precious", File.ReadAllText(Path.Combine(Out, "ca.key")));
    }

    [Theory]
    [InlineData("akka.tcp://fabric@10.0.0.2:4050", false, true)]           // another host on SQLite: refused
    [InlineData("akka.ssl.tcp://fabric@db.example:4050", false, true)]     // a host name counts too
    [InlineData("akka.tcp://fabric@127.0.0.2:4050", false, false)]         // loopback: this machine
    [InlineData("akka.tcp://fabric@10.0.0.1:4050", false, false)]          // itself
    [InlineData("akka.tcp://fabric@10.0.0.2:4050", true, false)]           // fabric up: one machine, one file
    public void Node_refuses_the_SQLite_store_under_seeds_on_other_hosts(string seed, bool singleMachine, bool refused)
    {
        var config = FabricHocon.Load(overrides: $"""
            akka.remote.dot-netty.tcp.hostname = "10.0.0.1"
            akka.cluster.seed-nodes = ["{seed}"]
            fabric.store.single-machine = {(singleMachine ? "on" : "off")}
            """);
        if (!refused)
        {
            NodeCommand.RefuseSplitJournal(config, "n.conf");
            return;
        }
        var e = Assert.Throws<CliException>(() => NodeCommand.RefuseSplitJournal(config, "n.conf"));
        Assert.Contains("SQLite", e.Message, StringComparison.Ordinal);
        Assert.Contains(seed, e.Message, StringComparison.Ordinal);
        Assert.Contains("postgres.conf", e.Message, StringComparison.Ordinal);
        // The same seeds on PostgreSQL are what a cluster of hosts should use.
        NodeCommand.RefuseSplitJournal(FabricHocon.Load(overrides: $"include \"postgres.conf\"\nakka.cluster.seed-nodes = [\"{seed}\"]"), "n.conf");
    }

    [LinuxFact]
    public async Task Fabric_node_on_SQLite_with_a_seed_on_another_host_exits_2_with_one_line_before_it_binds_anything()
    {
        var conf = Path.Combine(_dir.FullName, "split.conf");
        await File.WriteAllTextAsync(conf, """
            fabric.http.token = "t"
            fabric.node-name = "split"
            akka.remote.dot-netty.tcp.hostname = "10.0.0.1"
            akka.cluster.seed-nodes = ["akka.tcp://fabric@10.0.0.2:4050"]
            """);
        var r = await RunFabricAsync(_dir.FullName, "node", "--config", conf);
        // 2: refused, which the unit does not restart (RestartPreventExitStatus=2); 1 would crash-loop it every 5 s.
        Assert.True(r.Code == NodeCommand.RefusedExitCode, r.ToString());
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, r.ToString());
        Assert.Contains("SQLite", lines[0], StringComparison.Ordinal);
        Assert.Contains("akka.tcp://fabric@10.0.0.2:4050", lines[0], StringComparison.Ordinal);
    }

    [LinuxFact]
    public void Add_signs_a_new_host_with_the_clusters_CA_gives_it_the_clusters_store_token_and_seeds_and_appends_it_to_cluster_json()
    {
        Assert.Equal(0, InitCommand.Run("10.0.0.1,10.0.0.2,10.0.0.3", null, Store, Out, TextWriter.Null));
        var before = Snapshot(Out);
        var token = ClusterFile.Read(Path.Combine(Out, "cluster.json")).Token;

        var stdout = new StringWriter();
        Assert.Equal(0, InitAdd.Run("node-4", "10.0.0.4", Out, stdout));
        Assert.Contains("node-4", stdout.ToString(), StringComparison.Ordinal);

        // Nothing of the existing hosts or the CA changed; only cluster.json and the new folder are new.
        var after = Snapshot(Out);
        foreach (var (path, content) in before.Where(f => !f.Key.EndsWith("cluster.json", StringComparison.Ordinal)))
            Assert.True(after.TryGetValue(path, out var now) && now == content, $"{path} changed");
        var dir = Path.Combine(Out, "node-4");
        const UnixFileMode secret = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        Assert.Equal(secret | UnixFileMode.UserExecute, Mode(dir));
        Assert.Equal(secret, Mode(Path.Combine(dir, "node.pfx")));
        Assert.Equal(secret, Mode(Path.Combine(dir, "node.conf")));
        Assert.Equal(secret, Mode(Path.Combine(Out, "cluster.json")));
        Assert.Equal(File.ReadAllText(Path.Combine(Out, "ca.crt")), File.ReadAllText(Path.Combine(dir, "ca.crt")));

        using var ca = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(Out, "ca.crt"));
        using var cert = X509CertificateLoader.LoadPkcs12FromFile(Path.Combine(dir, "node.pfx"), null);
        Assert.True(cert.HasPrivateKey);
        Assert.True(RemoteTls.IsIssuedBy(cert, ca, out var why), why);
        var san = cert.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        Assert.Equal([IPAddress.Parse("10.0.0.4")], san.EnumerateIPAddresses());
        Assert.Equal(["node-4"], san.EnumerateDnsNames());

        var cluster = ClusterFile.Read(Path.Combine(Out, "cluster.json"));
        Assert.Equal(token, cluster.Token);
        Assert.Equal(["node-1", "node-2", "node-3", "node-4"], cluster.Nodes.Select(n => n.Name));
        Assert.Equal(new ClusterFileNode("node-4", "10.0.0.4", "akka.ssl.tcp://fabric@10.0.0.4:4050", "https://10.0.0.4:4051"), cluster.Nodes[3]);

        // node.conf as `fabric node` reads it: the cluster's store and configured token, its own address, every other host a seed.
        var file = Path.Combine(dir, "node.conf");
        var config = NodeCommand.ResolveFiles(FabricHocon.Load(file), dir);
        var settings = FabricSettings.From(config);
        Assert.Equal(Store, settings.StoreConnectionString);
        Assert.Equal("node-4", settings.NodeName);
        Assert.Equal("10.0.0.4", settings.VtepAddress.ToString());
        Assert.Equal("10.0.0.4", config.GetString("akka.remote.dot-netty.tcp.hostname"));
        Assert.Equal(cluster.Nodes.Take(3).Select(n => n.Akka), config.GetStringList("akka.cluster.seed-nodes"));
        var startup = NodeCommand.Resolve(config, file, _ => null);
        Assert.Equal(token, startup.Token);
        Assert.Equal("https://10.0.0.4:4051", startup.HttpUrl);
        var tls = RemoteTls.From(config);
        Assert.NotNull(tls);
        Assert.Equal(cert.Thumbprint, tls.Certificate.Thumbprint);
        NodeCommand.RefuseSplitJournal(config, file);
    }

    [LinuxFact]
    public void Adding_to_a_lone_host_stops_it_listing_itself_as_its_seed()
    {
        Assert.Equal(0, InitCommand.Run("10.0.0.1", null, Store, Out, TextWriter.Null));
        var stdout = new StringWriter();
        Assert.Equal(0, InitAdd.Run("node-2", "10.0.0.2", Out, stdout));
        // Listing itself, node-1 would form a second cluster if it restarted alone; now each lists the other.
        Assert.Equal(["akka.ssl.tcp://fabric@10.0.0.2:4050"], FabricHocon.Load(Path.Combine(Out, "node-1", "node.conf")).GetStringList("akka.cluster.seed-nodes"));
        Assert.Equal(["akka.ssl.tcp://fabric@10.0.0.1:4050"], FabricHocon.Load(Path.Combine(Out, "node-2", "node.conf")).GetStringList("akka.cluster.seed-nodes"));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, Mode(Path.Combine(Out, "node-1", "node.conf")));
        Assert.Contains("node-1's node.conf changed", stdout.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("node-2", "10.0.0.9", "--add", "already a node")]
    [InlineData("NODE-2", "10.0.0.9", "--add", "already a node")]
    [InlineData("node-4", "10.0.0.2", "--host", "already the address of node-2")]
    [InlineData("node-4", "10.0.0.300", "--host", "not an IPv4 address")]
    [InlineData("node/4", "10.0.0.4", "--add", "not a valid node name")]
    [InlineData("node-4", null, "--host", "IPv4")]
    [InlineData("leftover", "10.0.0.4", "--add", "already exists")]
    [InlineData("no-ca-key", "10.0.0.4", "--out", "ca.key is missing")]
    [InlineData("no-cluster", "10.0.0.4", "--out", "has no cluster.json")]
    [InlineData("sqlite", "10.0.0.4", "--add", "SQLite")]
    public void Add_refuses_naming_the_option_and_writes_nothing(string name, string? host, string option, string detail)
    {
        if (name == "sqlite") Assert.Equal(0, InitCommand.Run("10.0.0.1", null, null, Out, TextWriter.Null));
        else Assert.Equal(0, InitCommand.Run("10.0.0.1,10.0.0.2", null, Store, Out, TextWriter.Null));
        if (name == "leftover") Directory.CreateDirectory(Path.Combine(Out, name));
        if (name == "no-ca-key") File.Delete(Path.Combine(Out, "ca.key"));
        if (name == "no-cluster") File.Delete(Path.Combine(Out, "cluster.json"));
        var before = Snapshot(Out);

        var e = Assert.Throws<InitUsageException>(() => InitAdd.Plan(name, host, Out));
        Assert.StartsWith(option + ":", e.Message, StringComparison.Ordinal);
        Assert.Contains(detail, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal(InitCommand.UsageExitCode, InitAdd.Run(name, host, Out, TextWriter.Null));
        Assert.Equal(before, Snapshot(Out));
    }

    [LinuxFact]
    public async Task Add_with_options_of_a_new_cluster_or_host_without_add_exits_2_with_one_line()
    {
        Assert.Equal(0, InitCommand.Run("10.0.0.1,10.0.0.2", null, Store, Out, TextWriter.Null));
        foreach (var (args, option) in new[]
                 {
                     (new[] { "--add", "node-3", "--host", "10.0.0.3", "--store", Store }, "--store"),
                     (new[] { "--add", "node-3", "--host", "10.0.0.3", "--hosts", "10.0.0.3" }, "--hosts"),
                     (new[] { "--host", "10.0.0.3" }, "--host"),
                 })
        {
            var r = await RunFabricAsync(_dir.FullName, ["init", "--out", Out, .. args]);
            Assert.True(r.Code == 2, r.ToString());
            Assert.StartsWith($"error: {option}:", r.Stderr, StringComparison.Ordinal);
            Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
        var added = await RunFabricAsync(_dir.FullName, "init", "--out", Out, "--add", "node-3", "--host", "10.0.0.3");
        Assert.True(added.Code == 0, added.ToString());
        Assert.Equal(3, ClusterFile.Read(Path.Combine(Out, "cluster.json")).Nodes.Count);
    }

    /// <summary>Every file under <paramref name="dir"/> with its content and mode.</summary>
    private static Dictionary<string, string> Snapshot(string dir)
        => Directory.GetFiles(dir, "*", SearchOption.AllDirectories)
            .ToDictionary(f => f, f => $"{(OperatingSystem.IsWindows() ? "" : File.GetUnixFileMode(f).ToString())} {Convert.ToBase64String(File.ReadAllBytes(f))}");

    /// <summary>Runs the built <c>fabric</c> to its end (30 s at most).</summary>
    internal static async Task<ProcessResult> RunFabricAsync(string workingDirectory, params string[] args)
    {
        var psi = new ProcessStartInfo(FabricBinary.Path())
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = workingDirectory,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["NO_COLOR"] = "1";
        psi.Environment.Remove(NodeCommand.TokenVariable);
        psi.Environment.Remove(Fabric.Nodes.Cli.Ctl.CtlOptions.UrlVariable);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("fabric did not start");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using (var wait = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            try { await p.WaitForExitAsync(wait.Token); }
            catch (OperationCanceledException) { p.Kill(entireProcessTree: true); throw new Xunit.Sdk.XunitException($"fabric {string.Join(' ', args)} did not exit within 30 s"); }
        }
        return new ProcessResult(args, p.ExitCode, await stdout, await stderr);
    }
}

/// <summary>What one run of <c>fabric</c> did.</summary>
internal sealed record ProcessResult(string[] Args, int Code, string Stdout, string Stderr)
{
    public override string ToString() => $"`fabric {string.Join(' ', Args)}` exited {Code}\nstdout: {Stdout}\nstderr: {Stderr}";
}
