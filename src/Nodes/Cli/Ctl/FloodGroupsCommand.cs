using System.CommandLine;

namespace Fabric.Nodes.Cli.Ctl;

/// <summary><c>fabric ctl flood-groups NODE --network NET</c>: the VTEPs a node floods to for one network.</summary>
public static class FloodGroupsCommand
{
    public static Command Create()
    {
        var node = new Argument<string>("node") { Description = "node name (e.g. node-1)" };
        var network = new Option<string>("--network") { Description = "network id or name", Required = true };
        var command = new Command("flood-groups", "A node's flood group (member VTEPs) for one network") { node, network };
        Ctl.SetAction(command, async (parse, client, ct) =>
        {
            var id = await Ctl.NetworkIdAsync(client, parse.GetRequiredValue(network), ct);
            var n = parse.GetRequiredValue(node);
            return Ctl.Show(parse, await client.GetAsync($"/api/v1/nodes/{Ctl.Escape(n)}/flood-groups?network={Ctl.Escape(id)}", ct), $"flood group of {id} on {n}");
        });
        return command;
    }
}
