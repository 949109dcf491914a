using System.Globalization;
using System.Security.Cryptography;
using Fabric.Actors.Cluster;
using Fabric.Actors.Configuration;

namespace Fabric.Nodes.Cli;

/// <summary>What <c>fabric up</c> was asked for.</summary>
public sealed record UpOptions(int Nodes, string DataDir, int BasePort, int VtepPort = UpOptions.DefaultVtepPort)
{
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
        return problems;
    }
}

/// <summary>One node of a local cluster: its addresses, ports and files.</summary>
public sealed record NodePlan(int Index, string Name, string VtepAddress, int VtepPort, string Host, int AkkaPort, int HttpPort, string ConfigFile, string LogFile)
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
/// </summary>
public sealed record UpPlan(string DataDir, string Token, IReadOnlyList<NodePlan> Nodes)
{
    public const string Host = "127.0.0.1";
    public const string ClusterFileName = "cluster.json";

    public string ClusterFile => Path.Combine(DataDir, ClusterFileName);
    public NodePlan Seed => Nodes[0];

    public static UpPlan Create(UpOptions options, string token, string? currentDirectory = null)
    {
        var problems = options.Validate();
        if (problems.Count > 0) throw new CliException(string.Join("; ", problems));
        var dir = Path.GetFullPath(options.DataDir, currentDirectory ?? Directory.GetCurrentDirectory());
        var nodes = Enumerable.Range(1, options.Nodes).Select(i =>
        {
            var name = $"node-{i.ToString(CultureInfo.InvariantCulture)}";
            var akka = options.BasePort + 2 * (i - 1);
            return new NodePlan(i, name, $"127.0.0.{i.ToString(CultureInfo.InvariantCulture)}", options.VtepPort, Host, akka, akka + 1,
                Path.Combine(dir, name + ".conf"), Path.Combine(dir, name + ".log"));
        }).ToArray();
        return new UpPlan(dir, token, nodes);
    }

    /// <summary>A fresh bearer token: 32 random bytes, base64url.</summary>
    public static string NewToken()
        => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>The HOCON file of one node (read by <c>fabric node --config</c> on top of the shipped fabric.conf).</summary>
    public string NodeHocon(NodePlan node)
    {
        var cluster = new NodeConfig
        {
            Hostname = node.Host,
            Port = node.AkkaPort,
            SeedNodes = [Seed.AkkaAddress],
            DataDir = DataDir,
            NodeName = node.Name,
            Extra = string.Join('\n',
                $"fabric.vtep.address = {FabricHocon.Quote(node.VtepAddress)}",
                $"fabric.vtep.port = {node.VtepPort.ToString(CultureInfo.InvariantCulture)}",
                $"fabric.http.address = {FabricHocon.Quote(node.Host)}",
                $"fabric.http.port = {node.HttpPort.ToString(CultureInfo.InvariantCulture)}",
                $"fabric.http.token = {FabricHocon.Quote(Token)}"),
        };
        return $"# Written by `fabric up` for {node.Name} of {Nodes.Count}; `fabric node --config {node.ConfigFile}` runs it.\n"
            + cluster.ToHocon() + "\n";
    }

    /// <summary>What <c>DIR/cluster.json</c> says once the cluster has formed.</summary>
    public ClusterFile ToClusterFile()
        => new(Token, Nodes.Select(n => new ClusterFileNode(n.Name, n.Vtep, n.AkkaAddress, n.HttpUrl)).ToArray());
}
