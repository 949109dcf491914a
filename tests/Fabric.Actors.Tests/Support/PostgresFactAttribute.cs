namespace Fabric.Actors.Tests.Support;

/// <summary>
/// A fact that needs a PostgreSQL server: runs when FABRIC_TEST_POSTGRES holds an Npgsql connection
/// string (e.g. "Host=127.0.0.1;Port=54329;Database=fabric;Username=fabric"), is skipped otherwise.
/// </summary>
public sealed class PostgresFactAttribute : FactAttribute
{
    public const string Variable = "FABRIC_TEST_POSTGRES";

    public PostgresFactAttribute()
    {
        if (string.IsNullOrWhiteSpace(ConnectionString))
            Skip = $"set {Variable} to an Npgsql connection string to run the PostgreSQL store tests";
    }

    public static string? ConnectionString => Environment.GetEnvironmentVariable(Variable);
}
