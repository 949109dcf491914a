using System.CommandLine;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace Fabric.Nodes.Cli.Ctl;

/// <summary>
/// <c>fabric ctl drops [--node N] [--reason R] [--limit N]</c>: the last packets the dataplane dropped, newest first,
/// with why, where from and their headers (GET /api/v1/nodes/{node}/drops). Without --node, every member's.
/// </summary>
public static class DropsCommand
{
    public static Command Create()
    {
        var node = new Option<string?>("--node") { Description = "only this node (default: every member)" };
        var reason = new Option<string?>("--reason") { Description = "only this drop reason (e.g. NoRoute, SpoofedSource, TooBig)" };
        var limit = new Option<int?>("--limit") { Description = "at most this many per node (server default 50)" };
        var command = new Command("drops", "The last dropped packets of a node (or of every node), with reason and decoded headers") { node, reason, limit };
        Ctl.SetAction(command, async (parse, client, ct) =>
        {
            var query = new List<string>();
            if (parse.GetValue(reason) is { } r) query.Add($"reason={Ctl.Escape(r)}");
            if (parse.GetValue(limit) is { } l) query.Add($"limit={l}");
            var q = query.Count == 0 ? "" : "?" + string.Join('&', query);
            var nodes = parse.GetValue(node) is { } one ? [one] : await MemberNamesAsync(client, ct);
            var listings = new List<JsonNode>();
            foreach (var n in nodes)
                if ((await client.GetAsync($"/api/v1/nodes/{Ctl.Escape(n)}/drops{q}", ct)).Json is { } json) listings.Add(json);
            if (parse.GetValue(CtlOptions.Json))
            {
                Console.Out.WriteLine(nodes.Length == 1 && listings.Count == 1 ? listings[0].ToJsonString() : new JsonArray([.. listings.Select(j => j.DeepClone())]).ToJsonString());
                return 0;
            }
            Render(AnsiConsole.Console, listings);
            return 0;
        });
        return command;
    }

    private static async Task<string[]> MemberNamesAsync(CtlClient client, CancellationToken ct)
        => (await client.GetAsync("/cluster/members", ct)).Json is JsonArray members
            ? members.OfType<JsonObject>().Select(m => CtlClient.Text(m["name"])).Where(n => !string.IsNullOrEmpty(n)).Select(n => n!).ToArray()
            : [];

    /// <summary>One table across nodes, newest first: time, node, reason, where from, network, what it was.</summary>
    public static void Render(IAnsiConsole console, IReadOnlyList<JsonNode> listings)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("dropped packets");
        foreach (var c in new[] { "at", "node", "reason", "from", "vni", "packet" }) table.AddColumn(c);
        var rows = new List<(string At, string[] Cells)>();
        var off = new List<string>();
        foreach (var listing in listings.OfType<JsonObject>())
        {
            var name = CtlClient.Text(listing["node"]) ?? "?";
            if (listing["enabled"]?.GetValue<bool>() == false) { off.Add(name); continue; }
            foreach (var s in (listing["samples"] as JsonArray ?? []).OfType<JsonObject>())
            {
                var at = CtlClient.Text(s["at"]) ?? "";
                var from = CtlClient.Text(s["port"]) is { } port ? $"port {port}" : CtlClient.Text(s["vtep"]) is { } vtep ? $"vtep {vtep}" : "";
                rows.Add((at, [at, name, CtlClient.Text(s["reason"]) ?? "", from, CtlClient.Text(s["vni"]) ?? "", CtlClient.Text(s["summary"]) ?? ""]));
            }
        }
        foreach (var (_, cells) in rows.OrderByDescending(r => r.At, StringComparer.Ordinal)) table.AddRow(cells.Select(Markup.Escape).ToArray());
        if (rows.Count == 0) table.AddRow("(none)", "", "", "", "", "");
        console.Write(table);
        if (off.Count > 0) console.MarkupLine(Markup.Escape($"drop sampling is off on {string.Join(", ", off)} (fabric.dataplane.drop-samples.enabled)"));
    }
}
