using System.CommandLine;

namespace Fabric.Nodes.Cli.Ctl;

/// <summary><c>fabric ctl fdb NODE --network NET</c>: what the node forwards to, per MAC.</summary>
public static class FdbCommand
{
    public static Command Create()
    {
        var node = new Argument<string>("node") { Description = "node name (e.g. node-1)" };
        var network = new Option<string>("--network") { Description = "network id or name", Required = true };
        var command = new Command("fdb", "A node's forwarding database for one network") { node, network };
        Ctl.SetAction(command, async (parse, client, ct) =>
        {
            var id = await Ctl.NetworkIdAsync(client, parse.GetRequiredValue(network), ct);
            var n = parse.GetRequiredValue(node);
            return Ctl.Show(parse, await client.GetAsync($"/api/v1/nodes/{Ctl.Escape(n)}/fdb?network={Ctl.Escape(id)}", ct), $"fdb of {id} on {n}");
        });
        return command;
    }
}
