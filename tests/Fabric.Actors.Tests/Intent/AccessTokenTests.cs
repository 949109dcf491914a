using Akka.Actor;
using Fabric.Actors.Cluster;
using Fabric.Actors.Intent;
using Fabric.Actors.Node;
using Fabric.Actors.Replication;
using Fabric.Actors.Tests.Support;

namespace Fabric.Actors.Tests.Intent;

/// <summary>
/// API tokens in the configuration: decided like any command, journaled as events that replay (and snapshot) to the
/// same tokens, and replicated to every node whatever networks it holds.
/// </summary>
public sealed class AccessTokenTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private static readonly DateTime T0 = new(2026, 12, 1, 12, 0, 0, DateTimeKind.Utc);

    private static string Digest(char c) => new(c, 64);

    private static FabricConfiguration Run(FabricConfiguration state, ConfigurationCommand c)
        => state.ApplyAll(Assert.IsType<Decision.Accept>(state.Decide(c)).Events);

    private static Rejection Refused(FabricConfiguration state, ConfigurationCommand c)
        => Assert.IsType<Decision.Reject>(state.Decide(c)).Rejection;

    [Fact]
    public void Tokens_are_created_with_a_scope_and_revoked_by_name_and_the_revoked_ones_are_kept_by_digest()
    {
        var s = Run(FabricConfiguration.Empty, new CreateToken("ci", "read", Digest('a'), T0));
        s = Run(s, new CreateToken("ops", "admin", Digest('b'), T0));
        Assert.Equal(TokenScope.Read, s.Tokens["ci"].Scope);
        Assert.Equal(TokenScope.Admin, s.Tokens["ops"].Scope);
        Assert.Equal(2, s.Tokens.Count); // several valid at once

        s = Run(s, new RevokeToken("ci", Digest('0'), T0.AddMinutes(1)));
        Assert.False(s.Tokens.ContainsKey("ci"));
        var revoked = s.RevokedTokens[Digest('a')];
        Assert.Equal(("ci", T0.AddMinutes(1)), (revoked.Name, revoked.Revoked));
        Assert.True(s.Tokens.ContainsKey("ops"));

        // Again: nothing to do (204); a name no token ever had: 404, not a silent success.
        Assert.Equal(Decision.Unchanged, s.Decide(new RevokeToken("ci", Digest('0'), T0)));
        Assert.Equal((404, "name"), (Refused(s, new RevokeToken("cj", Digest('0'), T0)).Status, Refused(s, new RevokeToken("cj", Digest('0'), T0)).Field));

        // The name may be used again (a new secret); the revoked secret may not.
        s = Run(s, new CreateToken("ci", "read", Digest('c'), T0));
        Assert.Equal(409, Refused(s, new CreateToken("other", "read", Digest('a'), T0)).Status);
    }

    [Theory]
    [InlineData(null, "read", "name", 400)]
    [InlineData("bad name", "read", "name", 400)]
    [InlineData("bootstrap", "admin", "name", 409)]
    [InlineData("ok", null, "scope", 400)]
    [InlineData("ok", "write", "scope", 400)]
    [InlineData("ok", "Admin", "scope", 400)]
    public void A_bad_create_names_the_field(string? name, string? scope, string field, int status)
    {
        var r = Refused(FabricConfiguration.Empty, new CreateToken(name, scope, Digest('a'), T0));
        Assert.Equal((status, field), (r.Status, r.Field));
    }

    [Fact]
    public void A_name_already_valid_and_a_malformed_digest_are_refused()
    {
        var s = Run(FabricConfiguration.Empty, new CreateToken("ci", "read", Digest('a'), T0));
        Assert.Equal(("name", 409), (Refused(s, new CreateToken("ci", "admin", Digest('b'), T0)).Field, 409));
        Assert.Equal("digest", Refused(s, new CreateToken("x", "read", "not-hex", T0)).Field);
        Assert.Equal("digest", Refused(s, new CreateToken("x", "read", Digest('A'), T0)).Field);
    }

    [Fact]
    public void Revoking_bootstrap_records_the_configured_digest_once()
    {
        var s = Run(FabricConfiguration.Empty, new RevokeToken(AccessTokens.Bootstrap, Digest('e'), T0));
        Assert.True(s.BootstrapRevoked);
        Assert.Equal(AccessTokens.Bootstrap, s.RevokedTokens[Digest('e')].Name);
        Assert.Equal(Decision.Unchanged, s.Decide(new RevokeToken(AccessTokens.Bootstrap, Digest('f'), T0)));
        Assert.Equal("name", Refused(FabricConfiguration.Empty, new RevokeToken(AccessTokens.Bootstrap, null, T0)).Field);
    }

    private static FabricConfiguration WithTokens(out List<ConfigurationEvent> journal)
    {
        var s = FabricConfiguration.Empty;
        journal = [];
        ConfigurationCommand[] commands =
        [
            new CreateToken("a", "read", Digest('a'), T0), new CreateToken("b", "admin", Digest('b'), T0.AddSeconds(1)),
            new CreateNetwork("n", 700, "l2", null), new RevokeToken("a", Digest('9'), T0.AddSeconds(2)),
            new CreateToken("a", "admin", Digest('c'), T0.AddSeconds(3)), new RevokeToken(AccessTokens.Bootstrap, Digest('d'), T0.AddSeconds(4)),
        ];
        foreach (var c in commands)
        {
            var events = Assert.IsType<Decision.Accept>(s.Decide(c)).Events;
            journal.AddRange(events);
            s = s.ApplyAll(events);
        }
        return s;
    }

    private static void SameTokens(FabricConfiguration expected, FabricConfiguration actual)
    {
        Assert.Equal(expected.Tokens.OrderBy(t => t.Key), actual.Tokens.OrderBy(t => t.Key));
        Assert.Equal(expected.RevokedTokens.OrderBy(t => t.Key), actual.RevokedTokens.OrderBy(t => t.Key));
    }

    [Fact]
    public void Replaying_the_journal_and_reading_a_snapshot_give_the_same_tokens()
    {
        var s = WithTokens(out var journal);
        Assert.Equal(2, s.Tokens.Count);
        Assert.Equal(2, s.RevokedTokens.Count);
        SameTokens(s, FabricConfiguration.Empty.ApplyAll(journal));
        SameTokens(s, ConfigurationSnapshot.Of(s).ToConfiguration());
        Assert.True(ConfigurationSnapshot.Of(s).ToConfiguration().BootstrapRevoked);
    }

    [Fact]
    public void A_node_holding_no_network_gets_every_token_event_in_its_snapshot_and_its_deltas()
    {
        var s = WithTokens(out _);
        var hub = new ReplicationHub(s, 6, "e1");
        var replica = new ReplicaState();
        foreach (var m in hub.Register("idle", [])) replica.Offer(m);
        Assert.Empty(hub.InterestOf("idle"));
        Assert.Empty(replica.State.Networks);
        SameTokens(s, replica.State);

        // A token created and one revoked later reach it as numbered deltas, though it holds no network.
        foreach (var c in new ConfigurationCommand[] { new CreateToken("late", "read", Digest('7'), T0), new RevokeToken("b", Digest('9'), T0) })
        {
            var before = s;
            var events = Assert.IsType<Decision.Accept>(s.Decide(c)).Events;
            s = s.ApplyAll(events);
            var sent = hub.Apply(before, s, events.ToArray(), 7);
            var (node, message) = Assert.Single(sent);
            Assert.Equal("idle", node);
            Assert.Equal(ReplicaOutcomeKind.Applied, replica.Offer(message).Kind);
        }
        SameTokens(s, replica.State);
        Assert.Null(replica.State.Tokens.GetValueOrDefault("b"));
    }

    [Fact]
    public void The_node_token_table_follows_the_replica_and_looks_tokens_up_by_digest()
    {
        var s = WithTokens(out _);
        var table = new TokenTable();
        Assert.False(table.Current.Loaded);
        table.Publish(s, 6);
        var t = table.Current;
        Assert.True(t.Loaded);
        Assert.Equal("b", t.FindValid(Digest('b'))!.Name);
        Assert.Equal("a", t.FindValid(Digest('c'))!.Name);
        Assert.Null(t.FindValid(Digest('a')));
        Assert.Equal("a", t.FindRevoked(Digest('a'))!.Name);
        Assert.True(t.BootstrapRevoked);
    }

    [Fact]
    public async Task Tokens_survive_a_restart_of_the_configuration_from_the_journal_and_from_a_snapshot()
    {
        foreach (var snapshotEvery in new[] { 0, 2 })
        {
            using var dir = new TempDir("tokens");
            var config = new NodeConfig { DataDir = dir.Path, NodeName = "n1", Extra = $"fabric.configuration.snapshot-every = {snapshotEvery}" };
            TokenList before;
            await using (var first = FabricNode.Start(config.Build()))
            {
                await first.WhenUp(Timeout);
                var configuration = first.System.ActorOf(ConfigurationActor.Props(first.Settings.ConfigurationPersistenceId), "configuration");
                foreach (var c in new ConfigurationCommand[]
                         {
                             new CreateToken("a", "read", Digest('a'), T0), new CreateToken("b", "admin", Digest('b'), T0),
                             new CreateNetwork("n", 700, "l2", null), new RevokeToken("a", Digest('9'), T0), new CreateToken("c", "read", Digest('c'), T0),
                         })
                    Assert.IsType<CommandAccepted>(await configuration.Ask<object>(c, Timeout));
                before = await configuration.Ask<TokenList>(ListTokens.Instance, Timeout);
            }
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();

            await using var second = FabricNode.Start(config.Build());
            await second.WhenUp(Timeout);
            var recovered = second.System.ActorOf(ConfigurationActor.Props(second.Settings.ConfigurationPersistenceId), "configuration");
            var after = await recovered.Ask<TokenList>(ListTokens.Instance, Timeout);
            Assert.Equal(["b", "c"], after.Valid.Select(t => t.Name));
            Assert.Equal(before.Valid, after.Valid);
            Assert.Equal(before.Revoked, after.Revoked);
            Assert.Equal("a", Assert.Single(after.Revoked).Name);
        }
    }
}
