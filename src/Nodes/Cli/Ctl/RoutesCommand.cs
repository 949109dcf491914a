using System.CommandLine;
using System.Text.Json.Nodes;

namespace Fabric.Nodes.Cli.Ctl;

/// <summary>
/// <c>fabric ctl routes add DEST --network NET [--route-table RT] (--endpoint EP | --blackhole | --to-network NET2)</c>
/// and <c>fabric ctl routes list NODE --network NET [--route-table RT]</c> (the effective routes on a node).
/// </summary>
public static class RoutesCommand
{
    public static Command Create()
    {
        var destination = new Argument<string>("destination") { Description = "destination CIDR" };
        var network = new Option<string>("--network") { Description = "network id or name", Required = true };
        var routeTable = new Option<string>("--route-table") { Description = "route table", DefaultValueFactory = _ => "main" };
        var endpoint = new Option<string?>("--endpoint") { Description = "next hop: an endpoint (an appliance: NAT, firewall), id or name" };
        var blackhole = new Option<bool>("--blackhole") { Description = "drop what matches" };
        var toNetwork = new Option<string?>("--to-network") { Description = "leak to another network (id or name)" };
        var add = new Command("add", "Add a route") { destination, network, routeTable, endpoint, blackhole, toNetwork };
        add.Validators.Add(result =>
        {
            var targets = (result.GetValue(endpoint) is null ? 0 : 1) + (result.GetValue(blackhole) ? 1 : 0) + (result.GetValue(toNetwork) is null ? 0 : 1);
            if (targets != 1) result.AddError("give exactly one target: --endpoint EP, --blackhole or --to-network NET");
        });
        Ctl.SetAction(add, async (parse, client, ct) =>
        {
            var id = await Ctl.NetworkIdAsync(client, parse.GetRequiredValue(network), ct);
            JsonObject target;
            if (parse.GetValue(endpoint) is { } ep) target = Ctl.Body(("kind", "endpoint"), ("endpoint", await Ctl.EndpointIdAsync(client, ep, ct)));
            else if (parse.GetValue(toNetwork) is { } other) target = Ctl.Body(("kind", "network"), ("network", await Ctl.NetworkIdAsync(client, other, ct)));
            else target = Ctl.Body(("kind", "blackhole"));
            var rt = parse.GetRequiredValue(routeTable);
            var body = Ctl.Body(("destination", parse.GetRequiredValue(destination)), ("target", target));
            return Ctl.Show(parse, await client.PostAsync($"/api/v1/networks/{Ctl.Escape(id)}/route-tables/{Ctl.Escape(rt)}/routes", body, ct),
                done: $"added route {parse.GetRequiredValue(destination)} to {rt}");
        });

        var node = new Argument<string>("node") { Description = "node name (e.g. node-1)" };
        var listNetwork = new Option<string>("--network") { Description = "network id or name", Required = true };
        var listTable = new Option<string?>("--route-table") { Description = "only this route table" };
        var list = new Command("list", "The effective routes on a node") { node, listNetwork, listTable };
        Ctl.SetAction(list, async (parse, client, ct) =>
        {
            var id = await Ctl.NetworkIdAsync(client, parse.GetRequiredValue(listNetwork), ct);
            var query = $"?network={Ctl.Escape(id)}" + (parse.GetValue(listTable) is { } t ? $"&routeTable={Ctl.Escape(t)}" : "");
            return Ctl.Show(parse, await client.GetAsync($"/api/v1/nodes/{Ctl.Escape(parse.GetRequiredValue(node))}/routes{query}", ct), "routes");
        });
        return new Command("routes", "Routes in a network's route tables") { add, list };
    }
}
