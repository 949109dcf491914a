using System.CommandLine;

namespace Fabric.Nodes.Cli.Ctl;

/// <summary><c>fabric ctl networks list|show|create|delete</c>.</summary>
public static class NetworksCommand
{
    public static Command Create()
    {
        var list = new Command("list", "List networks");
        Ctl.SetAction(list, async (parse, client, ct) => Ctl.Show(parse, await client.GetAsync("/api/v1/networks", ct), "networks"));

        var showId = new Argument<string>("network") { Description = "network id or name" };
        var show = new Command("show", "Show one network") { showId };
        Ctl.SetAction(show, async (parse, client, ct) =>
        {
            var id = await Ctl.NetworkIdAsync(client, parse.GetRequiredValue(showId), ct);
            return Ctl.Show(parse, await client.GetAsync($"/api/v1/networks/{Ctl.Escape(id)}", ct));
        });

        var name = new Argument<string>("name") { Description = "network name" };
        var vni = new Option<long>("--vni") { Description = "VXLAN network identifier, 1 … 16777215, unique", Required = true };
        var kind = new Option<string>("--kind") { Description = "l2 (one broadcast domain) or l3 (routed subnets)", DefaultValueFactory = _ => "l2" };
        kind.AcceptOnlyFromAmong("l2", "l3");
        var cidr = new Option<string?>("--cidr") { Description = "the network's address space (required for l3)" };
        var create = new Command("create", "Create a network") { name, vni, kind, cidr };
        Ctl.SetAction(create, async (parse, client, ct) =>
        {
            var body = Ctl.Body(("name", parse.GetRequiredValue(name)), ("vni", parse.GetValue(vni)),
                ("kind", parse.GetValue(kind)), ("cidr", parse.GetValue(cidr)));
            return Ctl.Show(parse, await client.PostAsync("/api/v1/networks", body, ct));
        });

        var deleteId = new Argument<string>("network") { Description = "network id or name" };
        var delete = new Command("delete", "Delete a network (refused while endpoints remain)") { deleteId };
        Ctl.SetAction(delete, async (parse, client, ct) =>
        {
            var id = await Ctl.NetworkIdAsync(client, parse.GetRequiredValue(deleteId), ct);
            return Ctl.Show(parse, await client.DeleteAsync($"/api/v1/networks/{Ctl.Escape(id)}", ct), done: $"deleted network {id}");
        });

        return new Command("networks", "Networks (a VNI each)") { list, show, create, delete };
    }
}
