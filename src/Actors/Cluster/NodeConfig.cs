using System.Net;
using System.Net.Sockets;
using Akka.Configuration;
using Fabric.Actors.Configuration;

namespace Fabric.Actors.Cluster;

/// <summary>
/// Builds a node's configuration from a few values, for launchers and tests: the shipped defaults plus
/// host, port, seeds, data folder and node name.
/// </summary>
public sealed record NodeConfig
{
    public string Hostname { get; init; } = "127.0.0.1";
    /// <summary>0: the OS picks one (fine for a node that only joins others; seeds need a known port).</summary>
    public int Port { get; init; }
    public IReadOnlyList<string> SeedNodes { get; init; } = [];
    public string? DataDir { get; init; }
    public string? NodeName { get; init; }
    /// <summary>Further HOCON, read last (wins over everything above).</summary>
    public string? Extra { get; init; }

    /// <summary>The Akka address a node of this config listens on (needs a fixed port).</summary>
    public string AkkaAddress => $"akka.tcp://{FabricNode.SystemName}@{Hostname}:{Port}";

    public string ToHocon()
    {
        var lines = new List<string>
        {
            $"akka.remote.dot-netty.tcp.hostname = {FabricHocon.Quote(Hostname)}",
            $"akka.remote.dot-netty.tcp.port = {Port}",
            $"akka.cluster.seed-nodes = [{string.Join(", ", SeedNodes.Select(FabricHocon.Quote))}]",
        };
        if (DataDir is not null) lines.Add($"fabric.data-dir = {FabricHocon.Quote(DataDir)}");
        if (NodeName is not null) lines.Add($"fabric.node-name = {FabricHocon.Quote(NodeName)}");
        if (Extra is not null) lines.Add(Extra);
        return string.Join('\n', lines);
    }

    /// <summary>fabric.conf with this node's settings on top.</summary>
    public Config Build(string? nodeConfigFile = null) => FabricHocon.Load(nodeConfigFile, ToHocon());

    /// <summary>A TCP port on 127.0.0.1 that was free a moment ago.</summary>
    public static int FreeTcpPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
