using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Fabric.Nodes.Cli;
using Fabric.Tests.Shared;
using Xunit.Abstractions;

namespace Fabric.Chaos.Tests.Harness;

/// <summary>
/// The README's "Run on your own hosts", followed as written on <see cref="GuideHosts"/>: the database host's
/// commands against a throw-away PostgreSQL (<see cref="GuidePostgres"/>), <c>fabric init</c> on "your machine",
/// each host's folder copied to it, the node started on each host with the README's command, and the README's
/// <c>fabric ctl</c> and ping commands. What the test substitutes is only what the README names as places:
/// <c>/opt/fabric</c> (the build output stands for the published program), <c>/etc/fabric</c> (each host's own
/// folder), <c>scp … root@HOST:PATH</c> (a copy into that host's folder), <c>sudo</c> (the test is root), and the
/// Debian PostgreSQL service (see <see cref="GuidePostgres.ReadmeCommand"/>).
/// </summary>
public sealed class GuideCluster : IAsyncDisposable
{
    public const string ClusterDir = "fabric-hosts";
    private readonly Dictionary<int, HostProcess> _nodes = [];
    private readonly ITestOutputHelper _output;

    public GuideHosts Hosts { get; }
    public GuidePostgres Database { get; }
    public IReadOnlyList<ReadmeGuide.Block> Guide { get; }
    public int HostCount { get; }
    public TimeSpan FormedAfter { get; private set; }

    private GuideCluster(GuideHosts hosts, GuidePostgres database, IReadOnlyList<ReadmeGuide.Block> guide, int hostCount, ITestOutputHelper output)
    {
        Hosts = hosts;
        Database = database;
        Guide = guide;
        HostCount = hostCount;
        _output = output;
    }

    public ITestOutputHelper Output => _output;
    public string YourMachine => Hosts.Root(0);
    public string ClusterFilePath => Path.Combine(YourMachine, ClusterDir, "cluster.json");
    public string CaPath => Path.Combine(YourMachine, ClusterDir, "ca.crt");
    public ClusterFile Cluster => ClusterFile.Read(ClusterFilePath);
    public HostProcess Node(int index) => _nodes[index];
    public static string Binaries => Path.GetDirectoryName(FabricBinary.Path())!;

    /// <summary>Follows the guide up to a formed cluster of <paramref name="hosts"/> hosts.</summary>
    public static async Task<GuideCluster> StartAsync(ITestOutputHelper output, int hosts = 3)
    {
        var guide = ReadmeGuide.Load();
        var h = await GuideHosts.StartAsync(output, hosts);
        GuidePostgres pg;
        try { pg = await GuidePostgres.StartAsync(); }
        catch
        {
            await h.DisposeAsync();
            throw;
        }
        var c = new GuideCluster(h, pg, guide, hosts, output);
        try
        {
            await c.FollowAsync();
            return c;
        }
        catch
        {
            await c.DisposeAsync();
            throw;
        }
    }

    private async Task FollowAsync()
    {
        var clock = Stopwatch.StartNew();
        // 1. The database host.
        foreach (var command in Guide.With("CREATE DATABASE").Commands)
            _output.WriteLine($"db: {command} → {await Database.ReadmeCommand(command) ?? "(skipped: scripts/setup.sh installed it)"}");

        // 2. The cluster's files, on your machine.
        var init = Guide.With("fabric init --hosts");
        Assert.Contains(init.Commands, c => c.StartsWith("dotnet publish src/Nodes", StringComparison.Ordinal));
        var initResult = await YoursAsync(init.One("/opt/fabric/fabric init "));
        Assert.True(initResult.ExitCode == 0, $"fabric init: {initResult.ExitCode} {initResult.Output}{initResult.Error}");

        // 3. Each host its folder; then the node: in the foreground as the README first shows it, except on the last
        // host, which runs it as the README's systemd unit would (its user, its only capability).
        foreach (var copy in Guide.With("scp -r fabric-hosts/node-1").Commands) await CopyAsync(copy);
        await SetUpServiceAsync(HostCount);
        for (var i = 1; i <= HostCount; i++) StartNode(i);
        FormedAfter = await WaitFormedAsync(TimeSpan.FromSeconds(90));
        _output.WriteLine($"{ChaosCluster.Stamp()} {HostCount} hosts formed a cluster {FormedAfter.TotalSeconds:0.0} s after the first node started (guide followed in {clock.Elapsed.TotalSeconds:0.0} s)");
    }

