using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Fabric.Actors.Tests.Support;

/// <summary>
/// A throw-away PostgreSQL server that a test starts, stops and starts again itself (to take the store away and give it
/// back): initdb into a temporary folder as user <c>postgres</c>, listening on a free port of 127.0.0.1, with a role and
/// database <c>fabric</c> (password <c>fabric</c>). Needs root (the server runs as <c>postgres</c> through runuser) and
/// the Debian postgresql package (binaries under /usr/lib/postgresql/VERSION/bin); <see cref="WhyUnavailable"/> says
/// why not, for a skip. The same steps as scripts/postgres.sh. Self-contained: other test projects link this file.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private readonly string _bin;
    private readonly string _dir;

    private readonly string _listen;

    private PostgresServer(string bin, string dir, int port, string listen)
    {
        _bin = bin;
        _dir = dir;
        Port = port;
        _listen = listen;
    }

    public int Port { get; }
    public bool Running { get; private set; }
    public string DataDir => Path.Combine(_dir, "data");

    /// <summary>An Npgsql connection string for the <c>fabric</c> database.</summary>
    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Database=fabric;Username=fabric;Password=fabric";

    /// <summary>Why a server cannot be run here (for <c>Skip</c>), or null when it can.</summary>
    public static string? WhyUnavailable()
    {
        if (!OperatingSystem.IsLinux()) return "PostgresServer needs Linux";
        if (Environment.UserName != "root") return "PostgresServer needs root (it runs the server as user postgres through runuser)";
        if (FindBin() is null) return "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb; apt-get install postgresql)";
        if (!File.ReadLines("/etc/passwd").Any(l => l.StartsWith("postgres:", StringComparison.Ordinal)))
            return "there is no postgres user to run the server as";
        return null;
    }

    /// <summary>
    /// Creates the cluster, starts it and creates the fabric role and database. <paramref name="listen"/> and
    /// <paramref name="allowFrom"/> (a CIDR let in without a password) open it to clients in other network
    /// namespaces, e.g. "*" and the underlay of <c>fabric up --netns</c>.
    /// </summary>
    public static async Task<PostgresServer> StartAsync(string listen = "127.0.0.1", string? allowFrom = null)
    {
        if (WhyUnavailable() is { } why) throw new InvalidOperationException(why);
        var dir = Directory.CreateTempSubdirectory("fabric-pg-").FullName;
        var server = new PostgresServer(FindBin()!, dir, FreePort(), listen);
        try
        {
            await Run("chown", ["postgres", dir]);
            await server.AsPostgres("initdb", "-D", server.DataDir, "-A", "trust", "-U", "postgres");
            if (allowFrom is not null)
                await File.AppendAllTextAsync(Path.Combine(server.DataDir, "pg_hba.conf"), $"host all all {allowFrom} trust\n");
            await server.StartAgainAsync();
            await server.AsPostgres("psql", "-h", "127.0.0.1", "-p", server.Port.ToString(), "-qc", "CREATE ROLE fabric LOGIN PASSWORD 'fabric';");
            await server.AsPostgres("psql", "-h", "127.0.0.1", "-p", server.Port.ToString(), "-qc", "CREATE DATABASE fabric OWNER fabric;");
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts the (stopped) server on the same port and data; returns once it accepts connections.</summary>
    public async Task StartAgainAsync()
    {
        await AsPostgres("pg_ctl", "-D", DataDir, "-l", Path.Combine(_dir, "log"), "-w", "-t", "30",
            "-o", $"-c listen_addresses='{_listen}' -p {Port} -k {_dir} -c fsync=off", "start");
        Running = true;
    }

    /// <summary>
    /// Stops the server. <paramref name="immediate"/>: as if it crashed (connections cut, no checkpoint); otherwise a
    /// fast shutdown (clients disconnected cleanly).
    /// </summary>
    public async Task StopAsync(bool immediate = true)
    {
        await AsPostgres("pg_ctl", "-D", DataDir, "-m", immediate ? "immediate" : "fast", "-w", "stop");
        Running = false;
    }

    public async ValueTask DisposeAsync()
    {
        if (Running)
        {
            try { await StopAsync(); } catch (Exception) { /* best effort: the folder goes anyway */ }
        }
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private Task AsPostgres(string tool, params string[] args)
        => Run("runuser", ["-u", "postgres", "--", Path.Combine(_bin, tool), .. args]);

    private static string? FindBin()
    {
        const string root = "/usr/lib/postgresql";
        if (!Directory.Exists(root)) return null;
        return Directory.GetDirectories(root)
            .Select(d => Path.Combine(d, "bin"))
            .Where(b => File.Exists(Path.Combine(b, "initdb")))
            .OrderByDescending(b => int.TryParse(Path.GetFileName(Path.GetDirectoryName(b)), out var v) ? v : 0)
            .FirstOrDefault();
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try { return ((IPEndPoint)listener.LocalEndpoint).Port; }
        finally { listener.Stop(); }
    }

    private static async Task Run(string file, IReadOnlyList<string> args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await p.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in 60 s");
        }
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {p.ExitCode}: {await stderr}{await stdout}");
    }
}

/// <summary>A fact that starts its own PostgreSQL (<see cref="PostgresServer"/>): skipped, saying why, where it cannot.</summary>
public sealed class PostgresServerFactAttribute : FactAttribute
{
    public PostgresServerFactAttribute()
    {
        if (PostgresServer.WhyUnavailable() is { } why) Skip = why;
    }
}
