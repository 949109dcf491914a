using System.CommandLine;

namespace Fabric.Nodes.Cli.Ctl;

/// <summary><c>fabric ctl members</c>: GET /cluster/members.</summary>
public static class MembersCommand
{
    public static Command Create()
    {
        var command = new Command("members", "List the cluster's members");
        Ctl.SetAction(command, async (parse, client, ct) => Ctl.Show(parse, await client.GetAsync("/cluster/members", ct), "members"));
        return command;
    }
}