    /// <summary>The README's foreground command, on host <paramref name="index"/>.</summary>
    public string NodeCommand(int index)
        => OnHost(index, Guide.With("/opt/fabric/fabric node --config").One("sudo /opt/fabric/fabric node --config"));

    /// <summary>Starts (or restarts, as systemd's Restart=on-failure would) host <paramref name="index"/>'s node.</summary>
    public HostProcess StartNode(int index)
    {
        var work = Path.Combine(Hosts.Root(index), "var", "lib", "fabric");
        Directory.CreateDirectory(work);
        var restarts = _nodes.ContainsKey(index) ? "-restarted" : "";
        var command = _services.Contains(index) ? ServiceCommand(index, work) : NodeCommand(index);
        return _nodes[index] = Hosts.Spawn(GuideHosts.NamespaceOf(index), $"node-{index}{restarts}", command, work);
    }

    private readonly HashSet<int> _services = [];
    private string? _tunMode;

    /// <summary>Whether host <paramref name="index"/> runs its node as the unit would.</summary>
    public bool RunsAsService(int index) => _services.Contains(index);

    /// <summary>
    /// The README's "as a service" block on host <paramref name="index"/>: the user (made when this machine has none),
    /// its ownership of /etc/fabric, and the working folder systemd would make (StateDirectory, owned by the user).
    /// <c>daemon-reload</c> has nothing to do here; <c>enable --now</c> is <see cref="ServiceCommand"/>.
    /// </summary>
    private async Task SetUpServiceAsync(int index)
    {
        var block = Guide.With("systemctl enable --now fabric-node");
        var user = ReadmeGuide.UnitValues("User").Single();
        foreach (var command in block.Commands)
        {
            if (command.Contains("systemctl ", StringComparison.Ordinal)) continue;
            if (command.Contains("useradd ", StringComparison.Ordinal) && (await Shell.RunAsync("id", [user])).ExitCode == 0) continue;
            (await Shell.RunAsync("/bin/bash", ["-c", OnHost(index, command)])).Check($"README: {command}");
        }
        // The user must reach its files through the folders that stand for the host's disk (systemd's are 0755).
        foreach (var d in new[] { Hosts.Dir.FullName, Hosts.Root(index), Path.Combine(Hosts.Root(index), "etc"), Path.Combine(Hosts.Root(index), "var"), Path.Combine(Hosts.Root(index), "var", "lib"), Path.Combine(Hosts.Root(index), "opt") })
        {
            Directory.CreateDirectory(d);
            (await Shell.RunAsync("chmod", ["755", d])).Check($"chmod 755 {d}");
        }
        // The program on that host's disk, as the README's "once per host" block copies it (readable by the user
        // wherever the repository lives).
        var program = Path.Combine(Hosts.Root(index), "opt", "fabric");
        Directory.CreateDirectory(Path.GetDirectoryName(program)!);
        (await Shell.RunAsync("cp", ["-r", Binaries, program])).Check("cp the program");
        (await Shell.RunAsync("chmod", ["-R", "a+rX", Path.GetDirectoryName(program)!])).Check("chmod the program");
        // The unit opens /dev/net/tun as its user: Debian makes it 0666 (udev), this machine may have it 0600. For the
        // case, it is as on a stock host; its mode is given back when the cluster goes.
        var tun = (await Shell.RunAsync("stat", ["-c", "%a", "/dev/net/tun"])).Output.Trim();
        if (tun is not "666" and not "")
        {
            (await Shell.RunAsync("chmod", ["666", "/dev/net/tun"])).Check("chmod 666 /dev/net/tun");
            _tunMode = tun;
            _output.WriteLine($"/dev/net/tun was {tun} here; 666 (Debian's) while the guide's cluster runs");
        }
        var work = Path.Combine(Hosts.Root(index), "var", "lib", "fabric");
        Directory.CreateDirectory(work);
        (await Shell.RunAsync("chown", [$"{user}:{ReadmeGuide.UnitValues("Group").Single()}", work])).Check("chown StateDirectory");
        (await Shell.RunAsync("chmod", [ReadmeGuide.UnitValues("StateDirectoryMode").Single(), work])).Check("chmod StateDirectory");
        _services.Add(index);
    }

