using Akka.Actor;
using Akka.TestKit.Xunit2;
using Fabric.Actors.Configuration;
using Fabric.Actors.Intent;
using Fabric.Actors.Tests.Support;
using Microsoft.Data.Sqlite;
using Fabric.Tests.Shared;

namespace Fabric.Actors.Tests.Intent;

/// <summary>A command is acknowledged only once its event is durable; a failed write is never acknowledged.</summary>
public sealed class GatedJournalDurabilityTests() : TestKit(TestConfigs.LocalWithGatedJournal(), $"gated-{Guid.NewGuid():N}")
{
    private GatedJournal.Gate Gate => GatedJournal.For(Sys.Name);

    [Fact]
    public void The_reply_waits_for_the_journal_write_and_so_do_reads()
    {
        var configuration = Sys.ActorOf(ConfigurationActor.Props());
        Gate.Close();

        configuration.Tell(new CreateNetwork("blue", 5001, "l3", "10.0.0.0/16"), TestActor);
        configuration.Tell(GetConfiguration.Instance, TestActor);
        ExpectNoMsg(TimeSpan.FromMilliseconds(400)); // neither the ack nor a read that would show the unwritten network
        Assert.Equal(0, Volatile.Read(ref Gate.WritesCompleted));

        Gate.Open();
        var accepted = ExpectMsg<CommandAccepted>();
        Assert.Equal(1, Volatile.Read(ref Gate.WritesCompleted));
        Assert.Equal(1, accepted.Revision);
        Assert.Equal("net-1", Assert.IsType<NetworkCreated>(Assert.Single(accepted.Events)).Network.Id);
        var listing = ExpectMsg<ConfigurationListing>();
        Assert.Equal(1, listing.Revision);
    }

    [Fact]
    public void A_failed_write_replies_failure_and_the_configuration_is_unchanged()
    {
        var configuration = Sys.ActorOf(ConfigurationActor.PropsWithBackoff(minBackoff: TimeSpan.FromMilliseconds(50)));
        configuration.Tell(new CreateNetwork("blue", 5001, "l3", "10.0.0.0/16"), TestActor);
        ExpectMsg<CommandAccepted>(TimeSpan.FromSeconds(10));
        configuration.Tell(GetConfiguration.Instance, TestActor);
        var before = ExpectMsg<ConfigurationListing>(TimeSpan.FromSeconds(10)).ToCanonicalJson();

        Gate.FailWrites = true;
        configuration.Tell(new CreateNetwork("red", 5002, "l2", null), TestActor);
        var failed = ExpectMsg<CommandFailed>(TimeSpan.FromSeconds(10));
        Assert.Contains("injected journal failure", failed.Detail);
        Gate.FailWrites = false;

        // The actor stopped (its state may not match the journal); the supervisor starts it again and it recovers.
        AwaitAssert(() => Assert.Equal(before, GatedJournalDurabilityTests.ListingOf(configuration)), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(100));

        // Nothing of the failed command was kept, not even the id it would have used.
        configuration.Tell(new CreateNetwork("red", 5002, "l2", null), TestActor);
        Assert.Equal("net-2", Assert.IsType<NetworkCreated>(Assert.Single(ExpectMsg<CommandAccepted>(TimeSpan.FromSeconds(10)).Events)).Network.Id);
    }
    /// <summary>Asks on a fresh temporary actor, so a late answer cannot be mistaken for the next reply to TestActor.</summary>
    internal static string ListingOf(IActorRef configuration)
        => configuration.Ask<ConfigurationListing>(GetConfiguration.Instance, TimeSpan.FromMilliseconds(500)).Result.ToCanonicalJson();
}


/// <summary>The same promises against the real SQLite store, made slow and then failing by a lock held from outside.</summary>
public sealed class SqliteDurabilityTests : TestKit, IDisposable
{
    private readonly TempDir _dir;

    public SqliteDurabilityTests() : this(new TempDir("durable")) { }

    private SqliteDurabilityTests(TempDir dir)
        : base(TestConfigs.LocalWithSqlite(dir.Path,
            // a busy database fails a write after 3 s instead of SQLite's default 30 s: long enough that the first
            // phase's short lock never outlasts it on a stalled CI machine (at 1 s it once did), short for the second
            $"fabric.store.connection-string = {FabricHocon.Quote($"Data Source={dir.DbFile};Default Timeout=3")}"))
        => _dir = dir;

    [Fact]
    public void The_reply_waits_for_sqlite_and_a_write_sqlite_refuses_is_not_acknowledged()
    {
        var configuration = Sys.ActorOf(ConfigurationActor.PropsWithBackoff(minBackoff: TimeSpan.FromMilliseconds(50)));
        configuration.Tell(new CreateNetwork("blue", 5001, "l3", "10.0.0.0/16"), TestActor);
        ExpectMsg<CommandAccepted>(TimeSpan.FromSeconds(20)); // first write also creates the tables
        configuration.Tell(GetConfiguration.Instance, TestActor);
        var before = ExpectMsg<ConfigurationListing>().ToCanonicalJson();

        // 1. the database is locked for a moment: the acknowledgement comes only after the lock is gone
        using (var locker = LockDatabase())
        {
            configuration.Tell(new CreateNetwork("green", 5002, "l2", null), TestActor);
            ExpectNoMsg(TimeSpan.FromMilliseconds(400));
            Assert.Equal(1, SqliteJournal.EventCountWhileLocked(locker));
        }
        ExpectMsg<CommandAccepted>(TimeSpan.FromSeconds(5));
        Assert.Equal(2, SqliteJournal.EventCount(_dir.DbFile));

        configuration.Tell(GetConfiguration.Instance, TestActor);
        before = ExpectMsg<ConfigurationListing>().ToCanonicalJson();

        // 2. the lock outlasts the write timeout: the write fails, the caller hears so, nothing changed
        using (LockDatabase())
        {
            configuration.Tell(new CreateNetwork("red", 5003, "l2", null), TestActor);
            var failed = ExpectMsg<CommandFailed>(TimeSpan.FromSeconds(15));
            Assert.Contains("did not take the change", failed.Detail);
        }
        Assert.Equal(2, SqliteJournal.EventCount(_dir.DbFile));
        AwaitAssert(() => Assert.Equal(before, GatedJournalDurabilityTests.ListingOf(configuration)), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(100));
    }

    /// <summary>An exclusive transaction on the journal's file from a second connection: every other writer waits.</summary>
    private SqliteConnection LockDatabase()
    {
        var connection = new SqliteConnection($"Data Source={_dir.DbFile};Pooling=False");
        connection.Open();
        using var begin = connection.CreateCommand();
        begin.CommandText = "BEGIN EXCLUSIVE";
        begin.ExecuteNonQuery();
        return connection;
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) _dir.Dispose();
    }
}
