using System.CommandLine;
using Akka.Actor;
using Akka.Configuration;
using Fabric.Actors.Configuration;
using Fabric.Actors.Node;
using Fabric.Nodes.Http;

namespace Fabric.Nodes.Cli;

/// <summary>
/// <c>fabric node --config FILE.conf</c>: runs one node until SIGINT/SIGTERM, then leaves the cluster and exits 0. Exits 1
/// when the cluster removed it otherwise (downed) or it failed, 2 on a usage or configuration error, and
/// <see cref="LeftExitCode"/> when it was asked to leave from elsewhere: supervisors restart the first, never the others.
/// </summary>
public static class NodeCommand
{
    public const string TokenVariable = "FABRIC_TOKEN";

    /// <summary>The node left the cluster because someone asked it to (<c>fabric ctl members leave</c>): not restarted.</summary>
    public const int LeftExitCode = 3;

    /// <summary>
    /// The configuration was refused before anything started (missing or unreadable file, no token, the SQLite store
    /// under seeds on other hosts, an unreadable certificate): deploy/fabric-node.service does not restart this one
    /// (RestartPreventExitStatus), since it would only be refused again every 5 s.
    /// </summary>
    public const int RefusedExitCode = 2;

    public static Command Create()
    {
        var config = new Option<FileInfo>("--config", "-c")
        {
            Description = "the node's HOCON file (anything it does not set comes from the shipped hocon/fabric.conf)",
            Required = true,
        };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "log at INFO (Akka and ASP.NET Core) instead of warnings only" };
        var command = new Command("node", "Run one Fabric node: a cluster member, its dataplane and its management endpoint") { config, verbose };
        command.SetAction((parse, _) => RunAsync(parse.GetRequiredValue(config), parse.GetValue(verbose)));
        return command;
    }

    /// <summary>What a node needs from its configuration before it starts, checked up front.</summary>
    public sealed record NodeStartup(string Name, string HttpAddress, int HttpPort, string Token, string? HttpCertificate = null, string? HttpCertificatePassword = null)
    {
        public string HttpUrl => $"{(HttpCertificate is null ? "http" : "https")}://{HttpAddress}:{HttpPort}";
    }

    /// <summary>Reads the management settings and resolves the token (the file's, else FABRIC_TOKEN); a clear error otherwise.</summary>
    public static NodeStartup Resolve(Config config, string configFile, Func<string, string?> environment)
    {
        var address = config.GetString("fabric.http.address", "127.0.0.1");
        var port = config.GetInt("fabric.http.port", 8080);
        if (port is < 1 or > 65535) throw new CliException($"fabric.http.port {port} in {configFile} is outside 1..65535");
        var token = config.GetString("fabric.http.token", "");
        if (string.IsNullOrWhiteSpace(token)) token = environment(TokenVariable) ?? "";
        if (string.IsNullOrWhiteSpace(token))
            throw new CliException(
                $"no management token: set fabric.http.token in {configFile} or {TokenVariable} in the environment " +
                "(a node never serves an open management API)");
        var name = config.GetString("fabric.node-name", "");
        var certificate = config.GetString("fabric.http.certificate", "");
        var password = config.GetString("fabric.http.certificate-password", "");
        return new NodeStartup(name, address, port, token.Trim(),
            string.IsNullOrWhiteSpace(certificate) ? null : certificate, string.IsNullOrEmpty(password) ? null : password);
    }

    /// <summary>The settings that name files, made absolute against the node's file's folder (so a host's folder can be copied anywhere).</summary>
    public static readonly string[] FileSettings = ["fabric.http.certificate", "fabric.remote-tls.certificate", "fabric.remote-tls.ca"];

    /// <summary><paramref name="config"/> with the relative paths of <see cref="FileSettings"/> resolved against <paramref name="baseDirectory"/>.</summary>
    public static Config ResolveFiles(Config config, string baseDirectory)
    {
        var lines = new List<string>();
        foreach (var setting in FileSettings)
        {
            var value = config.GetString(setting, "");
            if (!string.IsNullOrWhiteSpace(value) && !Path.IsPathRooted(value))
                lines.Add($"{setting} = {FabricHocon.Quote(Path.GetFullPath(value, baseDirectory))}");
        }
        return lines.Count == 0 ? config : ConfigurationFactory.ParseString(string.Join('\n', lines)).WithFallback(config);
    }

    /// <summary>
    /// Refuses the embedded SQLite store under a seed list that names another host (an address that is neither this
    /// node's nor loopback): every host would keep its own file, and the configuration singleton would read a different
    /// journal wherever it moved, forking the configuration without a word. <c>fabric.store.single-machine</c> (set by
    /// <c>fabric up</c>, whose nodes share one file on one machine, namespaces included) allows it.
    /// </summary>
    public static void RefuseSplitJournal(Config config, string configFile)
    {
        var settings = FabricSettings.From(config);
        if (!settings.UsesSqlite || config.GetBoolean("fabric.store.single-machine", false)) return;
        var own = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
        {
            config.GetString("akka.remote.dot-netty.tcp.hostname", ""),
            config.GetString("akka.remote.dot-netty.tcp.public-hostname", ""),
        };
        foreach (var seed in config.GetStringList("akka.cluster.seed-nodes"))
        {
            string host;
            try { host = Address.Parse(seed).Host ?? ""; }
            catch (Exception e) when (e is UriFormatException or ArgumentException or FormatException)
            {
                throw new CliException($"akka.cluster.seed-nodes in {configFile}: '{seed}' is not an Akka address");
            }
            if (own.Contains(host) || IsLoopback(host)) continue;
            throw new CliException(
                $"{configFile} keeps the configuration in the embedded SQLite store but its seed {seed} is another host: " +
                "each host would have its own journal and the configuration would fork; use PostgreSQL " +
                "(include \"postgres.conf\" and set fabric.store.connection-string, or `fabric init --store`)");
        }
    }

    private static bool IsLoopback(string host)
        => string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)
            || (System.Net.IPAddress.TryParse(host.Trim('[', ']'), out var ip) && System.Net.IPAddress.IsLoopback(ip));

    /// <summary>Why the actor system shut down by itself, in words an operator can act on.</summary>
    public static string DescribeShutdown(CoordinatedShutdown.Reason? reason) => reason switch
    {
        null => "the actor system terminated without a shutdown reason",
        CoordinatedShutdown.ClusterDowningReason => "the cluster downed it (the split brain resolver, or `fabric ctl members down`)",
        CoordinatedShutdown.ClusterJoinUnsuccessfulReason => "it could not join the cluster through its seeds",
        // Akka.Remote 1.5.74 (TcpHandlers.UserEventTriggered) runs CoordinatedShutdown whenever a TLS handshake this node
        // started fails: a peer that does not trust us, but also a peer whose connection closed before the handshake ended.
        _ when reason.GetType().Name == "TlsHandshakeFailureReason" =>
            $"Akka.Remote stops a node whenever a TLS handshake it started fails ({reason}): a peer whose certificate or trust differs, " +
            "or a peer that closed the connection mid-handshake (it was stopping or crashing)",
        _ => $"{reason.GetType().Name}: {reason}",
    };

    private static int Refuse(string message)
    {
        Errors.Write(message);
        return RefusedExitCode;
    }

    private static async Task<int> RunAsync(FileInfo file, bool verbose)
    {
        if (!file.Exists) return Refuse($"the configuration file {file.FullName} does not exist");

        Config config;
        NodeStartup startup;
        System.Security.Cryptography.X509Certificates.X509Certificate2? httpCertificate;
        try
        {
            config = FabricHocon.Load(file.FullName, verbose ? "akka.loglevel = INFO\nakka.stdout-loglevel = INFO" : null);
            config = ResolveFiles(config, file.DirectoryName!);
            RefuseSplitJournal(config, file.FullName);
            startup = Resolve(config, file.FullName, Environment.GetEnvironmentVariable);
            httpCertificate = startup.HttpCertificate is { } path
                ? Fabric.Actors.Cluster.RemoteTls.LoadPkcs12(path, startup.HttpCertificatePassword, "fabric.http.certificate")
                : null;
            _ = Fabric.Actors.Cluster.RemoteTls.From(config); // a missing or unreadable certificate: one line now, not an Akka stack later
        }
        catch (CliException e) { return Refuse(e.Message); }
        catch (Exception e) when (e is ConfigurationException or FormatException or IOException)
        {
            return Refuse($"cannot read {file.FullName}: {e.Message}");
        }

        // ASP.NET Core logs at Information by default; a node is quiet unless asked (or told otherwise by the environment).
        if (!verbose && Environment.GetEnvironmentVariable("Logging__LogLevel__Default") is null)
            Environment.SetEnvironmentVariable("Logging__LogLevel__Default", "Warning");

        using var shutdown = ShutdownSignal.Listen().WatchParentFromEnvironment();

        FabricRuntime runtime;
        try
        {
            runtime = FabricRuntime.Start(config, startup.HttpUrl);
        }
        catch (Exception e)
        {
            return Errors.Fail($"the node did not start: {Errors.Innermost(e)}");
        }

        WebApplication? app = null;
        var exitCode = 0;
        try
        {
            app = ManagementEndpoint.Build(runtime, new ManagementOptions(startup.HttpAddress, startup.HttpPort, startup.Token) { Certificate = httpCertificate });
            await app.StartAsync(shutdown.Token);
            app.Lifetime.ApplicationStopping.Register(() => shutdown.Trigger("the web host is stopping"));
            // Downed by the split brain resolver (or terminated by anyone else): there is nothing left to run.
            _ = runtime.System.WhenTerminated.ContinueWith(_ => shutdown.Trigger("the actor system terminated"), TaskScheduler.Default);

            Console.WriteLine($"fabric node {runtime.Self.Name}: vtep {runtime.Self.Vtep}, akka {runtime.Node.Address}, http {startup.HttpUrl}");
            try { await Task.Delay(Timeout.Infinite, shutdown.Token); }
            catch (OperationCanceledException) { }
            Console.WriteLine($"fabric node {runtime.Self.Name}: stopping ({shutdown.Reason})");
            if (shutdown.Reason == "the actor system terminated")
            {
                // Asked to leave (fabric ctl members leave): done, and not to be brought back by a supervisor. Downed or
                // anything else: a failure, which fabric up and systemd answer with a restart (it rejoins).
                var reason = CoordinatedShutdown.Get(runtime.System).ShutdownReason;
                var left = reason is CoordinatedShutdown.ClusterLeavingReason;
                exitCode = left ? LeftExitCode : 1;
                if (left) Console.WriteLine($"fabric node {runtime.Self.Name}: left the cluster on request (exit {LeftExitCode}: not restarted)");
                else Errors.Write($"{runtime.Self.Name} shut down: {DescribeShutdown(reason)}; exit 1, so its supervisor restarts it");
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Errors.Write($"the node failed: {Errors.Innermost(e)}");
            exitCode = 1;
        }
        catch (OperationCanceledException)
        {
            // stopped while starting
        }
        finally
        {
            if (app is not null)
            {
                using var stopHttp = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                try { await app.StopAsync(stopHttp.Token); } catch (Exception) { /* stopping anyway */ }
                await app.DisposeAsync();
            }
            // CoordinatedShutdown: leave the cluster (singleton hand-over, peers withdraw our locations), then the dataplane.
            try
            {
                await runtime.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));
            }
            catch (TimeoutException)
            {
                Errors.Write("leaving the cluster took longer than 20 s; exiting anyway");
            }
            catch (Exception e)
            {
                Errors.Write($"stopping: {Errors.Innermost(e)}");
            }
        }
        Console.WriteLine($"fabric node {runtime.Self.Name}: stopped");
        return exitCode;
    }
}
