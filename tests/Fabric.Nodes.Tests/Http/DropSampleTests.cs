using System.Net;
using Fabric.Nodes.Cli.Ctl;
using Spectre.Console;

namespace Fabric.Nodes.Tests.Http;

/// <summary>
/// GET /api/v1/nodes/{node}/drops (issue 12): the last dropped packets of a node, with reason, port and decoded
/// headers. A guest pings into a blackhole route; the node's sample shows that very packet.
/// </summary>
[Collection(HttpCollection.Name)]
public sealed class DropSampleTests(HttpNodeFixture node)
{
    private Api Api => node.Client;
    private const string Node = HttpNodeFixture.NodeName;

    [Fact]
    public async Task A_packet_dropped_by_a_blackhole_route_is_sampled_with_its_port_and_decoded_headers()
    {
        var net = await Api.Create("/api/v1/networks", new { name = node.Name("drops"), vni = node.NextVni(), kind = "l3", cidr = "10.9.0.0/16" });
        var id = net["id"]!.GetValue<string>();
        var vni = net["vni"]!.GetValue<int>();
        await Api.Create($"/api/v1/networks/{id}/subnets", new { name = "s", cidr = "10.9.1.0/24" });
        await Api.Create($"/api/v1/networks/{id}/route-tables/main/routes", new { destination = "172.16.0.0/12", target = new { kind = "blackhole" } });
        var name = node.Name("dropper");
        var ep = await Api.Create("/api/v1/endpoints", new { name, network = id, node = Node, port = new { kind = "guest" } });
        var from = ep["id"]!.GetValue<string>();

        // Ping into the blackhole until the node has the port and the route and the echo request is dropped there.
        Answer drops = null!;
        await HttpNodeFixture.Eventually(async () =>
        {
            await Api.Post($"/api/v1/endpoints/{from}/ping", new { target = "172.16.9.9", count = 1 });
            drops = await Api.Get($"/api/v1/nodes/{Node}/drops?reason=blackhole&limit=5");
            return drops.Status == HttpStatusCode.OK && drops.Text.Contains("172.16.9.9", StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(20), "the blackholed echo request in the node's drop samples");

        Assert.Equal(Node, drops.Body["node"]!.GetValue<string>());
        Assert.True(drops.Body["enabled"]!.GetValue<bool>());
        Assert.True(drops.Body["perReason"]!.GetValue<int>() > 0);
        var samples = drops.Body["samples"]!.AsArray();
        Assert.InRange(samples.Count, 1, 5);
        var s = samples.First(x => x!["ipv4"]?["destination"]?.GetValue<string>() == "172.16.9.9")!;
        Assert.Equal("Blackhole", s["reason"]!.GetValue<string>());
        Assert.Equal(name, s["port"]!.GetValue<string>());
        Assert.Null(s["vtep"]);
        Assert.Equal(vni, s["vni"]!.GetValue<int>());
        Assert.Equal(ep["mac"]!.GetValue<string>(), s["ethernet"]!["source"]!.GetValue<string>());
        Assert.Equal("0x0800", s["ethernet"]!["etherType"]!.GetValue<string>());
        Assert.Equal(ep["ip"]!.GetValue<string>(), s["ipv4"]!["source"]!.GetValue<string>());
        Assert.Equal("icmp", s["ipv4"]!["protocol"]!.GetValue<string>());
        Assert.Equal(8, s["transport"]!["icmpType"]!.GetValue<int>());
        Assert.Contains("echo-request", s["summary"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.True(DateTimeOffset.UtcNow - s["at"]!.GetValue<DateTimeOffset>() < TimeSpan.FromMinutes(1));
        Assert.Equal(s["length"]!.GetValue<int>() * 2, s["hex"]!.GetValue<string>().Length); // a ping fits in 128 bytes: all of it

        // fabric ctl drops: the same answer as one table row per drop, with the node, the reason, the port and the packet.
        var screen = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(screen), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors });
        console.Profile.Width = 250;
        DropsCommand.Render(console, [drops.Body]);
        var table = screen.ToString();
        Assert.Contains("Blackhole", table, StringComparison.Ordinal);
        Assert.Contains($"port {name}", table, StringComparison.Ordinal);
        Assert.Contains("→ 172.16.9.9 icmp echo-request", table, StringComparison.Ordinal);

        // Every reason, newest first; a reason nothing was dropped for has no samples.
        var all = await Api.Get($"/api/v1/nodes/{Node}/drops");
        Assert.Equal(HttpStatusCode.OK, all.Status);
        Assert.Contains(all.Body["samples"]!.AsArray(), x => x!["reason"]!.GetValue<string>() == "Blackhole");
        var none = await Api.Get($"/api/v1/nodes/{Node}/drops?reason=TxOverflow");
        Assert.Empty(none.Body["samples"]!.AsArray());
    }

    [Fact]
    public async Task A_bad_reason_or_limit_is_a_400_naming_the_field_and_an_unknown_node_a_404()
    {
        foreach (var reason in new[] { "nonsense", "None", "3", "" })
            Problem.Assert(await Api.Get($"/api/v1/nodes/{Node}/drops?reason={reason}"), HttpStatusCode.BadRequest, "reason", "invalid-reason");
        foreach (var limit in new[] { "0", "-1", "1001", "ten", "1.5" })
            Problem.Assert(await Api.Get($"/api/v1/nodes/{Node}/drops?limit={limit}"), HttpStatusCode.BadRequest, "limit", "invalid-limit");
        Problem.Assert(await Api.Get("/api/v1/nodes/no-such-node/drops"), HttpStatusCode.NotFound, "node", "node-not-found");
        Assert.Equal(HttpStatusCode.OK, (await Api.Get($"/api/v1/nodes/{Node}/drops?reason=tooBig&limit=1000")).Status);
    }
}
