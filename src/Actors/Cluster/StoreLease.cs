using System.Data.Common;
using System.Globalization;
using Akka.Actor;
using Akka.Coordination;
using Akka.Event;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Fabric.Actors.Cluster;

/// <summary>
/// An <see cref="Lease"/> (Akka.Coordination) kept in the configuration store itself: one row of table
/// <c>fabric_lease</c> in the same SQLite file or PostgreSQL database as the journal, so whoever may write the journal
/// is decided by the journal's own store. The configuration singleton takes it before it starts
/// (<c>fabric.configuration.lease</c>, see hocon/fabric.conf), and a restarting node that finds no cluster takes it
/// before it forms one (<see cref="ClusterReformActor"/>).
/// </summary>
/// <remarks>
/// The row holds the owner, when the lease expires (UTC milliseconds) and a generation that grows on every
/// acquisition. Every change is one conditional UPDATE, atomic in both stores: acquire only when the row is free,
/// expired or already ours; renew and release only while owner and generation are still ours. The holder renews
/// every <c>heartbeat-interval</c> to <c>now + heartbeat-timeout</c>. <see cref="CheckLease"/> is true only while the
/// last renewal is less than half the timeout old, well before anyone else may take the lease, and the singleton
/// checks it before every write (ConfigurationSupervisor): a holder cut off from the store writes nothing, and keeps
/// renewing. Only a renewal the store refuses (the row is someone else's, or a later generation) is a loss: the lost
/// callback stops the singleton. Expiry is
/// judged on each node's clock: nodes sharing a store are assumed to agree within a second (NTP), far below the
/// timeout. Owner names are host:port, so a node's singleton may take over its predecessor's lease at once (the same
/// address cannot be bound twice, so the predecessor is gone); <see cref="AcquireIfIdle"/> never does: a node
/// restarted behind a partition must not form a cluster with the lease its previous incarnation held.
/// </remarks>
public sealed class StoreLease : Lease, IDisposable
{
    public const string Table = "fabric_lease";

    private readonly string _providerName;
    private readonly string _connectionString;
    private readonly TimeSpan _timeout;
    private readonly TimeSpan _interval;
    private readonly TimeSpan _operationTimeout;
    private readonly ILoggingAdapter _log;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly object _sync = new();
    private bool _tableReady;
    // Guarded by _sync.
    private long? _generation;
    private DateTime _renewedAt;
    private Action<Exception>? _lost;
    private Timer? _heartbeat;

    public StoreLease(LeaseSettings settings, ActorSystem system) : base(settings)
    {
        var config = settings.LeaseConfig;
        var store = system.Settings.Config.GetConfig("fabric.store");
        _providerName = Setting(config.GetString("provider-name", ""), store?.GetString("provider-name", ""), "provider-name");
        _connectionString = Setting(config.GetString("connection-string", ""), store?.GetString("connection-string", ""), "connection-string");
        _timeout = settings.TimeoutSettings.HeartbeatTimeout;
        _interval = settings.TimeoutSettings.HeartbeatInterval;
        _operationTimeout = settings.TimeoutSettings.OperationTimeout;
        _log = Logging.GetLogger(system, typeof(StoreLease));
        if (_interval >= _timeout / 2)
            throw new ArgumentException($"lease {settings.LeaseName}: heartbeat-interval {_interval} must be below half of heartbeat-timeout {_timeout}");
        // The heartbeat is a plain timer, not the system's scheduler: it would outlive a terminated ActorSystem and keep
        // renewing for a node that is gone (in-process crash tests, or a host embedding the system). A terminated
        // system abandons the lease as a dead process does; a graceful leave has released it through the singleton.
        system.WhenTerminated.ContinueWith(_ => Abandon(), TaskContinuationOptions.ExecuteSynchronously);
    }

    private void Abandon()
    {
        lock (_sync)
        {
            _generation = null;
            _lost = null;
            _heartbeat?.Dispose();
            _heartbeat = null;
        }
    }

    private static string Setting(string own, string? store, string name)
        => !string.IsNullOrEmpty(own) ? own : !string.IsNullOrEmpty(store) ? store : throw new ArgumentException($"the store lease needs {name} (or fabric.store.{name})");

