using System.Data.Common;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Fabric.Actors.Cluster;
using Fabric.Actors.Configuration;

namespace Fabric.Nodes.Cli;

/// <summary>A problem with <c>fabric init</c>'s options: exit code 2, one line naming the option.</summary>
public sealed class InitUsageException(string message) : Exception(message);

/// <summary>One host of a cluster made by <c>fabric init</c>: everything (VTEP, remoting, HTTPS) on the host's IP.</summary>
public sealed record InitHost(string Name, IPAddress Address)
{
    public string Ip => Address.ToString();
    public string AkkaAddress => $"akka.ssl.tcp://{FabricNode.SystemName}@{Ip}:{InitPlan.ClusterPort.ToString(CultureInfo.InvariantCulture)}";
    public string HttpUrl => $"https://{Ip}:{InitPlan.HttpsPort.ToString(CultureInfo.InvariantCulture)}";
}

/// <summary>
/// What <c>fabric init --hosts … [--names …] [--store …] --out DIR</c> writes (pure: no files). API.md, "Command line".
/// </summary>
public sealed partial record InitPlan(IReadOnlyList<InitHost> Hosts, string? Store, string OutDir, string Token)
{
    public const int ClusterPort = 4050;
    public const int HttpsPort = 4051;
    public const int VtepPort = UpOptions.DefaultVtepPort;
    public const string CaCertificateFile = "ca.crt";
    public const string CaKeyFile = "ca.key";
    public const string NodeConfigFile = "node.conf";
    public const string NodeCertificateFile = "node.pfx";

    /// <summary>Validates the options (each error names its option) and lays the cluster out.</summary>
    /// <exception cref="InitUsageException">Bad input: exit code 2.</exception>
    public static InitPlan Create(string? hosts, string? names, string? store, string? outDir, string token, string? currentDirectory = null)
    {
        if (string.IsNullOrWhiteSpace(hosts)) throw new InitUsageException("--hosts: give the hosts' IPv4 addresses, comma-separated (e.g. --hosts 10.0.0.1,10.0.0.2,10.0.0.3)");
        var addresses = new List<IPAddress>();
        foreach (var part in Split(hosts))
        {
            var ip = ParseHostAddress(part, "--hosts");
            if (addresses.Contains(ip)) throw new InitUsageException($"--hosts: {part} is listed twice");
            addresses.Add(ip);
        }
        if (addresses.Count == 0) throw new InitUsageException("--hosts: no address given");

        string[] hostNames;
        if (names is null) hostNames = [.. Enumerable.Range(1, addresses.Count).Select(i => $"node-{i.ToString(CultureInfo.InvariantCulture)}")];
        else
        {
            hostNames = Split(names);
            if (hostNames.Length != addresses.Count)
                throw new InitUsageException($"--names: {hostNames.Length} name(s) for {addresses.Count} host(s) in --hosts; give one name per host, in the same order");
            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var n in hostNames)
            {
                CheckNodeName(n, "--names");
                if (!seen.Add(n)) throw new InitUsageException($"--names: '{n}' is listed twice");
            }
        }

        store = string.IsNullOrWhiteSpace(store) ? null : store.Trim();
        if (store is not null) CheckPostgres(store);
        if (addresses.Count > 1 && store is null)
            throw new InitUsageException(
                $"--store: a cluster of {addresses.Count} hosts needs a PostgreSQL store every host reaches (the embedded SQLite file cannot be shared between hosts: the configuration would fork); " +
                "pass --store \"Host=DB;Database=fabric;Username=fabric;Password=...\"");

