using System.Globalization;
using System.Security.Cryptography;
using Fabric.Actors.Cluster;
using Fabric.Actors.Configuration;

namespace Fabric.Nodes.Cli;

/// <summary>What <c>fabric up</c> was asked for.</summary>
public sealed record UpOptions(int Nodes, string DataDir, int BasePort, int VtepPort = UpOptions.DefaultVtepPort)
{
    /// <summary>Each node in a network namespace of its own, on a bridge, with addresses from <see cref="Underlay"/>.</summary>
    public bool Netns { get; init; }
    /// <summary>With <see cref="Netns"/>: the underlay CIDR (null: <see cref="DefaultUnderlay"/>).</summary>
    public string? Underlay { get; init; }
    /// <summary>HOCON added to every node's file, last (e.g. <c>include "postgres.conf"</c> and a connection string).</summary>
    public string? ExtraHocon { get; init; }
    public const string DefaultUnderlay = "10.250.0.0/24";

    public const int DefaultNodes = 3;
    public const string DefaultDataDir = "./fabric-data";
    public const int DefaultBasePort = 4050;
    public const int DefaultVtepPort = 4789;
    /// <summary>VTEP addresses are 127.0.0.1 … 127.0.0.N, so N stops at 254.</summary>
    public const int MaxNodes = 254;

    /// <summary>Every problem with the options, as sentences (empty: fine).</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (Nodes is < 1 or > MaxNodes) problems.Add($"--nodes must be between 1 and {MaxNodes} (VTEPs are 127.0.0.1 … 127.0.0.N), not {Nodes}");
        if (BasePort < 1024) problems.Add($"--base-port must be 1024 or more, not {BasePort}");
        else if (Nodes >= 1 && BasePort + 2 * Nodes - 1 > 65535)
            problems.Add($"--base-port {BasePort} leaves no room for {Nodes} nodes (each takes two TCP ports: akka, then http)");
        if (VtepPort is < 1 or > 65535) problems.Add($"--vtep-port must be between 1 and 65535, not {VtepPort}");
        if (string.IsNullOrWhiteSpace(DataDir)) problems.Add("--data must name a folder");
        if (Underlay is not null && !Netns) problems.Add("--underlay only applies with --netns");
        if (Netns)
        {
            if (!Cidr.TryParse(Underlay ?? DefaultUnderlay, out var cidr)) problems.Add($"--underlay '{Underlay}' is not an IPv4 CIDR like 10.250.0.0/24");
            else if (cidr.HostCount < Nodes + 1)
                problems.Add($"--underlay {cidr} has room for {cidr.HostCount} hosts: not enough for {Nodes} nodes and the bridge");
        }
        return problems;
    }
}

/// <summary>One node of a local cluster: its addresses, ports and files (and its network namespace with --netns).</summary>
public sealed record NodePlan(int Index, string Name, string VtepAddress, int VtepPort, string Host, int AkkaPort, int HttpPort, string ConfigFile, string LogFile,
    string? Namespace = null)
{
    public string AkkaAddress => $"akka.tcp://{FabricNode.SystemName}@{Host}:{AkkaPort}";
    public string HttpUrl => $"http://{Host}:{HttpPort}";
    /// <summary>As the API writes a VTEP: the address, with the port only when it is not 4789.</summary>
    public string Vtep => VtepPort == UpOptions.DefaultVtepPort ? VtepAddress : $"{VtepAddress}:{VtepPort}";
}

/// <summary>
/// The layout of a local cluster (pure: no files, no processes). Node i (1-based) is <c>node-i</c>, its VTEP is
/// 127.0.0.i on the VXLAN port, its Akka port is base + 2(i-1) and its HTTP port the one after; Akka and HTTP
/// listen on 127.0.0.1. node-1 is the seed every node lists (itself included, so it forms the cluster), and all
/// nodes share the data folder: the configuration singleton must find the same journal wherever it runs.
/// With --netns node i lives in namespace <c>fabric-node-i</c> and takes the underlay's i-th address for
/// everything (VTEP, Akka, HTTP), so it looks like a host of its own; the bridge takes the last host address.
/// </summary>
public sealed record UpPlan(string DataDir, string Token, IReadOnlyList<NodePlan> Nodes, Cidr? Underlay = null)
{
    /// <summary>HOCON appended to every node's file (from <c>--hocon FILE</c>).</summary>
    public string? ExtraHocon { get; init; }

    public const string Bridge = "fabric-br";

    public const string Host = "127.0.0.1";
    public const string ClusterFileName = "cluster.json";

    public string ClusterFile => Path.Combine(DataDir, ClusterFileName);
    public NodePlan Seed => Nodes[0];

