using System.CommandLine;

namespace Fabric.Nodes.Cli.Ctl;

/// <summary><c>fabric ctl subnets create NAME --network NET --cidr CIDR [--route-table RT]</c>.</summary>
public static class SubnetsCommand
{
    public static Command Create()
    {
        var name = new Argument<string>("name") { Description = "subnet name" };
        var network = new Option<string>("--network") { Description = "network id or name", Required = true };
        var cidr = new Option<string>("--cidr") { Description = "inside the network's CIDR, overlapping no sibling", Required = true };
        var routeTable = new Option<string?>("--route-table") { Description = "route table the subnet uses (default main)" };
        var create = new Command("create", "Create a subnet; its gateway is the first host address") { name, network, cidr, routeTable };
        Ctl.SetAction(create, async (parse, client, ct) =>
        {
            var id = await Ctl.NetworkIdAsync(client, parse.GetRequiredValue(network), ct);
            var body = Ctl.Body(("name", parse.GetRequiredValue(name)), ("cidr", parse.GetRequiredValue(cidr)), ("routeTable", parse.GetValue(routeTable)));
            return Ctl.Show(parse, await client.PostAsync($"/api/v1/networks/{Ctl.Escape(id)}/subnets", body, ct));
        });
        return new Command("subnets", "Subnets of an l3 network") { create };
    }
}
