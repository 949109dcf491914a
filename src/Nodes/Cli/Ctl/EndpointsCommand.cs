using System.CommandLine;
using Spectre.Console;

namespace Fabric.Nodes.Cli.Ctl;

/// <summary><c>fabric ctl endpoints list|show|create|delete|move|ping</c>: a VM's port and what it can do.</summary>
public static class EndpointsCommand
{
    public static Command Create()
    {
        var list = new Command("list", "List endpoints");
        Ctl.SetAction(list, async (parse, client, ct) => Ctl.Show(parse, await client.GetAsync("/api/v1/endpoints", ct), "endpoints"));

        var showId = new Argument<string>("endpoint") { Description = "endpoint id or name" };
        var show = new Command("show", "Show one endpoint") { showId };
        Ctl.SetAction(show, async (parse, client, ct) =>
        {
            var id = await Ctl.EndpointIdAsync(client, parse.GetRequiredValue(showId), ct);
            return Ctl.Show(parse, await client.GetAsync($"/api/v1/endpoints/{Ctl.Escape(id)}", ct));
        });

        var name = new Argument<string>("name") { Description = "endpoint name" };
        var network = new Option<string>("--network") { Description = "network id or name", Required = true };
        var subnet = new Option<string?>("--subnet") { Description = "subnet id or name (l3 networks)" };
        var node = new Option<string>("--node") { Description = "node that hosts the port (e.g. node-2)", Required = true };
        var mac = new Option<string?>("--mac") { Description = "MAC (assigned when omitted)" };
        var ip = new Option<string?>("--ip") { Description = "IPv4 (assigned when omitted)" };
        var port = new Option<string>("--port") { Description = "guest (in-process machine that answers ARP and ping) or tap", DefaultValueFactory = _ => "guest" };
        port.AcceptOnlyFromAmong("guest", "tap");
        var ns = new Option<string?>("--namespace") { Description = "tap: network namespace to put the device in" };
        var noSourceCheck = new Option<bool>("--no-source-check") { Description = "accept frames from other MAC/IP than the endpoint's (appliances)" };
        var create = new Command("create", "Create an endpoint (a VM's port) on a node") { name, network, subnet, node, mac, ip, port, ns, noSourceCheck };
        Ctl.SetAction(create, async (parse, client, ct) =>
        {
            var networkId = await Ctl.NetworkIdAsync(client, parse.GetRequiredValue(network), ct);
            var subnetId = parse.GetValue(subnet) is { } s ? await Ctl.SubnetIdAsync(client, networkId, s, ct) : null;
            var body = Ctl.Body(
                ("name", parse.GetRequiredValue(name)), ("network", networkId), ("subnet", subnetId), ("node", parse.GetRequiredValue(node)),
                ("mac", parse.GetValue(mac)), ("ip", parse.GetValue(ip)),
                ("port", Ctl.Body(("kind", parse.GetValue(port)), ("namespace", parse.GetValue(ns)))),
                ("sourceCheck", parse.GetValue(noSourceCheck) ? false : null));
            return Ctl.Show(parse, await client.PostAsync("/api/v1/endpoints", body, ct));
        });

        var deleteId = new Argument<string>("endpoint") { Description = "endpoint id or name" };
        var delete = new Command("delete", "Delete an endpoint") { deleteId };
        Ctl.SetAction(delete, async (parse, client, ct) =>
        {
            var id = await Ctl.EndpointIdAsync(client, parse.GetRequiredValue(deleteId), ct);
            return Ctl.Show(parse, await client.DeleteAsync($"/api/v1/endpoints/{Ctl.Escape(id)}", ct), done: $"deleted endpoint {id}");
        });

        var moveId = new Argument<string>("endpoint") { Description = "endpoint id or name" };
        var to = new Option<string>("--node") { Description = "the node to move it to", Required = true };
        var move = new Command("move", "Move an endpoint to another node (live; the new node sends a gratuitous ARP)") { moveId, to };
        Ctl.SetAction(move, async (parse, client, ct) =>
        {
            var id = await Ctl.EndpointIdAsync(client, parse.GetRequiredValue(moveId), ct);
            var target = parse.GetRequiredValue(to);
            return Ctl.Show(parse, await client.PutAsync($"/api/v1/endpoints/{Ctl.Escape(id)}/node", Ctl.Body(("node", target)), ct),
                done: $"moved endpoint {id} to {target}");
        });

        var pingFrom = new Argument<string>("endpoint") { Description = "guest endpoint to ping from (id or name)" };
        var pingTarget = new Argument<string>("target") { Description = "IPv4 address to ping" };
        var count = new Option<int>("--count", "-c") { Description = "echo requests", DefaultValueFactory = _ => 3 };
        var ttl = new Option<int?>("--ttl") { Description = "IP TTL of the requests (default 64)" };
        var ping = new Command("ping", "Ping from a guest endpoint; the echo really crosses the fabric") { pingFrom, pingTarget, count, ttl };
        Ctl.SetAction(ping, async (parse, client, ct) =>
        {
            var from = parse.GetRequiredValue(pingFrom);
            var id = await Ctl.EndpointIdAsync(client, from, ct);
            var target = parse.GetRequiredValue(pingTarget);
            var response = await client.PostAsync($"/api/v1/endpoints/{Ctl.Escape(id)}/ping",
                Ctl.Body(("target", target), ("count", parse.GetValue(count)), ("ttl", parse.GetValue(ttl))), ct);
            var received = response.Json?["received"] is System.Text.Json.Nodes.JsonValue v && v.TryGetValue<int>(out var r) ? r : 0;
            if (parse.GetValue(CtlOptions.Json)) Console.Out.WriteLine(response.Raw);
            else AnsiConsole.WriteLine(CtlOutput.PingSummary(from, target, response.Json));
            return received > 0 ? 0 : 1; // like ping: no answer is a failure
        });

        return new Command("endpoints", "Endpoints (a VM's port)") { list, show, create, delete, move, ping };
    }
}
