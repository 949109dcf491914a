using System.Globalization;

namespace Fabric.Chaos.Tests.Harness;

/// <summary>
/// The guide's database host: a throw-away PostgreSQL cluster (initdb into a temporary folder, run as user
/// <c>postgres</c>) inside the database host's namespace, on PostgreSQL's own port 5432 there. It starts bare, as
/// the Debian package leaves it (only local connections); the README's commands make the role, the database and
/// open it to the hosts (<see cref="ReadmeCommand"/> runs them). Stopped and removed on dispose.
/// </summary>
public sealed class GuidePostgres : IAsyncDisposable
{
    public const int Port = 5432;
    private readonly string _bin;
    private readonly string _dir;
    private bool _running;

    private GuidePostgres(string bin, string dir)
    {
        _bin = bin;
        _dir = dir;
    }

    public string DataDir => Path.Combine(_dir, "data");

    /// <summary>The README's PostgreSQL commands reach the server through its socket in this folder.</summary>
    public IDictionary<string, string> Environment => new Dictionary<string, string>
    {
        ["PGHOST"] = _dir, ["PGPORT"] = Port.ToString(CultureInfo.InvariantCulture), ["PATH"] = $"{_bin}:{System.Environment.GetEnvironmentVariable("PATH")}",
    };

    /// <summary>Why it cannot run here (for a skip), or null.</summary>
    public static string? WhyUnavailable() => Fabric.Actors.Tests.Support.PostgresServer.WhyUnavailable();

    public static async Task<GuidePostgres> StartAsync()
    {
        var bin = Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin"))
            .Where(b => File.Exists(Path.Combine(b, "initdb"))).OrderByDescending(b => b, StringComparer.Ordinal).First();
        var dir = Directory.CreateTempSubdirectory("fabric-guide-pg-").FullName;
        var pg = new GuidePostgres(bin, dir);
        try
        {
            (await Shell.RunAsync("chown", ["postgres", dir])).Check("chown");
            (await pg.AsPostgresAsync($"{bin}/initdb -D {dir}/data -A trust -U postgres")).Check("initdb");
            // Where the Debian package's server listens and keeps its socket; fsync off: it is thrown away.
            await File.AppendAllTextAsync(Path.Combine(pg.DataDir, "postgresql.conf"),
                $"port = {Port}\nunix_socket_directories = '{dir}'\nfsync = off\n");
            await pg.StartAsync(restart: false);
            return pg;
        }
        catch
        {
            await pg.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts (or restarts, as <c>systemctl restart postgresql</c> does) the server; returns once it accepts connections.</summary>
    public async Task StartAsync(bool restart)
    {
        (await AsPostgresAsync($"{_bin}/pg_ctl -D {DataDir} -l {_dir}/log -w -t 30 {(restart ? "restart -m fast" : "start")}"))
            .Check($"pg_ctl {(restart ? "restart" : "start")}");
        _running = true;
    }

    /// <summary>
    /// One command of the README's database block, as the database host's root would run it: <c>sudo -u postgres
    /// X</c> as <c>runuser -u postgres -- X</c> (runuser needs no sudo), other <c>sudo</c> dropped (the test is
    /// root), the Debian configuration folder (<c>/etc/postgresql/VERSION/main/</c>) as this cluster's data folder,
    /// <c>systemctl restart postgresql</c> as a restart. <c>apt-get install</c> is not run: scripts/setup.sh
    /// installed the same package. Returns what ran, or null for a skipped line.
    /// </summary>
    public async Task<string?> ReadmeCommand(string command)
    {
        if (command.StartsWith("sudo apt-get ", StringComparison.Ordinal) || command.StartsWith("apt-get ", StringComparison.Ordinal)) return null;
        if (System.Text.RegularExpressions.Regex.IsMatch(command, @"^(sudo )?systemctl restart postgresql$"))
        {
            await StartAsync(restart: true);
            return "pg_ctl restart";
        }
        var line = command.Replace("sudo -u postgres ", "runuser -u postgres -- ", StringComparison.Ordinal).Replace("sudo ", "", StringComparison.Ordinal);
        line = System.Text.RegularExpressions.Regex.Replace(line, @"/etc/postgresql/[^/ ]+/main/", DataDir + "/");
        (await GuideHosts.RunAsync(GuideHosts.DatabaseNamespace, line, _dir, Environment)).Check($"README: {command}");
        return line;
    }

    private Task<Shell.Result> AsPostgresAsync(string command)
        => GuideHosts.RunAsync(GuideHosts.DatabaseNamespace, $"runuser -u postgres -- {command}", _dir, Environment);

    public async ValueTask DisposeAsync()
    {
        if (_running)
        {
            try { await AsPostgresAsync($"{_bin}/pg_ctl -D {DataDir} -m immediate -w stop"); } catch (Exception) { /* the folder goes anyway */ }
        }
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>A query's rows (psql -At) as the superuser, over the socket.</summary>
    public async Task<string> QueryAsync(string sql)
        => (await AsPostgresAsync($"psql -d fabric -At -c \"{sql}\"")).Check($"psql {sql}").Output.Trim();
}
