using System.CommandLine;
using System.Text.Json.Nodes;
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

        var name = new Argument<string?>("name") { Description = "endpoint name (not with --from-file)", Arity = ArgumentArity.ZeroOrOne };
        var network = new Option<string?>("--network") { Description = "network id or name (required unless --from-file)" };
        var subnet = new Option<string?>("--subnet") { Description = "subnet id or name (l3 networks)" };
        var node = new Option<string?>("--node") { Description = "node that hosts the port, e.g. node-2 (required unless --from-file)" };
        var createFile = new Option<FileInfo?>("--from-file")
        {
            Description = "create many at once, atomically (all or none): a JSON file holding an array of endpoint bodies as POST /api/v1/endpoints takes them (network by id), or {\"endpoints\": [...]}; up to 10000",
        };
        var mac = new Option<string?>("--mac") { Description = "MAC (assigned when omitted)" };
        var ip = new Option<string?>("--ip") { Description = "IPv4 (assigned when omitted)" };
        var port = new Option<string>("--port") { Description = "guest (in-process machine that answers ARP and ping) or tap", DefaultValueFactory = _ => "guest" };
        port.AcceptOnlyFromAmong("guest", "tap");
        var ns = new Option<string?>("--namespace") { Description = "tap: network namespace to put the device in" };
        var noSourceCheck = new Option<bool>("--no-source-check") { Description = "accept frames from other MAC/IP than the endpoint's (appliances)" };
        var create = new Command("create", "Create an endpoint (a VM's port) on a node, or many from a file") { name, network, subnet, node, mac, ip, port, ns, noSourceCheck, createFile };
        create.Validators.Add(result =>
        {
            if (result.GetValue(createFile) is not null)
            {
                if (result.GetValue(name) is not null || result.GetValue(network) is not null || result.GetValue(node) is not null)
                    result.AddError("--from-file takes every endpoint from the file: give no name, --network or --node with it");
                return;
            }
            if (result.GetValue(name) is null) result.AddError("give the endpoint's name (or --from-file FILE)");
            if (result.GetValue(network) is null) result.AddError("--network is required (or --from-file FILE)");
            if (result.GetValue(node) is null) result.AddError("--node is required (or --from-file FILE)");
        });
        Ctl.SetAction(create, async (parse, client, ct) =>
        {
            if (parse.GetValue(createFile) is { } file)
            {
                var created = await client.PostAsync("/api/v1/endpoints/bulk", new JsonObject { ["endpoints"] = ReadList(file, "endpoints") }, ct);
                if (parse.GetValue(CtlOptions.Json)) return Ctl.Show(parse, created);
                var list = created.Json?["endpoints"] as JsonArray ?? [];
                AnsiConsole.WriteLine($"created {list.Count} endpoints");
                CtlOutput.Render(AnsiConsole.Console, list, "endpoints");
                return 0;
            }
            var endpointName = parse.GetValue(name)!;
            var networkId = await Ctl.NetworkIdAsync(client, parse.GetValue(network)!, ct);
            var nodeName = parse.GetValue(node)!;
            var subnetId = parse.GetValue(subnet) is { } s ? await Ctl.SubnetIdAsync(client, networkId, s, ct) : null;
            var body = Ctl.Body(
                ("name", endpointName), ("network", networkId), ("subnet", subnetId), ("node", nodeName),
                ("mac", parse.GetValue(mac)), ("ip", parse.GetValue(ip)),
                ("port", Ctl.Body(("kind", parse.GetValue(port)), ("namespace", parse.GetValue(ns)))),
                ("sourceCheck", parse.GetValue(noSourceCheck) ? false : null));
            return Ctl.Show(parse, await client.PostAsync("/api/v1/endpoints", body, ct));
        });

        var deleteId = new Argument<string?>("endpoint") { Description = "endpoint id or name (not with --from-file)", Arity = ArgumentArity.ZeroOrOne };
        var deleteFile = new Option<FileInfo?>("--from-file")
        {
            Description = "delete many at once, atomically (all or none): a JSON file holding an array of ids, {\"ids\": [...]}, or endpoints with an id (what create --json printed)",
        };
        var delete = new Command("delete", "Delete an endpoint, or many from a file") { deleteId, deleteFile };
        delete.Validators.Add(result =>
        {
            if ((result.GetValue(deleteFile) is null) == (result.GetValue(deleteId) is null))
                result.AddError("give the endpoint to delete, or --from-file FILE (not both)");
        });
        Ctl.SetAction(delete, async (parse, client, ct) =>
        {
            if (parse.GetValue(deleteFile) is { } file)
            {
                var ids = new JsonArray(ReadIds(file).Select(i => (JsonNode?)JsonValue.Create(i)).ToArray());
                var deleted = await client.PostAsync("/api/v1/endpoints/bulk-delete", new JsonObject { ["ids"] = ids }, ct);
                return Ctl.Show(parse, deleted with { Json = null }, done: $"deleted {deleted.Json?["deleted"]} endpoints");
            }
            var id = await Ctl.EndpointIdAsync(client, parse.GetValue(deleteId)!, ct);
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

    /// <summary>The list in a JSON file: the file is an array, or an object whose <paramref name="field"/> is one.</summary>
    internal static JsonArray ReadList(FileInfo file, string field)
    {
        JsonNode? json;
        try
        {
            json = JsonNode.Parse(File.ReadAllText(file.FullName));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException)
        {
            throw new CliException($"cannot read {file.FullName}: {e.Message}");
        }
        var list = json switch
        {
            JsonArray a => a,
            JsonObject o when o[field] is JsonArray a => a,
            _ => throw new CliException($"{file.FullName} holds neither a JSON array nor an object with \"{field}\": [...]"),
        };
        list.Parent?.AsObject().Remove(field); // detach it, to send it in a body of its own
        return list;
    }

    /// <summary>Endpoint ids from a file: ids, <c>{"ids": [...]}</c>, or endpoints with an id (<c>{"endpoints": [...]}</c> or an array).</summary>
    internal static IReadOnlyList<string> ReadIds(FileInfo file)
    {
        var text = File.Exists(file.FullName) ? File.ReadAllText(file.FullName) : throw new CliException($"{file.FullName} does not exist");
        JsonNode? json;
        try { json = JsonNode.Parse(text); }
        catch (System.Text.Json.JsonException e) { throw new CliException($"{file.FullName} is not JSON: {e.Message}"); }
        var list = json switch
        {
            JsonArray a => a,
            JsonObject o when o["ids"] is JsonArray a => a,
            JsonObject o when o["endpoints"] is JsonArray a => a,
            _ => throw new CliException($"{file.FullName} holds neither a JSON array, {{\"ids\": [...]}} nor {{\"endpoints\": [...]}}"),
        };
        return list.Select((n, i) => n switch
        {
            JsonValue v when v.TryGetValue<string>(out var id) => id,
            JsonObject o when CtlClient.Text(o["id"]) is { } id => id,
            _ => throw new CliException($"item {i} of {file.FullName} is neither an id nor an endpoint with an id"),
        }).ToArray();
    }
}