    /// <summary>
    /// <c>systemctl enable --now fabric-node</c> without systemd: the unit's ExecStart as its User and Group, with its
    /// capabilities as the only ones (bounding, inheritable and ambient sets), no new privileges, and its Environment.
    /// </summary>
    public string ServiceCommand(int index, string work)
    {
        var caps = string.Join(',', ReadmeGuide.UnitValues("CapabilityBoundingSet").Single().Split(' ').Select(c => "+" + c["CAP_".Length..].ToLowerInvariant()));
        Assert.Equal(ReadmeGuide.UnitValues("CapabilityBoundingSet"), ReadmeGuide.UnitValues("AmbientCapabilities"));
        Assert.Equal(["yes"], ReadmeGuide.UnitValues("NoNewPrivileges"));
        var environment = ReadmeGuide.UnitValues("Environment").Single().Replace("/var/lib/fabric", work, StringComparison.Ordinal);
        return $"setpriv --reuid={ReadmeGuide.UnitValues("User").Single()} --regid={ReadmeGuide.UnitValues("Group").Single()} --init-groups " +
               $"--inh-caps=-all,{caps} --ambient-caps=-all,{caps} --bounding-set=-all,{caps} --no-new-privs -- env {environment} " +
               OnHost(index, ReadmeGuide.UnitExecStart());
    }

    /// <summary>A command of the guide as host <paramref name="index"/> runs it: its /etc/fabric, the program, no sudo.</summary>
    public string OnHost(int index, string command)
    {
        var line = command.StartsWith("sudo ", StringComparison.Ordinal) ? command[5..] : command;
        var program = _services.Contains(index) ? Path.Combine(Hosts.Root(index), "opt", "fabric") : Binaries;
        return line.Replace(ReadmeGuide.InstallDir, program, StringComparison.Ordinal)
            .Replace(ReadmeGuide.HostsDir, Path.Combine(Hosts.Root(index), "etc", "fabric"), StringComparison.Ordinal);
    }

    /// <summary>A command of the guide with the program's folder and sudo taken care of.</summary>
    public static string Local(string command)
    {
        var line = command.StartsWith("sudo ", StringComparison.Ordinal) ? command[5..] : command;
        return line.Replace(ReadmeGuide.InstallDir, Binaries, StringComparison.Ordinal);
    }

    /// <summary>Runs a command of the guide on your machine (this machine's namespace, in <see cref="YourMachine"/>).</summary>
    public Task<Shell.Result> YoursAsync(string command, TimeSpan? timeout = null)
        => Shell.RunAsync("/bin/bash", ["-c", $"cd {YourMachine} && {Local(command)}"], timeout ?? TimeSpan.FromSeconds(60));

