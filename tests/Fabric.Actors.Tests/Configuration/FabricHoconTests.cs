using Fabric.Actors.Cluster;
using Fabric.Actors.Configuration;

namespace Fabric.Actors.Tests.Configuration;

public sealed class FabricHoconTests
{
    [Fact]
    public void The_shipped_defaults()
    {
        var c = FabricHocon.Load();
        Assert.Equal("cluster", c.GetString("akka.actor.provider"));
        Assert.Equal("127.0.0.1", c.GetString("akka.remote.dot-netty.tcp.hostname"));
        Assert.Equal(0, c.GetInt("akka.remote.dot-netty.tcp.port"));
        Assert.Equal("Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster", c.GetString("akka.cluster.downing-provider-class"));
        Assert.Equal("keep-majority", c.GetString("akka.cluster.split-brain-resolver.active-strategy"));
        Assert.Equal("WARNING", c.GetString("akka.loglevel"));
        Assert.Equal("akka.persistence.journal.sql", c.GetString("akka.persistence.journal.plugin"));
        Assert.Equal("akka.persistence.snapshot-store.sql", c.GetString("akka.persistence.snapshot-store.plugin"));
        Assert.Equal("SQLite.MS", c.GetString("akka.persistence.journal.sql.provider-name"));
        Assert.Equal("SQLite.MS", c.GetString("akka.persistence.snapshot-store.sql.provider-name"));
        Assert.Equal("Data Source=./fabric-data/fabric.db", c.GetString("akka.persistence.journal.sql.connection-string"));
        Assert.True(c.GetBoolean("akka.persistence.journal.sql.auto-initialize"));
        Assert.Equal("fabric-hyperion", c.GetString("akka.actor.serialization-bindings.\"Fabric.Actors.IFabricMessage, Fabric.Actors\""));
    }

    [Fact]
    public void The_crash_budget_fits_in_ten_seconds()
    {
        // detection (pause + interval + ~0.6 s phi margin) + one gossip round + stable-after + two leader ticks
        var c = FabricHocon.Load();
        var budget = c.GetTimeSpan("akka.cluster.failure-detector.acceptable-heartbeat-pause")
                     + c.GetTimeSpan("akka.cluster.failure-detector.heartbeat-interval")
                     + TimeSpan.FromMilliseconds(600)
                     + c.GetTimeSpan("akka.cluster.gossip-interval", TimeSpan.FromSeconds(1))
                     + c.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after")
                     + 2 * c.GetTimeSpan("akka.cluster.leader-actions-interval", TimeSpan.FromSeconds(1));
        Assert.True(budget < TimeSpan.FromSeconds(10), $"worst case {budget}");
    }

    /// <summary>
    /// Issue 10: the cluster's actors (heartbeat timer, failure detector, gossip, resolver) run on a thread of their own,
    /// not on the thread pool the control plane shares. Akka looks a dispatcher id up as a path from the root, so a dispatcher defined inside
    /// the akka block under a short name is "not configured" and the node dies at start.
    /// </summary>
    [Fact]
    public void The_cluster_runs_on_a_dedicated_thread_and_the_dispatcher_it_names_exists()
    {
        var c = FabricHocon.Load();
        var cluster = c.GetString("akka.cluster.use-dispatcher");
        Assert.False(string.IsNullOrEmpty(cluster), "akka.cluster.use-dispatcher is empty: the cluster runs on the internal dispatcher (the thread pool)");
        Assert.True(c.HasPath(cluster), $"akka.cluster.use-dispatcher names {cluster}, which is not configured");
        Assert.Equal("ForkJoinDispatcher", c.GetString($"{cluster}.type"));
        Assert.True(c.GetInt($"{cluster}.dedicated-thread-pool.thread-count") >= 1);
    }

    [Fact]
    public void A_bulk_write_of_ten_thousand_endpoints_fits_in_one_frame()
    {
        // ~1.5 MB as a command, ~2 MB as an answer (docs/scale.md); Akka's default frame is 128,000 bytes.
        var c = FabricHocon.Load();
        var frame = c.GetByteSize("akka.remote.dot-netty.tcp.maximum-frame-size");
        Assert.True(frame >= 4 * 1024 * 1024, $"maximum-frame-size {frame}");
        Assert.True(c.GetByteSize("akka.remote.dot-netty.tcp.send-buffer-size") >= frame);
        Assert.True(c.GetByteSize("akka.remote.dot-netty.tcp.receive-buffer-size") >= frame);
    }

    [Fact]
    public void A_node_file_is_read_as_the_continuation_of_the_defaults()
    {
        using var dir = new Support.TempDir("hocon");
        var file = Path.Combine(dir.Path, "node.conf");
        File.WriteAllText(file, """
            fabric.data-dir = "/var/lib/fabric"
            fabric.node-name = "n7"
            fabric.vtep.address = "10.250.0.7"
            """);
        var c = FabricHocon.Load(file);
        Assert.Equal("Data Source=/var/lib/fabric/fabric.db", c.GetString("akka.persistence.journal.sql.connection-string"));
        Assert.Equal("Data Source=/var/lib/fabric/fabric.db", c.GetString("akka.persistence.snapshot-store.sql.connection-string"));
        var settings = FabricSettings.From(c);
        Assert.Equal(("n7", "10.250.0.7", 4789), (settings.NodeName, settings.VtepAddress.ToString(), settings.VtepPort));
    }

    [Fact]
    public void Including_postgres_conf_switches_journal_and_snapshots_to_postgresql()
    {
        var c = FabricHocon.Load(overrides: """
            include "postgres.conf"
            fabric.store.connection-string = "Host=db;Database=fabric;Username=fabric"
            """);
        foreach (var plugin in new[] { "akka.persistence.journal.sql", "akka.persistence.snapshot-store.sql" })
        {
            Assert.Equal("PostgreSQL.15", c.GetString($"{plugin}.provider-name"));
            Assert.Equal("Host=db;Database=fabric;Username=fabric", c.GetString($"{plugin}.connection-string"));
        }
        Assert.False(FabricSettings.From(c).UsesSqlite);
    }

    [Fact]
    public void An_include_next_to_the_node_file_wins_over_a_shipped_one()
    {
        using var dir = new Support.TempDir("hocon");
        File.WriteAllText(Path.Combine(dir.Path, "extra.conf"), "fabric.node-name = \"from-include\"");
        var file = Path.Combine(dir.Path, "node.conf");
        File.WriteAllText(file, "include \"extra.conf\"");
        Assert.Equal("from-include", FabricHocon.Load(file).GetString("fabric.node-name"));
        Assert.ThrowsAny<Exception>(() => FabricHocon.Load(overrides: "include \"missing.conf\""));
    }

    [Fact]
    public void Node_config_sets_seeds_port_and_folders()
    {
        var port = NodeConfig.FreeTcpPort();
        var seed = new NodeConfig { Port = port, DataDir = "/tmp/x", NodeName = "n1" };
        var joiner = new NodeConfig { SeedNodes = [seed.AkkaAddress], NodeName = "n2" };
        var c = joiner.Build();
        Assert.Equal([$"akka.tcp://fabric@127.0.0.1:{port}"], c.GetStringList("akka.cluster.seed-nodes"));
        Assert.Equal("n2", c.GetString("fabric.node-name"));
        Assert.Equal("Data Source=/tmp/x/fabric.db", seed.Build().GetString("akka.persistence.journal.sql.connection-string"));
    }
}