    /// <summary>The generation this instance holds (a fencing token), or null.</summary>
    public long? Generation { get { lock (_sync) return _generation; } }

    public override bool CheckLease()
    {
        lock (_sync) return _generation is not null && DateTime.UtcNow - _renewedAt < _timeout / 2;
    }

    public override Task<bool> Acquire() => Acquire(null!);

    public override Task<bool> Acquire(Action<Exception> leaseLostCallback) => AcquireAsync(leaseLostCallback, idleFor: null);

    /// <summary>
    /// Takes the lease only if it is ours already or nobody has held it for <paramref name="idleFor"/>: no configuration
    /// writer has run anywhere for that long. What a node that finds no cluster asks before it forms one.
    /// </summary>
    public Task<bool> AcquireIfIdle(TimeSpan idleFor) => AcquireAsync(null, idleFor);

    private async Task<bool> AcquireAsync(Action<Exception>? lost, TimeSpan? idleFor)
    {
        lock (_sync)
        {
            if (_generation is not null && DateTime.UtcNow - _renewedAt < _timeout / 2)
            {
                if (lost is not null) _lost = lost; // already ours (the reformer took it; now the singleton does)
                return true;
            }
        }
        var now = DateTime.UtcNow;
        var freeBefore = Millis(now - (idleFor ?? TimeSpan.Zero));
        // Free: released or expired; or ours (a predecessor at our address: gone, or it could not have bound it). With
        // idleFor only expired that long ago, whoever held it: a running cluster's oldest retries every retry-interval,
        // so it always wins a lease freed under it against a node that would form a cluster of its own.
        var taken = await RunAsync(async (connection, ct) =>
        {
            await using var update = Command(connection,
                $"UPDATE {Table} SET owner = @owner, expires = @expires, generation = generation + 1 " +
                $"WHERE name = @name AND ({(idleFor is null ? "owner = @owner OR owner = '' OR " : "")}expires < @free)",
                ("owner", Settings.OwnerName), ("expires", Millis(now + _timeout)), ("name", Settings.LeaseName), ("free", freeBefore));
            if (await update.ExecuteNonQueryAsync(ct) != 1) return (long?)null;
            await using var select = Command(connection, $"SELECT generation FROM {Table} WHERE name = @name AND owner = @owner",
                ("name", Settings.LeaseName), ("owner", Settings.OwnerName));
            return Convert.ToInt64(await select.ExecuteScalarAsync(ct), CultureInfo.InvariantCulture);
        });
        if (taken is not { } generation) return false;
        lock (_sync)
        {
            _generation = generation;
            _renewedAt = now;
            if (lost is not null) _lost = lost;
            _heartbeat ??= new Timer(_ => _ = RenewAsync(), null, _interval, _interval);
        }
        _log.Info("Lease {0} taken by {1} (generation {2})", Settings.LeaseName, Settings.OwnerName, generation);
        return true;
    }

    public override async Task<bool> Release()
    {
        long? generation;
        lock (_sync)
        {
            generation = _generation;
            _generation = null;
            _lost = null;
            _heartbeat?.Dispose();
            _heartbeat = null;
        }
        if (generation is null) return true;
        // Released rows expire now: a reforming node waits its idle time from here.
        var released = await RunAsync(async (connection, ct) =>
        {
            await using var update = Command(connection, $"UPDATE {Table} SET owner = '', expires = @now WHERE name = @name AND owner = @owner AND generation = @generation",
                ("now", Millis(DateTime.UtcNow)), ("name", Settings.LeaseName), ("owner", Settings.OwnerName), ("generation", generation.Value));
            return await update.ExecuteNonQueryAsync(ct) == 1;
        });
        _log.Info("Lease {0} released by {1} (generation {2}): {3}", Settings.LeaseName, Settings.OwnerName, generation, released);
        return released;
    }