    /// <summary><c>scp -r SRC root@HOST:DEST</c> from the guide: SRC copied into that host's folder at DEST.</summary>
    public async Task CopyAsync(string command)
    {
        var m = Regex.Match(command, @"^scp -r (\S+) root@(\S+):(\S+)$");
        Assert.True(m.Success, $"not an 'scp -r SRC root@HOST:DEST' line: {command}");
        var host = Array.IndexOf(ReadmeGuide.Hosts, m.Groups[2].Value) + 1;
        Assert.True(host >= 1, $"{command}: {m.Groups[2].Value} is not one of the README's hosts");
        var dest = Hosts.Root(host) + m.Groups[3].Value;
        Directory.CreateDirectory(Path.GetDirectoryName(dest)!);
        (await Shell.RunAsync("cp", ["-r", Path.Combine(YourMachine, m.Groups[1].Value), dest])).Check(command);
    }

    /// <summary>Waits until the README's <c>fabric ctl … members</c> lists every host as up.</summary>
    private async Task<TimeSpan> WaitFormedAsync(TimeSpan timeout)
    {
        var members = Guide.With("cluster.json members").One("/opt/fabric/fabric ctl --cluster fabric-hosts/cluster.json members");
        Shell.Result? last = null;
        try
        {
            return await ChaosCluster.WaitUntilAsync(async () =>
            {
                last = await YoursAsync(members + " --json", TimeSpan.FromSeconds(20));
                if (last.ExitCode != 0) return false;
                var list = JsonNode.Parse(last.Output)!.AsArray();
                return list.Count == HostCount && list.All(m => m!["status"]!.GetValue<string>() == "up" && m["reachable"]!.GetValue<bool>());
            }, timeout, $"`{members}` lists {HostCount} members up", 1000);
        }
        catch (Xunit.Sdk.XunitException e)
        {
            throw new Xunit.Sdk.XunitException($"{e.Message}\nlast answer ({last?.ExitCode}): {last?.Output}{last?.Error}");
        }
    }

    /// <summary>An HTTPS client of node <paramref name="index"/> that trusts the cluster CA only, with <paramref name="token"/> (default: the admin token).</summary>
    public HttpClient Api(int index, string? token = null)
    {
        var ca = X509CertificateLoader.LoadCertificateFromFile(CaPath);
        var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, cert, _, _) =>
            {
                if (cert is null) return false;
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(ca);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(cert);
            },
        };
        var client = new HttpClient(handler, disposeHandler: true) { BaseAddress = new Uri(Cluster.Nodes[index - 1].Http), Timeout = TimeSpan.FromSeconds(15) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token ?? Cluster.Token);
        return client;
    }

    /// <summary>The names node <paramref name="index"/> lists as members (any status).</summary>
    public async Task<IReadOnlyList<(string Name, string Status, string Address)>> MembersAsync(int index)
    {
        using var api = Api(index);
        var members = await api.GetFromJsonAsync<JsonArray>("/cluster/members") ?? [];
        return members.Select(m => (m!["name"]!.GetValue<string>(), m["status"]!.GetValue<string>(), m["address"]!.GetValue<string>())).ToArray();
    }

    public async Task<(HttpStatusCode Status, string Body)> SendAsync(int index, HttpMethod method, string path, object? body = null, string? token = null)
    {
        using var api = Api(index, token);
        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        using var response = await api.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    public async ValueTask DisposeAsync()
    {
        await Hosts.DisposeAsync();
        await Database.DisposeAsync();
        if (_tunMode is not null) await Shell.RunAsync("chmod", [_tunMode, "/dev/net/tun"]);
    }
}

/// <summary>Finding the guide's blocks by what they do.</summary>
public static class GuideBlocks
{
    /// <summary>The one block with a command containing <paramref name="text"/>.</summary>
    public static ReadmeGuide.Block With(this IReadOnlyList<ReadmeGuide.Block> blocks, string text)
    {
        var found = blocks.Where(b => b.Commands.Any(c => c.Contains(text, StringComparison.Ordinal))).ToArray();
        return found.Length == 1 ? found[0]
            : throw new Xunit.Sdk.XunitException($"the README's '{ReadmeGuide.Heading}' has {found.Length} blocks with '{text}', wanted 1");
    }
}
