using System.Net;
using Fabric.Actors.Node;
using Fabric.Dataplane.Events;
using Fabric.Dataplane.Packets;
using Fabric.Nodes.Tests.Cli;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace Fabric.Nodes.Tests.Ui;

/// <summary>
/// The topology page (<c>GET /ui</c>) in a real browser: the Debian chromium, headless, driven by Playwright, against a
/// running three-node cluster. Each test opens its own tab; none reloads the page after it has loaded.
/// </summary>
[Collection(LocalClusterCollection.Name)] // a three-node cluster: not beside the other cluster tests on two cores
public sealed class TopologyPageTests(UiCluster cluster, ITestOutputHelper output) : IClassFixture<UiCluster>
{
    private static async Task SignInAsync(IPage page, string token)
    {
        await page.Locator("#token").FillAsync(token);
        await page.Locator("#login-form button[type=submit]").ClickAsync();
    }

    private static ILocator EndpointNode(IPage page, string id) => page.Locator($"#networks tr[data-endpoint='{id}'] td.node");

    [ChromiumFact]
    public async Task The_page_lists_the_nodes_and_the_endpoints_where_they_run()
    {
        var page = await cluster.OpenAsync(1);
        await SignInAsync(page, UiCluster.Token);
        for (int i = 0; i < UiCluster.Nodes; i++)
        {
            var row = page.Locator($"#nodes tr[data-node='{UiCluster.Name(i)}']");
            await Assertions.Expect(row).ToContainTextAsync("up");
            await Assertions.Expect(row).ToContainTextAsync(cluster.Runtimes[i].Self.Vtep.ToString());
            await Assertions.Expect(page.Locator($"#topology g.node[data-node='{UiCluster.Name(i)}']")).ToHaveCountAsync(1);
        }
        // Where the endpoints are now (another test may have moved one), as the API says.
        var endpoints = (await cluster.Apis[0].Get($"/api/v1/endpoints?network={cluster.NetworkId}")).Body.AsArray();
        Assert.Equal(UiCluster.Nodes, endpoints.Count);
        foreach (var e in endpoints)
        {
            await Assertions.Expect(EndpointNode(page, e!["id"]!.GetValue<string>())).ToHaveTextAsync(e["node"]!.GetValue<string>());
            await Assertions.Expect(page.Locator($"#networks tr[data-endpoint='{e["id"]}']")).ToContainTextAsync(e["ip"]!.GetValue<string>());
        }
        // The network's flood group joins every two nodes that host its endpoints: a line for each such pair (a node that
        // had one until a move may still flood to them for a moment, so more lines may show; none of these may be missing).
        var hosts = endpoints.Select(e => e!["node"]!.GetValue<string>()).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        for (var a = 0; a < hosts.Length; a++)
            for (var b = a + 1; b < hosts.Length; b++)
                await Assertions.Expect(page.Locator($"#edges line.flood[data-flood='{hosts[a]}|{hosts[b]}']")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator("#live")).ToHaveTextAsync("live");
        output.WriteLine(await page.Locator("#nodes").InnerTextAsync());
    }

    /// <summary>
    /// A large fabric (past ?fold=N endpoints; 500 by default): each network is folded until opened, and a filter finds
    /// an endpoint by name, IP or node, so the page never lays out every row of 100,000 on a change.
    /// </summary>
    [ChromiumFact]
    public async Task A_large_fabric_folds_its_networks_and_a_filter_finds_an_endpoint()
    {
        var page = await cluster.OpenAsync(0, "?fold=1");
        await SignInAsync(page, UiCluster.Token);
        var network = page.Locator($"#networks details.network[data-network='{cluster.NetworkId}']");
        await Assertions.Expect(network).ToHaveCountAsync(1);
        await Assertions.Expect(network).ToContainTextAsync($"{UiCluster.Nodes} endpoints");
        await Assertions.Expect(page.Locator("#networks tr[data-endpoint]")).ToHaveCountAsync(0); // folded: no rows laid out
        var e = cluster.Endpoints[1];
        await page.Locator("#endpoint-filter").FillAsync(e["ip"]!.GetValue<string>());
        await Assertions.Expect(page.Locator("#networks tr[data-endpoint]")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator($"#networks tr[data-endpoint='{e["id"]}']")).ToBeVisibleAsync();
        await page.Locator("#endpoint-filter").FillAsync("");
        await network.Locator("summary").ClickAsync(); // opened by hand: every row of the network
        await Assertions.Expect(page.Locator("#networks tr[data-endpoint]")).ToHaveCountAsync(UiCluster.Nodes);
    }

