using System.CommandLine;

namespace Fabric.Nodes.Cli.Ctl;

/// <summary><c>fabric ctl route-tables create NAME --network NET</c>.</summary>
public static class RouteTablesCommand
{
    public static Command Create()
    {
        var name = new Argument<string>("name") { Description = "route table name" };
        var network = new Option<string>("--network") { Description = "network id or name", Required = true };
        var create = new Command("create", "Create a route table (every network already has `main`)") { name, network };
        Ctl.SetAction(create, async (parse, client, ct) =>
        {
            var id = await Ctl.NetworkIdAsync(client, parse.GetRequiredValue(network), ct);
            return Ctl.Show(parse, await client.PostAsync($"/api/v1/networks/{Ctl.Escape(id)}/route-tables",
                Ctl.Body(("name", parse.GetRequiredValue(name))), ct), done: $"created route table {parse.GetRequiredValue(name)}");
        });
        return new Command("route-tables", "Route tables of a network") { create };
    }
}