    private async Task RenewAsync()
    {
        long generation;
        lock (_sync)
        {
            if (_generation is not { } g) return;
            generation = g;
        }
        var now = DateTime.UtcNow;
        Exception? failure = null;
        bool? renewed = null;
        try
        {
            renewed = await RunAsync(async (connection, ct) =>
            {
                await using var update = Command(connection, $"UPDATE {Table} SET expires = @expires WHERE name = @name AND owner = @owner AND generation = @generation",
                    ("expires", Millis(now + _timeout)), ("name", Settings.LeaseName), ("owner", Settings.OwnerName), ("generation", generation));
                return await update.ExecuteNonQueryAsync(ct) == 1;
            });
        }
        catch (Exception e) { failure = e; }

        Action<Exception>? lost = null;
        Exception? reason = null;
        lock (_sync)
        {
            if (_generation != generation) return; // released or re-taken meanwhile
            if (renewed == true) { _renewedAt = now; return; }
            // The store unreachable: keep trying. CheckLease says no once half the timeout has passed, and every write
            // checks it, so nothing is written meanwhile; the singleton stays, answering at once. Stopping it would
            // only make writes wait for their timeout, and nobody can take the lease from a store nobody reaches.
            if (renewed is null)
            {
                if (DateTime.UtcNow - _renewedAt >= _timeout / 2)
                    _log.Warning("Lease {0} not renewed for {1:0.0} s (writes are refused until it is): {2}", Settings.LeaseName,
                        (DateTime.UtcNow - _renewedAt).TotalSeconds, failure?.Message);
            }
            else
            {
                // The store answered: the lease is someone else's now (or a later generation). Lost for good.
                reason = new LeaseException($"lease {Settings.LeaseName} (generation {generation}) is no longer held by {Settings.OwnerName}");
                lost = _lost;
                _generation = null;
                _lost = null;
                _heartbeat?.Dispose();
                _heartbeat = null;
            }
        }
        if (reason is not null)
        {
            _log.Warning("Lease lost: {0}", reason.Message);
            lost?.Invoke(reason);
        }
    }

    /// <summary>One store operation on a fresh connection within lease-operation-timeout (the table created once).</summary>
    private async Task<T> RunAsync<T>(Func<DbConnection, CancellationToken, Task<T>> operation)
    {
        using var cts = new CancellationTokenSource(_operationTimeout);
        await _gate.WaitAsync(cts.Token).ConfigureAwait(false);
        try
        {
            await using var connection = Connect();
            await connection.OpenAsync(cts.Token).ConfigureAwait(false);
            if (!_tableReady)
            {
                await using (var create = Command(connection,
                    $"CREATE TABLE IF NOT EXISTS {Table} (name VARCHAR(512) NOT NULL PRIMARY KEY, owner VARCHAR(512) NOT NULL, expires BIGINT NOT NULL, generation BIGINT NOT NULL)"))
                    await create.ExecuteNonQueryAsync(cts.Token).ConfigureAwait(false);
                _tableReady = true;
            }
            await using (var insert = Command(connection, $"INSERT INTO {Table} (name, owner, expires, generation) VALUES (@name, '', 0, 0) ON CONFLICT (name) DO NOTHING",
                ("name", Settings.LeaseName)))
                await insert.ExecuteNonQueryAsync(cts.Token).ConfigureAwait(false);
            return await operation(connection, cts.Token).ConfigureAwait(false);
        }
        finally { _gate.Release(); }
    }

    private DbConnection Connect()
        => _providerName.StartsWith("SQLite", StringComparison.OrdinalIgnoreCase)
            ? new SqliteConnection(_connectionString)
            : new NpgsqlConnection(_connectionString);

    private DbCommand Command(DbConnection connection, string sql, params (string Name, object Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        // SQLite waits this long for a writer's lock (the journal shares the file); PostgreSQL for the statement.
        command.CommandTimeout = Math.Max(1, (int)Math.Ceiling(_operationTimeout.TotalSeconds));
        foreach (var (name, value) in parameters)
        {
            var p = command.CreateParameter();
            p.ParameterName = "@" + name;
            p.Value = value;
            command.Parameters.Add(p);
        }
        return command;
    }

    private static long Millis(DateTime utc) => (utc - DateTime.UnixEpoch).Ticks / TimeSpan.TicksPerMillisecond;

    public void Dispose()
    {
        lock (_sync)
        {
            _heartbeat?.Dispose();
            _heartbeat = null;
        }
        _gate.Dispose();
    }
}