        if (string.IsNullOrWhiteSpace(outDir)) throw new InitUsageException("--out: name the folder to write the cluster's files to");
        var dir = Path.GetFullPath(outDir, currentDirectory ?? Directory.GetCurrentDirectory());
        return new InitPlan([.. addresses.Select((a, i) => new InitHost(hostNames[i], a))], store, dir, token);
    }

    /// <summary>Refuses a store that is not a PostgreSQL connection string (an SQLite file cannot be shared between hosts).</summary>
    private static void CheckPostgres(string store)
    {
        var builder = new DbConnectionStringBuilder();
        try { builder.ConnectionString = store; }
        catch (ArgumentException e) { throw new InitUsageException($"--store: not a connection string ({e.Message})"); }
        bool Has(params string[] keys) => keys.Any(k => builder.TryGetValue(k, out var v) && !string.IsNullOrWhiteSpace(v?.ToString()));
        if (Has("Data Source", "DataSource", "Filename") || store.StartsWith("sqlite", StringComparison.OrdinalIgnoreCase))
            throw new InitUsageException("--store: that is an SQLite store, whose file cannot be shared between hosts; give a PostgreSQL connection string (Host=…;Database=…;Username=…;Password=…)");
        if (!Has("Host", "Server"))
            throw new InitUsageException("--store: a PostgreSQL connection string names its server (Host=…;Database=fabric;Username=fabric;Password=…)");
    }

    /// <summary>A host's IPv4 address as <paramref name="option"/> gives it, or a refusal naming the option.</summary>
    /// <exception cref="InitUsageException">Not an IPv4 address, or one no host can have.</exception>
    public static IPAddress ParseHostAddress(string text, string option)
    {
        if (!IPAddress.TryParse(text, out var ip) || ip.AddressFamily != AddressFamily.InterNetwork || text.Count(c => c == '.') != 3)
            throw new InitUsageException($"{option}: '{text}' is not an IPv4 address");
        if (ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.Broadcast))
            throw new InitUsageException($"{option}: {text} cannot be a host's address");
        return ip;
    }

    /// <summary>Refuses a node name that cannot be a folder, a certificate's DNS name and an Akka role.</summary>
    /// <exception cref="InitUsageException">Not a valid node name.</exception>
    public static void CheckNodeName(string name, string option)
    {
        if (!NamePattern().IsMatch(name) || name.Contains("..", StringComparison.Ordinal))
            throw new InitUsageException($"{option}: '{name}' is not a valid node name (letters, digits, '-' and '.', starting and ending with a letter or digit, at most 63 characters)");
    }

    private static string[] Split(string list)
        => list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    [GeneratedRegex("^[A-Za-z0-9]([A-Za-z0-9.-]{0,61}[A-Za-z0-9])?$")]
    private static partial Regex NamePattern();

    public string HostDir(InitHost host) => Path.Combine(OutDir, host.Name);

    /// <summary>
    /// A host's seed list: every OTHER host. A node never lists itself, so Akka's first-seed rule (the first seed
    /// joins itself when no other answers) can never make a restarted node, cut off from the rest, form a second
    /// cluster; the first start, and a start after every node died, form the cluster through the configuration lease in
    /// the store instead (fabric.cluster.reform in hocon/fabric.conf). A single host lists itself, and forms at once.
    /// </summary>
    public IReadOnlyList<string> SeedsOf(InitHost host)
        => Hosts.Count == 1 ? [host.AkkaAddress] : [.. Hosts.Where(h => h != host).Select(h => h.AkkaAddress)];

    /// <summary>The host's node.conf (read by <c>fabric node --config</c> on top of the shipped fabric.conf).</summary>
    public string NodeHocon(InitHost host)
    {
        string Q(string s) => FabricHocon.Quote(s);
        var port = ClusterPort.ToString(CultureInfo.InvariantCulture);
        var b = new StringBuilder();
        b.Append("# Written by `fabric init` for ").Append(host.Name).Append(" (").Append(host.Ip).Append(") of a cluster of ")
            .Append(Hosts.Count.ToString(CultureInfo.InvariantCulture)).Append(" host(s). On that host, with this folder copied there:\n")
            .Append("#   fabric node --config ").Append(host.Name).Append('/').Append(NodeConfigFile).Append('\n')
            .Append("# Beside it: ").Append(NodeCertificateFile).Append(" (this node's certificate and key: keep it secret) and ")
            .Append(CaCertificateFile).Append(" (the cluster CA). Relative paths are relative to this file.\n")
            .Append("# Ports: UDP ").Append(VtepPort.ToString(CultureInfo.InvariantCulture)).Append(" (VXLAN), TCP ").Append(port)
            .Append(" (cluster, mutual TLS), TCP ").Append(HttpsPort.ToString(CultureInfo.InvariantCulture)).Append(" (management API, HTTPS).\n");
        if (Store is not null) b.Append("include \"postgres.conf\"\n");
        b.Append("fabric {\n")
            .Append("  node-name = ").Append(Q(host.Name)).Append('\n')
            .Append("  vtep.address = ").Append(Q(host.Ip)).Append('\n')
            .Append("  vtep.port = ").Append(VtepPort.ToString(CultureInfo.InvariantCulture)).Append('\n')
            .Append("  http {\n")
            .Append("    address = ").Append(Q(host.Ip)).Append('\n')
            .Append("    port = ").Append(HttpsPort.ToString(CultureInfo.InvariantCulture)).Append('\n')
            .Append("    token = ").Append(Q(Token)).Append('\n')
            .Append("    certificate = ").Append(Q(NodeCertificateFile)).Append('\n')
            .Append("  }\n")
            .Append("  remote-tls {\n")
            .Append("    certificate = ").Append(Q(NodeCertificateFile)).Append('\n')
            .Append("    ca = ").Append(Q(CaCertificateFile)).Append('\n')
            .Append("  }\n");
        if (Store is not null) b.Append("  store.connection-string = ").Append(Q(Store)).Append('\n');
        // A single host on SQLite: its journal beside this file (fabric.data-dir is not relative to it, so absolute).
        else b.Append("  data-dir = ").Append(Q(Path.Combine(HostDir(host), "data"))).Append('\n');
        b.Append("}\n")
            .Append("akka.remote.dot-netty.tcp {\n")
            .Append("  hostname = ").Append(Q(host.Ip)).Append('\n')
            .Append("  port = ").Append(port).Append('\n')
            .Append("}\n")
            .Append("# Every other host (see `fabric init --help`): a node never lists itself, so a restart cannot form a second cluster.\n")
            .Append("akka.cluster.seed-nodes = [").Append(string.Join(", ", SeedsOf(host).Select(Q))).Append("]\n");
        return b.ToString();
    }

    /// <summary><c>DIR/cluster.json</c>: the token and every node's https:// URL (`fabric ctl --cluster` trusts DIR/ca.crt).</summary>
    public ClusterFile ToClusterFile()
        => new(Token, [.. Hosts.Select(h => new ClusterFileNode(h.Name, h.Ip, h.AkkaAddress, h.HttpUrl))]);
}
