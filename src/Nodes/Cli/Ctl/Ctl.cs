using System.CommandLine;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace Fabric.Nodes.Cli.Ctl;

/// <summary>Runs one ctl action: client from the shared options, errors as one line on stderr with exit code 1.</summary>
public static class Ctl
{
    public static void SetAction(Command command, Func<ParseResult, CtlClient, CancellationToken, Task<int>> action)
        => command.SetAction(async (parse, ct) =>
        {
            try
            {
                using var client = CtlClient.From(parse);
                return await action(parse, client, ct);
            }
            catch (CtlException e) { return Errors.Fail(e.Message); }
            catch (CliException e) { return Errors.Fail(e.Message); }
        });

    /// <summary>Prints the answer: raw JSON with --json, else a table (or <paramref name="done"/> when the body is empty).</summary>
    public static int Show(ParseResult parse, CtlResponse response, string? title = null, string? done = null)
    {
        if (parse.GetValue(CtlOptions.Json))
        {
            if (!string.IsNullOrWhiteSpace(response.Raw)) Console.Out.WriteLine(response.Raw);
            return 0;
        }
        if (response.Json is null)
        {
            if (done is not null) AnsiConsole.WriteLine(done);
            return 0;
        }
        if (done is not null) AnsiConsole.WriteLine(done);
        CtlOutput.Render(AnsiConsole.Console, response.Json, title);
        return 0;
    }

    /// <summary>A network's id from its id or name (names are friendlier to type); unknown values go to the server as they are.</summary>
    public static Task<string> NetworkIdAsync(CtlClient client, string idOrName, CancellationToken ct)
        => ResolveAsync(client, "/api/v1/networks", idOrName, ct);

    public static Task<string> EndpointIdAsync(CtlClient client, string idOrName, CancellationToken ct)
        => ResolveAsync(client, "/api/v1/endpoints", idOrName, ct);

    /// <summary>A subnet's id from its id or name, looked up in the network (its <c>subnets</c>), else as it is.</summary>
    public static async Task<string> SubnetIdAsync(CtlClient client, string networkId, string idOrName, CancellationToken ct)
    {
        try
        {
            var network = await client.GetAsync($"/api/v1/networks/{Uri.EscapeDataString(networkId)}", ct);
            if (network.Json?["subnets"] is JsonArray subnets && Find(subnets, idOrName) is { } id) return id;
            var listing = await client.GetAsync($"/api/v1/networks/{Uri.EscapeDataString(networkId)}/subnets", ct);
            if (listing.Json is JsonArray list && Find(list, idOrName) is { } id2) return id2;
        }
        catch (CtlException) { }
        return idOrName;
    }

    private static async Task<string> ResolveAsync(CtlClient client, string listPath, string idOrName, CancellationToken ct)
    {
        // An id is one small read; only a name needs the list (all of it: the API has no lookup by name).
        try
        {
            if ((await client.GetAsync($"{listPath}/{Escape(idOrName)}", ct)).Json is JsonObject) return idOrName;
        }
        catch (CtlException) { }
        try
        {
            var listing = await client.GetAsync(listPath, ct);
            if (listing.Json is JsonArray list && Find(list, idOrName) is { } id) return id;
        }
        catch (CtlException) { }
        return idOrName;
    }

    private static string? Find(JsonArray list, string idOrName)
    {
        var objects = list.OfType<JsonObject>().ToArray();
        var byId = objects.FirstOrDefault(o => CtlClient.Text(o["id"]) == idOrName);
        if (byId is not null) return idOrName;
        var byName = objects.Where(o => CtlClient.Text(o["name"]) == idOrName).ToArray();
        return byName.Length == 1 ? CtlClient.Text(byName[0]["id"]) : null;
    }

    public static string Escape(string segment) => Uri.EscapeDataString(segment);

    /// <summary>A JSON object from the given fields, leaving out those that are null.</summary>
    public static JsonObject Body(params (string Name, JsonNode? Value)[] fields)
    {
        var body = new JsonObject();
        foreach (var (name, value) in fields)
            if (value is not null) body[name] = value;
        return body;
    }
}
