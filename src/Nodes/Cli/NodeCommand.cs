using System.CommandLine;
using Akka.Actor;
using Akka.Configuration;
using Fabric.Actors.Configuration;
using Fabric.Actors.Node;
using Fabric.Nodes.Http;

namespace Fabric.Nodes.Cli;

/// <summary><c>fabric node --config FILE.conf</c>: runs one node until SIGINT/SIGTERM, then leaves the cluster and exits 0.</summary>
public static class NodeCommand
{
    public const string TokenVariable = "FABRIC_TOKEN";

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
    public sealed record NodeStartup(string Name, string HttpAddress, int HttpPort, string Token)
    {
        public string HttpUrl => $"http://{HttpAddress}:{HttpPort}";
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
        return new NodeStartup(name, address, port, token.Trim());
    }

    private static async Task<int> RunAsync(FileInfo file, bool verbose)
    {
        if (!file.Exists) return Errors.Fail($"the configuration file {file.FullName} does not exist");

        Config config;
        NodeStartup startup;
        try
        {
            config = FabricHocon.Load(file.FullName, verbose ? "akka.loglevel = INFO\nakka.stdout-loglevel = INFO" : null);
            startup = Resolve(config, file.FullName, Environment.GetEnvironmentVariable);
        }
        catch (CliException e) { return Errors.Fail(e.Message); }
        catch (Exception e) when (e is ConfigurationException or FormatException or IOException)
        {
            return Errors.Fail($"cannot read {file.FullName}: {e.Message}");
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
            app = ManagementEndpoint.Build(runtime, new ManagementOptions(startup.HttpAddress, startup.HttpPort, startup.Token));
            await app.StartAsync(shutdown.Token);
            app.Lifetime.ApplicationStopping.Register(() => shutdown.Trigger("the web host is stopping"));
            // Downed by the split brain resolver (or terminated by anyone else): there is nothing left to run.
            _ = runtime.System.WhenTerminated.ContinueWith(_ => shutdown.Trigger("the actor system terminated"), TaskScheduler.Default);

            Console.WriteLine($"fabric node {runtime.Self.Name}: vtep {runtime.Self.Vtep}, akka {runtime.Node.Address}, http {startup.HttpUrl}");
            try { await Task.Delay(Timeout.Infinite, shutdown.Token); }
            catch (OperationCanceledException) { }
            Console.WriteLine($"fabric node {runtime.Self.Name}: stopping ({shutdown.Reason})");
            if (shutdown.Reason == "the actor system terminated") exitCode = 1;
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