    [ChromiumFact]
    public async Task A_move_shows_on_the_page_without_reloading()
    {
        var page = await cluster.OpenAsync(0);
        await SignInAsync(page, UiCluster.Token);
        var e = cluster.Endpoints[2];
        var id = e["id"]!.GetValue<string>();
        var from = e["node"]!.GetValue<string>();
        await Assertions.Expect(EndpointNode(page, id)).ToHaveTextAsync(from);
        await Assertions.Expect(page.Locator("#live")).ToHaveTextAsync("live");
        // Past the page's one re-read of the state (2.5 s after its stream opened): from here on, only the event stream
        // can bring the move to it.
        await page.WaitForTimeoutAsync(3000);
        // A mark in this very document: a reload would lose it.
        await page.EvaluateAsync("() => { window.__sameDocument = 'yes'; }");

        var to = from == UiCluster.Name(1) ? UiCluster.Name(0) : UiCluster.Name(1);
        var moved = await cluster.Apis[2].Put($"/api/v1/endpoints/{id}/node", new { node = to });
        Assert.True(moved.Status is HttpStatusCode.OK or HttpStatusCode.Accepted, $"move: {moved}");

        await Assertions.Expect(EndpointNode(page, id)).ToHaveTextAsync(to);
        await Assertions.Expect(page.Locator($"#topology g.node[data-node='{to}'] g.ep[data-endpoint='{id}']")).ToHaveCountAsync(1);
        Assert.Equal("yes", await page.EvaluateAsync<string>("() => window.__sameDocument"));

        // An alarm raised on another node shows too (an address conflict, as ui-2's dataplane would report it: ui-2 hosts
        // vm-2, which no test moves, so it serves the network).
        cluster.Runtimes[1].System.ActorSelection("/user/vteps").Tell(new DataplaneEvents(cluster.Vni,
            [new DataplaneEvent(DataplaneEventKind.AddressConflict, cluster.Vni, MacAddress.Parse("02:00:00:61:00:01"),
                Ipv4Address.Parse("10.61.1.200"), Fabric.Dataplane.Tables.Location.Local(1), MacAddress.Parse("02:00:00:61:00:02"))]));
        await Assertions.Expect(page.Locator($"#alarms li[data-kind='address-conflict'][data-node='{UiCluster.Name(1)}']")).ToContainTextAsync("10.61.1.200");
        Assert.Equal("yes", await page.EvaluateAsync<string>("() => window.__sameDocument"));

        if (Environment.GetEnvironmentVariable("FABRIC_UI_SCREENSHOTS") is { Length: > 0 } dir)
        {
            // Some traffic for the picture: echoes between two nodes, and one to an address nobody has (dropped, with its reason).
            var vm1 = cluster.Endpoints[0]["id"]!.GetValue<string>();
            await cluster.Apis[0].Post($"/api/v1/endpoints/{vm1}/ping", new { target = cluster.Endpoints[1]["ip"]!.GetValue<string>(), count = 3 });
            await cluster.Apis[0].Post($"/api/v1/endpoints/{vm1}/ping", new { target = "10.61.1.250", count = 1 });
            await page.WaitForTimeoutAsync(3500);
            // Counters come by every few seconds; wait for them so the picture shows them.
            await Assertions.Expect(page.Locator("#counter-table tbody tr")).ToHaveCountAsync(UiCluster.Nodes);
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(dir, "ui-topology.png"), FullPage = true });
        }
    }

    [ChromiumFact]
    public async Task A_trace_run_from_the_page_draws_its_hops()
    {
        var page = await cluster.OpenAsync(1);
        await SignInAsync(page, UiCluster.Token);
        // vm-1 (ui-1) to vm-2 (ui-2): neither is moved by another test.
        var from = cluster.Endpoints[0]["id"]!.GetValue<string>();
        var to = cluster.Endpoints[1]["ip"]!.GetValue<string>();
        await Assertions.Expect(page.Locator($"#trace-endpoint option[value='{from}']")).ToHaveCountAsync(1);
        await page.SelectOptionAsync("#trace-endpoint", from);
        await page.FillAsync("#trace-destination", to);
        await page.ClickAsync("[data-testid=trace-run]");

        await Assertions.Expect(page.Locator("#trace-note")).ToHaveAttributeAsync("data-verdict", "delivered");
        await Assertions.Expect(page.Locator("#trace-note")).ToContainTextAsync($"delivered on {UiCluster.Name(1)}");
        // b's machine answered: its hops are listed too, marked as the answer's.
        await Assertions.Expect(page.Locator("#trace-hops li[data-reply][data-kind='absorbed']")).ToHaveCountAsync(1);
        // The path: one arrow from ui-1 to ui-2 over the topology, both nodes ringed, and every hop listed.
        await Assertions.Expect(page.Locator("#trace line.hop")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator($"#trace circle[data-trace-node='{UiCluster.Name(0)}']")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator($"#trace circle[data-trace-node='{UiCluster.Name(1)}']")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator("#trace-hops li[data-kind='routed']:not([data-reply])")).ToContainTextAsync("route 10.61.0.0/16");
        await Assertions.Expect(page.Locator("#trace-hops li[data-kind='delivered']")).ToContainTextAsync(UiCluster.Name(1));
        if (Environment.GetEnvironmentVariable("FABRIC_UI_SCREENSHOTS") is { Length: > 0 } dir)
            await page.Locator("#topology-panel").ScreenshotAsync(new LocatorScreenshotOptions { Path = Path.Combine(dir, "ui-trace.png") });

        // A drop draws no arrow and says where and why.
        await page.FillAsync("#trace-destination", "10.99.9.9");
        await page.ClickAsync("[data-testid=trace-run]");
        await Assertions.Expect(page.Locator("#trace-note")).ToHaveAttributeAsync("data-verdict", "dropped");
        await Assertions.Expect(page.Locator("#trace-note")).ToContainTextAsync($"dropped on {UiCluster.Name(0)}: NoRoute");
        await Assertions.Expect(page.Locator("#trace line.hop")).ToHaveCountAsync(0);
    }

    [ChromiumFact]
    public async Task A_wrong_token_is_refused_with_a_visible_message()
    {
        var page = await cluster.OpenAsync(2);
        await SignInAsync(page, "not-the-token");
        var error = page.Locator("#login-error");
        await Assertions.Expect(error).ToBeVisibleAsync();
        await Assertions.Expect(error).ToContainTextAsync("Token refused");
        await Assertions.Expect(page.Locator("#app")).ToBeHiddenAsync();
        Assert.Null(await page.EvaluateAsync<string?>("() => sessionStorage.getItem('fabric-token')"));

        // The right one then opens it, in the same tab.
        await SignInAsync(page, UiCluster.Token);
        await Assertions.Expect(page.Locator("#app")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("#nodes tbody tr")).ToHaveCountAsync(UiCluster.Nodes);
    }
}
