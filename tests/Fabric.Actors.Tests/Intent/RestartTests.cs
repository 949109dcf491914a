using System.Text;
using Akka.Actor;
using Fabric.Actors.Cluster;
using Fabric.Actors.Intent;
using Fabric.Actors.Tests.Support;

namespace Fabric.Actors.Tests.Intent;

/// <summary>A node restarted on the same SQLite file lists exactly the configuration it had accepted.</summary>
public sealed class RestartTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_restarted_node_lists_the_same_configuration_byte_for_byte()
    {
        using var dir = new TempDir("restart");
        var revision = await RestartAndCompare(new NodeConfig { DataDir = dir.Path, NodeName = "n1" });
        Assert.Equal(revision, SqliteJournal.EventCount(dir.DbFile));
    }

    [Fact]
    public async Task A_restart_from_a_journal_snapshot_lists_the_same_configuration_and_replays_only_what_came_after()
    {
        using var dir = new TempDir("restart-snap");
        var config = new NodeConfig { DataDir = dir.Path, NodeName = "n1", Extra = "fabric.configuration.snapshot-every = 4" };
        var revision = await RestartAndCompare(config);

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        await using var third = FabricNode.Start(config.Build());
        await third.WhenUp(Timeout);
        var probe = new Akka.TestKit.Xunit2.TestKit(third.System);
        third.System.EventStream.Subscribe(probe.TestActor, typeof(ConfigurationRecovery));
        third.System.ActorOf(ConfigurationActor.Props(third.Settings.ConfigurationPersistenceId), "configuration");
        var recovery = probe.ExpectMsg<ConfigurationRecovery>(Timeout);
        Assert.Equal(revision, recovery.Revision);
        Assert.True(recovery.FromSnapshot > 0, "recovered without a snapshot");
        Assert.Equal(revision - recovery.FromSnapshot, recovery.ReplayedEvents);
        Assert.True(recovery.ReplayedEvents < 4 + 2, $"replayed {recovery.ReplayedEvents} events after the snapshot at {recovery.FromSnapshot}");
    }

    [PostgresFact]
    public async Task The_same_on_postgresql()
    {
        using var dir = new TempDir("restart-pg");
        // the database outlives test runs: a fresh persistence id keeps each run's journal apart
        await RestartAndCompare(new NodeConfig
        {
            DataDir = dir.Path,
            NodeName = "n1",
            Extra = $"""
                include "postgres.conf"
                fabric.store.connection-string = {Fabric.Actors.Configuration.FabricHocon.Quote(PostgresFactAttribute.ConnectionString!)}
                fabric.configuration.persistence-id = "fabric-configuration-test-{Guid.NewGuid():N}"
                """,
        });
    }

    /// <summary>Builds the rich configuration on one node, restarts on the same store, compares; returns the final revision.</summary>
    private static async Task<long> RestartAndCompare(NodeConfig config)
    {

        string before;
        long revision;
        await using (var first = FabricNode.Start(config.Build()))
        {
            await first.WhenUp(Timeout);
            var configuration = first.System.ActorOf(ConfigurationActor.Props(first.Settings.ConfigurationPersistenceId), "configuration");
            foreach (var command in RichConfiguration.Commands)
                Assert.IsType<CommandAccepted>(await configuration.Ask<object>(command, Timeout));
            // and some churn, so replay has deletes and re-creations to get right
            Assert.IsType<CommandAccepted>(await configuration.Ask<object>(new CreateEndpoint("tmp", "net-1", "n1", new("guest")), Timeout));
            Assert.IsType<CommandAccepted>(await configuration.Ask<object>(new DeleteEndpoint("ep-6"), Timeout));
            Assert.IsType<CommandAccepted>(await configuration.Ask<object>(new MoveEndpoint("ep-1", "n2"), Timeout));
            var listing = await configuration.Ask<ConfigurationListing>(GetConfiguration.Instance, Timeout);
            before = listing.ToCanonicalJson();
            revision = listing.Revision;
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();

        await using var second = FabricNode.Start(config.Build());
        await second.WhenUp(Timeout);
        var recovered = second.System.ActorOf(ConfigurationActor.Props(second.Settings.ConfigurationPersistenceId), "configuration");
        var after = await recovered.Ask<ConfigurationListing>(GetConfiguration.Instance, Timeout);

        Assert.Equal(Encoding.UTF8.GetBytes(before), Encoding.UTF8.GetBytes(after.ToCanonicalJson()));
        Assert.Equal(revision, after.Revision);

        // the counters came back too: the next ids continue where the first run stopped
        var network = await recovered.Ask<CommandAccepted>(new CreateNetwork("red", 6000, "l2", null), Timeout);
        Assert.Equal("net-5", Assert.IsType<NetworkCreated>(Assert.Single(network.Events)).Network.Id);
        var endpoint = await recovered.Ask<CommandAccepted>(new CreateEndpoint("web-9", "net-1", "n1", new("guest")), Timeout);
        var created = Assert.IsType<EndpointCreated>(Assert.Single(endpoint.Events)).Endpoint;
        Assert.Equal("ep-7", created.Id);
        Assert.Equal("02:fb:00:00:00:07", created.Mac.ToString());
        Assert.Equal(revision + 2, endpoint.Revision);
        return endpoint.Revision;
    }

    [Fact]
    public async Task A_prefix_written_with_the_ip_survives_a_restart()
    {
        // A TAP VM in an l2 network without cidr gets its prefix only from the ip it was created with: lost on replay,
        // the restarted node would plug it as a /32 with no route.
        using var dir = new TempDir("restart-prefix");
        var config = new NodeConfig { DataDir = dir.Path, NodeName = "n1" };
        await using (var first = FabricNode.Start(config.Build()))
        {
            await first.WhenUp(Timeout);
            var configuration = first.System.ActorOf(ConfigurationActor.Props(first.Settings.ConfigurationPersistenceId), "configuration");
            Assert.IsType<CommandAccepted>(await configuration.Ask<object>(new CreateNetwork("speed", 8008, "l2", null), Timeout));
            // placed on a node that does not run here, so no TAP device is made
            var created = Assert.IsType<CommandAccepted>(await configuration.Ask<object>(
                new CreateEndpoint("vm-1", "net-1", "n9", new("tap", "vm-1"), Ip: "192.168.88.1/24"), Timeout));
            Assert.Equal(24, Assert.IsType<EndpointCreated>(Assert.Single(created.Events)).Endpoint.PrefixLength);
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();

        await using var second = FabricNode.Start(config.Build());
        await second.WhenUp(Timeout);
        var recovered = second.System.ActorOf(ConfigurationActor.Props(second.Settings.ConfigurationPersistenceId), "configuration");
        var endpoint = Assert.Single((await recovered.Ask<ConfigurationListing>(GetConfiguration.Instance, Timeout)).Endpoints);
        Assert.Equal(("192.168.88.1", 24), (endpoint.Ip.ToString(), endpoint.PrefixLength));
    }

    [Fact]
    public void Replaying_the_events_gives_what_deciding_the_commands_gave()
    {
        var state = FabricConfiguration.Empty;
        var journal = new List<ConfigurationEvent>();
        foreach (var command in RichConfiguration.Commands)
        {
            var accept = Assert.IsType<Decision.Accept>(state.Decide(command));
            journal.AddRange(accept.Events);
            state = state.ApplyAll(accept.Events);
        }
        var replayed = FabricConfiguration.Empty.ApplyAll(journal);
        Assert.Equal(ConfigurationListing.Of(state, journal.Count).ToCanonicalJson(), ConfigurationListing.Of(replayed, journal.Count).ToCanonicalJson());
        Assert.Equal((state.NextNetwork, state.NextSubnet, state.NextEndpoint), (replayed.NextNetwork, replayed.NextSubnet, replayed.NextEndpoint));
    }
}
