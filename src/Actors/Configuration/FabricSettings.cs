using Akka.Configuration;
using Fabric.Dataplane.Packets;

namespace Fabric.Actors.Configuration;

/// <summary>The <c>fabric { ... }</c> section of a node's configuration, typed.</summary>
public sealed record FabricSettings(
    string DataDir,
    string NodeName,
    Ipv4Address VtepAddress,
    int VtepPort,
    string ConfigurationPersistenceId,
    string StoreProviderName,
    string StoreConnectionString)
{
    public static FabricSettings From(Config config)
    {
        var f = config.GetConfig("fabric") ?? throw new ConfigurationException("the configuration has no 'fabric' section");
        var vtep = f.GetString("vtep.address", "127.0.0.1");
        if (!Ipv4Address.TryParse(vtep, out var vtepAddress))
            throw new ConfigurationException($"fabric.vtep.address '{vtep}' is not an IPv4 address");
        var port = f.GetInt("vtep.port", 4789);
        if (port is < 1 or > 65535) throw new ConfigurationException($"fabric.vtep.port {port} is outside 1..65535");
        return new FabricSettings(
            f.GetString("data-dir", "./fabric-data"),
            f.GetString("node-name", ""),
            vtepAddress,
            port,
            f.GetString("configuration.persistence-id", "fabric-configuration"),
            f.GetString("store.provider-name", ""),
            f.GetString("store.connection-string", ""));
    }

    public bool UsesSqlite => StoreProviderName.StartsWith("SQLite", StringComparison.OrdinalIgnoreCase);
}
