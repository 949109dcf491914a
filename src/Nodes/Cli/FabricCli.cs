using System.CommandLine;
using Fabric.Nodes.Cli.Ctl;

namespace Fabric.Nodes.Cli;

/// <summary>The <c>fabric</c> command line: <c>node</c>, <c>up</c>, <c>init</c> and <c>ctl</c> (API.md, "Command line").</summary>
public static class FabricCli
{
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("Fabric: an actor-based VXLAN overlay. `fabric up --nodes 3` starts a cluster on this machine.");
        root.Add(NodeCommand.Create());
        root.Add(UpCommand.Create());
        root.Add(InitCommand.Create());
        root.Add(CtlCommand.Create());
        return root;
    }

    public static Task<int> RunAsync(string[] args)
    {
        // Tables into a file or a pipe: as wide as they need, not cut at 80 columns.
        if (Console.IsOutputRedirected) Spectre.Console.AnsiConsole.Profile.Width = 400;
        // Signals are handled by the commands themselves (ShutdownSignal): `node` and `up` need longer than
        // System.CommandLine's default 2 s grace period to leave the cluster and stop their children.
        return BuildRoot().Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
    }
}
