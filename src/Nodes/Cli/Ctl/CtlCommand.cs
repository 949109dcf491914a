using System.CommandLine;

namespace Fabric.Nodes.Cli.Ctl;

/// <summary><c>fabric ctl …</c>: a thin client of the HTTP API, tables for people and --json for scripts.</summary>
public static class CtlCommand
{
    public static Command Create()
    {
        var ctl = new Command("ctl", "Talk to a running cluster through its HTTP API (any node answers for the whole cluster)")
        {
            CtlOptions.Url, CtlOptions.Token, CtlOptions.Cluster, CtlOptions.Json, CtlOptions.Ca,
            MembersCommand.Create(),
            NetworksCommand.Create(),
            SubnetsCommand.Create(),
            RouteTablesCommand.Create(),
            RoutesCommand.Create(),
            EndpointsCommand.Create(),
            FdbCommand.Create(),
            FloodGroupsCommand.Create(),
            CountersCommand.Create(),
            DropsCommand.Create(),
            AlarmsCommand.Create(),
            TraceCommand.Create(),
            TokensCommand.Create(),
        };
        return ctl;
    }
}
