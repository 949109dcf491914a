using System.CommandLine;

namespace Fabric.Nodes.Cli.Ctl;

/// <summary><c>fabric ctl counters NODE</c>: per port and per network rx, tx, encap, decap and drops by reason.</summary>
public static class CountersCommand
{
    public static Command Create()
    {
        var node = new Argument<string>("node") { Description = "node name (e.g. node-1)" };
        var command = new Command("counters", "A node's dataplane counters") { node };
        Ctl.SetAction(command, async (parse, client, ct) =>
        {
            var n = parse.GetRequiredValue(node);
            return Ctl.Show(parse, await client.GetAsync($"/api/v1/nodes/{Ctl.Escape(n)}/counters", ct), $"counters of {n}");
        });
        return command;
    }
}
