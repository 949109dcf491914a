using Akka.Actor;
using Akka.Coordination;
using Fabric.Actors.Cluster;
using Fabric.Actors.Tests.Support;
using Microsoft.Data.Sqlite;

namespace Fabric.Actors.Tests.Cluster;

/// <summary>
/// The configuration lease in the SQLite store: one holder at a time, taken over only after expiry, a reforming node
/// only after the lease has been idle, loss noticed on the next renewal, and no writes vouched for while the store
/// cannot be reached. Short timeouts (2 s, renewed every 0.2 s) keep it quick.
/// </summary>
[Collection(nameof(ClusterTiming))]
public sealed class StoreLeaseTests : IDisposable
{
    private const string Name = "fabric-singleton-akka://fabric/user/configuration";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);
    private readonly TempDir _dir = new("lease");
    private readonly ActorSystem _system;

    public StoreLeaseTests()
    {
        _system = ActorSystem.Create("fabric", TestConfigs.LocalWithSqlite(_dir.Path, """
            fabric.configuration.lease { heartbeat-timeout = 2s, heartbeat-interval = 200ms, lease-operation-timeout = 1s }
            """));
    }

    private StoreLease Lease(string owner) => (StoreLease)LeaseProvider.Get(_system).GetLease(Name, ConfigurationLease.ConfigPath, owner);

    [Fact]
    public async Task One_holder_at_a_time_and_a_reforming_node_waits_until_nobody_has_held_it_for_its_idle_time()
    {
        var a = Lease("10.0.0.1:4050");
        var b = Lease("10.0.0.2:4052");
        Assert.True(await a.Acquire());
        Assert.True(a.CheckLease());
        Assert.False(await b.Acquire());
        Assert.False(await b.AcquireIfIdle(TimeSpan.Zero));
        await Task.Delay(Timeout + TimeSpan.FromSeconds(0.5)); // renewed meanwhile: still a's
        Assert.False(await b.Acquire());
        Assert.True(a.CheckLease());

        Assert.True(await a.Release());
        Assert.False(a.CheckLease());
        Assert.False(await b.AcquireIfIdle(TimeSpan.FromSeconds(1))); // released just now: not idle for 1 s yet
        await Task.Delay(TimeSpan.FromSeconds(1.2));
        Assert.True(await b.AcquireIfIdle(TimeSpan.FromSeconds(1)));
        Assert.True(b.Generation > 1);
    }

    [Fact]
    public async Task A_dead_holders_lease_is_taken_only_after_it_expired_and_the_holder_hears_it_lost_it_on_its_next_renewal()
    {
        var a = Lease("10.0.0.1:4050");
        var lost = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        Assert.True(await a.Acquire(e => lost.TrySetResult(e)));
        var generation = a.Generation;

        // Someone else's now (as if a's process had stalled past expiry and another took it): a hears it next renewal.
        Execute($"UPDATE {StoreLease.Table} SET owner = 'other', generation = generation + 1");
        var reason = await lost.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Contains("no longer held", reason.Message, StringComparison.Ordinal);
        Assert.False(a.CheckLease());

        // A holder that dies keeps the lease until it expires; a plain acquirer may take it then, a reformer idle-for later.
        Execute($"UPDATE {StoreLease.Table} SET owner = '10.0.0.9:4060', expires = {DateTimeOffset.UtcNow.Add(Timeout).ToUnixTimeMilliseconds()}");
        var b = Lease("10.0.0.2:4052");
        var c = Lease("10.0.0.3:4054");
        Assert.False(await b.Acquire());
        await Task.Delay(Timeout + TimeSpan.FromSeconds(0.3));
        Assert.False(await c.AcquireIfIdle(TimeSpan.FromSeconds(1)));
        Assert.True(await b.Acquire());
        Assert.NotEqual(generation, b.Generation);
    }

    [Fact]
    public async Task While_the_store_cannot_be_reached_the_holder_vouches_for_no_write_but_keeps_the_lease_and_renews_it_when_it_returns()
    {
        var a = Lease("10.0.0.1:4050");
        var lost = false;
        Assert.True(await a.Acquire(_ => lost = true));

        using (var blocker = new SqliteConnection($"Data Source={_dir.DbFile}"))
        {
            blocker.Open();
            using (var begin = blocker.CreateCommand())
            {
                begin.CommandText = "BEGIN EXCLUSIVE";
                begin.ExecuteNonQuery();
            }
            await Task.Delay(Timeout / 2 + TimeSpan.FromSeconds(1.5)); // renewals time out behind the lock
            Assert.False(a.CheckLease());
            Assert.False(lost);
            using var rollback = blocker.CreateCommand();
            rollback.CommandText = "ROLLBACK";
            rollback.ExecuteNonQuery();
        }
        var back = System.Diagnostics.Stopwatch.StartNew();
        while (!a.CheckLease() && back.Elapsed < TimeSpan.FromSeconds(5)) await Task.Delay(50);
        Assert.True(a.CheckLease(), "not renewed after the store came back");
        Assert.False(lost);
    }

    private void Execute(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={_dir.DbFile}");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        Assert.Equal(1, command.ExecuteNonQuery());
    }

    public void Dispose()
    {
        _system.Terminate().Wait(TimeSpan.FromSeconds(10));
        _dir.Dispose();
    }
}
