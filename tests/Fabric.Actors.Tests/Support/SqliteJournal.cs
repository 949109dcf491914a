using Microsoft.Data.Sqlite;

namespace Fabric.Actors.Tests.Support;

/// <summary>Looks straight into the SQLite file the journal writes, bypassing Akka.</summary>
public static class SqliteJournal
{
    /// <summary>Rows in the journal table (0 when the table does not exist yet).</summary>
    public static long EventCount(string dbFile)
    {
        using var connection = new SqliteConnection($"Data Source={dbFile};Pooling=False");
        connection.Open();
        using var exists = connection.CreateCommand();
        exists.CommandText = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'journal'";
        if ((long)exists.ExecuteScalar()! == 0) return 0;
        using var count = connection.CreateCommand();
        count.CommandText = "SELECT COUNT(*) FROM journal";
        return (long)count.ExecuteScalar()!;
    }

    /// <summary>Rows in the journal table, read on the connection that holds the lock.</summary>
    public static long EventCountWhileLocked(SqliteConnection locker)
    {
        using var count = locker.CreateCommand();
        count.CommandText = "SELECT COUNT(*) FROM journal";
        return (long)count.ExecuteScalar()!;
    }
}
