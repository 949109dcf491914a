using System.CommandLine;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace Fabric.Nodes.Cli.Ctl;

/// <summary>
/// <c>fabric ctl trace ENDPOINT DESTINATION [--tcp PORT|--udp PORT|--icmp] [--count N] [--no-deliver]</c>: real probes
/// from the endpoint's port, followed through every node (POST /api/v1/trace); one table of hops per probe, then its
/// verdict and its answer's.
/// </summary>
public static class TraceCommand
{
    public static Command Create()
    {
        var endpoint = new Argument<string>("endpoint") { Description = "the endpoint the probes leave from (id or name), as if its VM sent them" };
        var destination = new Argument<string>("destination") { Description = "IPv4 address to trace to" };
        var tcp = new Option<int?>("--tcp") { Description = "a TCP SYN to this port" };
        var udp = new Option<int?>("--udp") { Description = "a UDP datagram to this port" };
        var icmp = new Option<bool>("--icmp") { Description = "an ICMP echo request (the default)" };
        var count = new Option<int?>("--count") { Description = "how many probes, 1..10 (default 1)" };
        var noDeliver = new Option<bool>("--no-deliver") { Description = "stop each probe at its last hop, counted, instead of delivering it to the destination VM" };
        var command = new Command("trace", "Follow real probe packets from an endpoint through every node they cross: hops, decisions, verdict")
            { endpoint, destination, tcp, udp, icmp, count, noDeliver };
        command.Validators.Add(result =>
        {
            var given = (result.GetValue(tcp) is null ? 0 : 1) + (result.GetValue(udp) is null ? 0 : 1) + (result.GetValue(icmp) ? 1 : 0);
            if (given > 1) result.AddError("give one of --tcp PORT, --udp PORT or --icmp");
        });
        Ctl.SetAction(command, async (parse, client, ct) =>
        {
            var id = await Ctl.EndpointIdAsync(client, parse.GetValue(endpoint)!, ct);
            var (protocol, port) = parse.GetValue(tcp) is { } t ? ("tcp", (int?)t) : parse.GetValue(udp) is { } u ? ("udp", u) : ("icmp", null);
            var body = Ctl.Body(("endpoint", id), ("destination", parse.GetValue(destination)), ("protocol", protocol),
                ("port", port is { } p ? JsonValue.Create(p) : null), ("count", parse.GetValue(count) is { } c ? JsonValue.Create(c) : null),
                ("stopAtLastHop", parse.GetValue(noDeliver) ? JsonValue.Create(true) : null));
            var response = await client.PostAsync("/api/v1/trace", body, ct);
            if (parse.GetValue(CtlOptions.Json))
            {
                Console.Out.WriteLine(response.Raw);
                return 0;
            }
            Render(AnsiConsole.Console, response.Json);
            return 0;
        });
        return command;
    }

    /// <summary>Per probe: a table of its hops (and its answer's), then one line with the verdict.</summary>
    public static void Render(IAnsiConsole console, JsonNode? json)
    {
        if (json is not JsonObject trace) return;
        var port = CtlClient.Text(trace["port"]);
        console.MarkupLine(Markup.Escape($"trace from {CtlClient.Text(trace["endpoint"])} on {CtlClient.Text(trace["node"])} to {CtlClient.Text(trace["destination"])} " +
                                         $"{CtlClient.Text(trace["protocol"])}{(port is null ? "" : " " + port)}" +
                                         $"{(trace["stopAtLastHop"]?.GetValue<bool>() == true ? " (not delivered)" : "")}, " +
                                         $"destination MAC by {CtlClient.Text(trace["resolution"]) ?? "?"}, {trace["elapsedMs"]?.GetValue<double>() ?? 0:0} ms"));
        foreach (var probe in (trace["probes"] as JsonArray ?? []).OfType<JsonObject>())
        {
            console.Write(Hops($"probe {CtlClient.Text(probe["id"])}", probe["hops"] as JsonArray));
            console.MarkupLine(Markup.Escape("  " + Verdict(probe)));
            if (probe["reply"] is JsonObject reply)
            {
                console.Write(Hops("its answer", reply["hops"] as JsonArray));
                console.MarkupLine(Markup.Escape("  answer " + Verdict(reply)));
            }
        }
        if (trace["silent"] is JsonArray { Count: > 0 } silent)
            console.MarkupLine(Markup.Escape($"no answer in time from {string.Join(", ", silent.Select(n => CtlClient.Text(n)))}: their hops are missing"));
    }

    private static Table Hops(string title, JsonArray? hops)
    {
        var table = new Table().Border(TableBorder.Rounded).Title(Markup.Escape(title));
        foreach (var c in new[] { "+µs", "node", "stage", "decision", "snapshot" }) table.AddColumn(c);
        var first = hops?.OfType<JsonObject>().FirstOrDefault()?["atUs"]?.GetValue<long>() ?? 0;
        foreach (var hop in (hops ?? []).OfType<JsonObject>())
            table.AddRow(Markup.Escape(((hop["atUs"]?.GetValue<long>() ?? 0) - first).ToString()), Markup.Escape(CtlClient.Text(hop["node"]) ?? ""),
                Markup.Escape(CtlClient.Text(hop["stage"]) ?? ""), Markup.Escape(CtlClient.Text(hop["decision"]?["summary"]) ?? ""),
                Markup.Escape(CtlClient.Text(hop["snapshotVersion"]) ?? ""));
        if (hops is not { Count: > 0 }) table.AddRow("", "(no hop recorded)", "", "", "");
        return table;
    }

    private static string Verdict(JsonObject leg)
    {
        var verdict = CtlClient.Text(leg["verdict"]);
        var last = CtlClient.Text((leg["hops"] as JsonArray)?.LastOrDefault()?["decision"]?["kind"]);
        return verdict switch
        {
            "delivered" when last == "stopped" => $"reached {CtlClient.Text(leg["port"])} on {CtlClient.Text(leg["node"])}: stopped there, not delivered",
            "delivered" when last == "absorbed" => $"reached {CtlClient.Text(leg["port"])} on {CtlClient.Text(leg["node"])}: kept from the VM (it never sent the probe)",
            "delivered" => $"delivered on {CtlClient.Text(leg["node"])} to {CtlClient.Text(leg["port"])}",
            "external" => $"sent to external VTEP {CtlClient.Text(leg["vtep"])} by {CtlClient.Text(leg["node"])} (the trace ends there)",
            _ => $"dropped{(leg["node"] is null ? "" : " on " + CtlClient.Text(leg["node"]))}: {CtlClient.Text(leg["reason"])}",
        };
    }
}
