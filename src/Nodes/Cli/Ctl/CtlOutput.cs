using System.Globalization;
using System.Text.Json.Nodes;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Fabric.Nodes.Cli.Ctl;

/// <summary>
/// People's view of API answers: an array of objects is a table (one column per field), an object is a
/// two-column table with any list of objects in it shown as a table of its own below. Nothing is hidden:
/// fields the client does not know about still show.
/// </summary>
public static class CtlOutput
{
    public static void Render(IAnsiConsole console, JsonNode? json, string? title = null)
    {
        switch (json)
        {
            case null:
                return;
            case JsonArray array:
                console.Write(ArrayTable(array, title));
                break;
            case JsonObject obj:
                var (table, nested) = ObjectTable(obj, title);
                console.Write(table);
                foreach (var (name, list) in nested) console.Write(ArrayTable(list, name));
                break;
            default:
                console.WriteLine(Cell(json));
                break;
        }
    }

    public static IRenderable ArrayTable(JsonArray array, string? title)
    {
        var table = new Table().Border(TableBorder.Rounded);
        if (title is not null) table.Title(title);
        if (array.Count == 0)
        {
            table.AddColumn("(none)");
            return table;
        }
        if (array.All(e => e is not JsonObject))
        {
            table.AddColumn(title ?? "value");
            foreach (var e in array) table.AddRow(Markup.Escape(Cell(e)));
            return table;
        }
        var columns = new List<string>();
        foreach (var e in array.OfType<JsonObject>())
            foreach (var (key, _) in e)
                if (!columns.Contains(key)) columns.Add(key);
        foreach (var c in columns) table.AddColumn(Markup.Escape(c));
        foreach (var e in array)
            table.AddRow(columns.Select(c => Markup.Escape(e is JsonObject o ? Cell(o[c]) : "")).ToArray());
        return table;
    }

    private static (Table Table, List<(string Name, JsonArray List)> Nested) ObjectTable(JsonObject obj, string? title)
    {
        var table = new Table().Border(TableBorder.Rounded).HideHeaders();
        if (title is not null) table.Title(title);
        table.AddColumn("field");
        table.AddColumn("value");
        var nested = new List<(string, JsonArray)>();
        foreach (var (key, value) in obj)
        {
            if (value is JsonArray list && list.Any(e => e is JsonObject))
            {
                nested.Add((key, list));
                table.AddRow(Markup.Escape(key), $"{list.Count} (below)");
            }
            else table.AddRow(Markup.Escape(key), Markup.Escape(Cell(value)));
        }
        return (table, nested);
    }

    /// <summary>A value in one cell: scalars as they are, lists joined, objects as key=value pairs.</summary>
    public static string Cell(JsonNode? node) => node switch
    {
        null => "",
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonValue v when v.TryGetValue<bool>(out var b) => b ? "yes" : "no",
        JsonValue v when v.TryGetValue<double>(out var d) => d.ToString(CultureInfo.InvariantCulture),
        JsonArray a => string.Join(", ", a.Select(Cell)),
        JsonObject o => string.Join(" ", o.Select(kv => $"{kv.Key}={Cell(kv.Value)}")),
        _ => node.ToJsonString(),
    };

    /// <summary>One line for a ping answer, like ping's summary.</summary>
    public static string PingSummary(string from, string target, JsonNode? json)
    {
        var sent = Int(json?["sent"]);
        var received = Int(json?["received"]);
        var rtts = (json?["rttMs"] as JsonArray)?.Select(n => n?.GetValue<double>() ?? 0).ToArray() ?? [];
        var ttls = (json?["replyTtl"] as JsonArray)?.Select(n => Int(n)).Distinct().ToArray() ?? [];
        var loss = sent == 0 ? 0 : 100.0 * (sent - received) / sent;
        var line = $"{from} → {target}: {sent} sent, {received} received, {loss.ToString("0", CultureInfo.InvariantCulture)}% loss";
        if (rtts.Length > 0)
            line += string.Create(CultureInfo.InvariantCulture, $"; rtt min/avg/max {rtts.Min():0.000}/{rtts.Average():0.000}/{rtts.Max():0.000} ms");
        if (ttls.Length > 0) line += $"; ttl {string.Join(",", ttls)}";
        if (json?["error"] is { } error && CtlClient.Text(error) is { Length: > 0 } message) line += $"; {message}";
        return line;
    }

    private static int Int(JsonNode? node) => node is JsonValue v && v.TryGetValue<double>(out var d) ? (int)d : 0;
}
