using System.CommandLine;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace Fabric.Nodes.Cli.Ctl;

/// <summary>
/// <c>fabric ctl alarms [--kind K] [--node N]</c>: every node's current alarms (duplicate MAC, address conflict, path
/// MTU), oldest first (GET /api/v1/alarms). Exit 0 with or without alarms: a script reads <c>--json</c>.
/// </summary>
public static class AlarmsCommand
{
    public static Command Create()
    {
        var kind = new Option<string?>("--kind") { Description = "only this kind: duplicate-mac, address-conflict or path-mtu" };
        var node = new Option<string?>("--node") { Description = "only the alarms this node raised" };
        var command = new Command("alarms", "Every node's current alarms: duplicate MACs, address conflicts, underlay path MTU") { kind, node };
        Ctl.SetAction(command, async (parse, client, ct) =>
        {
            var query = new List<string>();
            if (parse.GetValue(kind) is { } k) query.Add($"kind={Ctl.Escape(k)}");
            if (parse.GetValue(node) is { } n) query.Add($"node={Ctl.Escape(n)}");
            var answer = await client.GetAsync("/api/v1/alarms" + (query.Count == 0 ? "" : "?" + string.Join('&', query)), ct);
            if (parse.GetValue(CtlOptions.Json))
            {
                Console.Out.WriteLine(answer.Json?.ToJsonString() ?? "[]");
                return 0;
            }
            Render(AnsiConsole.Console, answer.Json as JsonArray ?? []);
            return 0;
        });
        return command;
    }

    /// <summary>One row per alarm: since when, which node raised it, its kind, and what it says (the path, the MACs).</summary>
    public static void Render(IAnsiConsole console, JsonArray alarms)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("alarms");
        foreach (var c in new[] { "since", "node", "kind", "detail" }) table.AddColumn(c);
        foreach (var a in alarms.OfType<JsonObject>())
            table.AddRow(new[] { a["since"], a["node"], a["kind"], a["detail"] }.Select(v => Markup.Escape(CtlClient.Text(v) ?? "")).ToArray());
        if (alarms.Count == 0) table.AddRow("(none)", "", "", "");
        console.Write(table);
    }
}