    public static UpPlan Create(UpOptions options, string token, string? currentDirectory = null)
    {
        var problems = options.Validate();
        if (problems.Count > 0) throw new CliException(string.Join("; ", problems));
        var dir = Path.GetFullPath(options.DataDir, currentDirectory ?? Directory.GetCurrentDirectory());
        Cidr? underlay = options.Netns ? Cidr.Parse(options.Underlay ?? UpOptions.DefaultUnderlay) : null;
        var nodes = Enumerable.Range(1, options.Nodes).Select(i =>
        {
            var name = $"node-{i.ToString(CultureInfo.InvariantCulture)}";
            var akka = options.BasePort + 2 * (i - 1);
            var vtep = underlay is { } u ? u.Host(i) : $"127.0.0.{i.ToString(CultureInfo.InvariantCulture)}";
            return new NodePlan(i, name, vtep, options.VtepPort, underlay is null ? Host : vtep, akka, akka + 1,
                Path.Combine(dir, name + ".conf"), Path.Combine(dir, name + ".log"), underlay is null ? null : "fabric-" + name);
        }).ToArray();
        return new UpPlan(dir, token, nodes, underlay) { ExtraHocon = options.ExtraHocon };
    }

    /// <summary>With --netns: the bridge's address (the underlay's last host address).</summary>
    public string? BridgeAddress => Underlay?.Host(Underlay.Value.HostCount);

    /// <summary>A fresh bearer token: 32 random bytes, base64url.</summary>
    public static string NewToken()
        => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>
    /// The HOCON file of one node (read by <c>fabric node --config</c> on top of the shipped fabric.conf). With
    /// <paramref name="rejoin"/> (a restart while other nodes run) the node does not list itself as a seed: the
    /// first seed of a list joins itself when no other seed answers in time, and a restarted node-1 cut off by a
    /// partition would then form a second cluster (two configuration singletons on one journal). Without itself
    /// in the list it keeps trying the others until it gets back in, or, when no configuration writer has run for a
    /// while (every node died), forms the cluster through the store lease (<c>fabric.cluster.reform</c>).
    /// </summary>
    public string NodeHocon(NodePlan node, bool rejoin = false)
    {
        var cluster = new NodeConfig
        {
            Hostname = node.Host,
            Port = node.AkkaPort,
            // Every node is a seed, node-1 first. With node-1 alone listed, a restarted node-1 would join itself and
            // form a second cluster beside the running one; with all listed, the first seed asks the others first
            // and joins itself only when none of them is a member yet (the cluster's very first start).
            SeedNodes = [.. Nodes.Where(n => !rejoin || n != node).Select(n => n.AkkaAddress)],
            DataDir = DataDir,
            NodeName = node.Name,
            Extra = string.Join('\n',
                $"fabric.vtep.address = {FabricHocon.Quote(node.VtepAddress)}",
                $"fabric.vtep.port = {node.VtepPort.ToString(CultureInfo.InvariantCulture)}",
                $"fabric.http.address = {FabricHocon.Quote(node.Host)}",
                $"fabric.http.port = {node.HttpPort.ToString(CultureInfo.InvariantCulture)}",
                $"fabric.http.token = {FabricHocon.Quote(Token)}",
                // every node runs on this machine and shares the SQLite file (fabric node refuses otherwise with remote seeds)
                "fabric.store.single-machine = on",
                ExtraHocon is null ? "" : "# from --hocon\n" + ExtraHocon),
        };
        var run = node.Namespace is null ? "" : $"nsenter --net={Netns.PathOf(node.Namespace)} -- ";
        return $"# Written by `fabric up` for {node.Name} of {Nodes.Count}; `{run}fabric node --config {node.ConfigFile}` runs it.\n"
            + cluster.ToHocon() + "\n";
    }

    /// <summary>What <c>DIR/cluster.json</c> says once the cluster has formed.</summary>
    public ClusterFile ToClusterFile()
        => new(Token, Nodes.Select(n => new ClusterFileNode(n.Name, n.Vtep, n.AkkaAddress, n.HttpUrl)).ToArray());
}

/// <summary>An IPv4 prefix, e.g. 10.250.0.0/24 (host bits cleared).</summary>
public readonly record struct Cidr(uint Network, int PrefixLength)
{
    public uint Size => PrefixLength == 0 ? uint.MaxValue : 1u << (32 - PrefixLength);
    /// <summary>Usable host addresses (network and broadcast excluded).</summary>
    public int HostCount => PrefixLength >= 31 ? 0 : (int)Math.Min(int.MaxValue, Size - 2);

    /// <summary>The i-th host address (1-based).</summary>
    public string Host(int i) => Format(Network + (uint)i);

    public override string ToString() => $"{Format(Network)}/{PrefixLength.ToString(CultureInfo.InvariantCulture)}";

    public static Cidr Parse(string text) => TryParse(text, out var c) ? c : throw new CliException($"'{text}' is not an IPv4 CIDR");

    public static bool TryParse(string text, out Cidr cidr)
    {
        cidr = default;
        var slash = text.IndexOf('/');
        if (slash < 0 || !System.Net.IPAddress.TryParse(text[..slash], out var ip) || ip.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork
            || !int.TryParse(text[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var prefix) || prefix > 32)
            return false;
        var b = ip.GetAddressBytes();
        var value = (uint)b[0] << 24 | (uint)b[1] << 16 | (uint)b[2] << 8 | b[3];
        var mask = prefix == 0 ? 0u : uint.MaxValue << (32 - prefix);
        cidr = new Cidr(value & mask, prefix);
        return true;
    }

    private static string Format(uint v) => $"{v >> 24}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}";
}
