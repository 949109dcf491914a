using System.Net;
using System.Text.RegularExpressions;

namespace Fabric.Nodes.Tests.Http;

[Collection(HttpCollection.Name)]
public sealed class NodeQueryTests(HttpNodeFixture node)
{
    private Api Api => node.Client;
    private const string Node = HttpNodeFixture.NodeName;

    [Fact]
    public async Task Fdb_routes_flood_groups_and_counters_of_a_node()
    {
        var net = await Api.Create("/api/v1/networks", new { name = node.Name("q"), vni = node.NextVni(), kind = "l3", cidr = "10.8.0.0/16" });
        var id = net["id"]!.GetValue<string>();
        var vni = net["vni"]!.GetValue<int>();
        await Api.Create($"/api/v1/networks/{id}/subnets", new { name = "s", cidr = "10.8.1.0/24" });
        await Api.Create($"/api/v1/networks/{id}/route-tables/main/routes", new { destination = "172.16.0.0/12", target = new { kind = "blackhole" } });
        await Api.Create($"/api/v1/networks/{id}/external-vteps", new { address = "192.0.2.30" });
        var ep = await Api.Create("/api/v1/endpoints", new { name = "vm", network = id, node = Node, port = new { kind = "guest" } });

        // The node's snapshot catches up with the configuration shortly after the write.
        await HttpNodeFixture.Eventually(async () =>
        {
            var f = await Api.Get($"/api/v1/nodes/{Node}/fdb?network={id}");
            return f.Status == HttpStatusCode.OK && f.Body["entries"]!.AsArray().Any(e => e!["mac"]!.GetValue<string>() == ep["mac"]!.GetValue<string>());
        }, TimeSpan.FromSeconds(15), "the endpoint in the node's FDB");

        var fdb = await Api.Get($"/api/v1/nodes/{Node}/fdb?network={id}");
        Assert.Equal(Node, fdb.Body["node"]!.GetValue<string>());
        Assert.Equal(id, fdb.Body["network"]!.GetValue<string>());
        var entry = fdb.Body["entries"]!.AsArray().Single(e => e!["mac"]!.GetValue<string>() == ep["mac"]!.GetValue<string>())!;
        Assert.Equal(ep["ip"]!.GetValue<string>(), entry["ip"]!.GetValue<string>());
        Assert.Equal("local:vm", entry["location"]!.GetValue<string>());
        Assert.Equal(vni, entry["vni"]!.GetValue<int>());
        Assert.Equal(0, entry["seq"]!.GetValue<long>());
        var all = await Api.Get($"/api/v1/nodes/{Node}/fdb");
        Assert.Equal(HttpStatusCode.OK, all.Status);
        Assert.Null(all.Body["network"]);
        Assert.Contains(all.Body["entries"]!.AsArray(), e => e!["network"]!.GetValue<string>() == id);

        // Route tables are resolved by their VRF shard, which reaches the node's snapshot on its own schedule.
        Answer routes = null!;
        await HttpNodeFixture.Eventually(async () =>
        {
            routes = await Api.Get($"/api/v1/nodes/{Node}/routes?network={id}");
            return routes.Status == HttpStatusCode.OK && routes.Text.Contains("172.16.0.0/12", StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(15), "the blackhole route in the node's snapshot");
        Assert.Equal(vni, routes.Body["vni"]!.GetValue<int>());
        var rows = routes.Body["routes"]!.AsArray();
        Assert.Contains(rows, r => r!["destination"]!.GetValue<string>() == "172.16.0.0/12" && r["target"]!.GetValue<string>() == "blackhole");
        Assert.Contains(rows, r => r!["destination"]!.GetValue<string>() == "10.8.0.0/16" && r["target"]!.GetValue<string>() == "local");
        Assert.All(rows, r => Assert.Equal("main", r!["routeTable"]!.GetValue<string>()));
        Assert.Equal(HttpStatusCode.OK, (await Api.Get($"/api/v1/nodes/{Node}/routes?network={id}&routeTable=main")).Status);

        var flood = await Api.Get($"/api/v1/nodes/{Node}/flood-groups?network={id}");
        Assert.Equal(HttpStatusCode.OK, flood.Status);
        Assert.Equal(id, flood.Body["network"]!.GetValue<string>());
        Assert.Contains(flood.Body["members"]!.AsArray(), m => m!.GetValue<string>().StartsWith("192.0.2.30", StringComparison.Ordinal));

        var counters = await Api.Get($"/api/v1/nodes/{Node}/counters");
        Assert.Equal(HttpStatusCode.OK, counters.Status);
        Assert.Equal(Node, counters.Body["node"]!.GetValue<string>());
        Assert.Contains(counters.Body["networks"]!.AsArray(), n => n!["name"]!.GetValue<string>().Contains($"vni {vni}", StringComparison.Ordinal));
        Assert.Contains(counters.Body["ports"]!.AsArray(), p => p!["name"]!.GetValue<string>() == "vm");
        Assert.True(counters.Body["snapshotVersion"]!.GetValue<long>() > 0);
    }

    [Fact]
    public async Task Unknown_nodes_networks_and_route_tables_are_404_and_a_missing_network_400()
    {
        var net = await Api.Create("/api/v1/networks", new { name = node.Name("q"), vni = node.NextVni(), kind = "l2" });
        var id = net["id"]!.GetValue<string>();
        foreach (var what in new[] { "fdb", "routes?network=" + id, "flood-groups?network=" + id, "counters" })
            Problem.Assert(await Api.Get($"/api/v1/nodes/no-such-node/{what}"), HttpStatusCode.NotFound, "node", "node-not-found");
        foreach (var what in new[] { "fdb", "routes", "flood-groups" })
            Problem.Assert(await Api.Get($"/api/v1/nodes/{Node}/{what}?network=net-999999"), HttpStatusCode.NotFound, "network", "network-not-found");
        foreach (var what in new[] { "routes", "flood-groups" })
            Problem.Assert(await Api.Get($"/api/v1/nodes/{Node}/{what}"), HttpStatusCode.BadRequest, "network", "network-required");
        Problem.Assert(await Api.Get($"/api/v1/nodes/{Node}/routes?network={id}&routeTable=nope"), HttpStatusCode.NotFound, "routeTable");
    }

    [Fact]
    public async Task Metrics_count_drops_per_vni_and_reason()
    {
        var net = await Api.Create("/api/v1/networks", new { name = node.Name("drops"), vni = node.NextVni(), kind = "l3", cidr = "10.9.0.0/16" });
        var id = net["id"]!.GetValue<string>();
        var vni = net["vni"]!.GetValue<int>();
        await Api.Create($"/api/v1/networks/{id}/subnets", new { name = "s", cidr = "10.9.1.0/24" });
        var ep = await Api.Create("/api/v1/endpoints", new { name = "lonely", network = id, node = Node, port = new { kind = "guest" } });
        var from = ep["id"]!.GetValue<string>();

        // An l3 network answers ARP for its endpoints only: asking for an address nobody owns is dropped and counted.
        // Pinged until the drop shows: a ping that starts before the port and its network reach the forwarding snapshot
        // loses its ARP as UnknownPort instead (and still answers 200, received 0).
        var drops = new Regex($@"^fabric_vni_drops_total\{{vni=""{vni}"",network=""{net["name"]}"",reason=""ArpUnresolved""\}} (\d+)", RegexOptions.Multiline);
        var text = "";
        Match drop = Match.Empty;
        await HttpNodeFixture.Eventually(async () =>
        {
            var p = await Api.Post($"/api/v1/endpoints/{from}/ping", new { target = "10.9.1.200", count = 1 });
            if (p.Status != HttpStatusCode.OK) return false;
            Assert.Equal(0, p.Body["received"]!.GetValue<int>());
            text = (await new Api(node.Anonymous, null).Get("/metrics")).Text;
            drop = drops.Match(text);
            return drop.Success;
        }, TimeSpan.FromSeconds(20), "a ping from a plugged guest, counted as ArpUnresolved");

        Assert.True(long.Parse(drop.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) >= 1);
        Assert.Matches(new Regex($@"^fabric_port_drops_total\{{port=""lonely"",vni=""{vni}"",reason=""ArpUnresolved""\}} [1-9]", RegexOptions.Multiline), text);
        Assert.Matches(new Regex($@"^fabric_port_rx_packets_total\{{port=""lonely"",vni=""{vni}""\}} [1-9]", RegexOptions.Multiline), text);
        Assert.Matches(new Regex($@"^fabric_vni_rx_packets_total\{{vni=""{vni}"",network=""{net["name"]}""\}} [1-9]", RegexOptions.Multiline), text);
        Assert.Matches(new Regex(@"^fabric_cluster_size 1$", RegexOptions.Multiline), text);
        Assert.Matches(new Regex(@"^fabric_cluster_members\{status=""up""\} 1$", RegexOptions.Multiline), text);
        Assert.Matches(new Regex(@"^fabric_node_ready 1$", RegexOptions.Multiline), text);
        Assert.Matches(new Regex(@"^fabric_snapshot_publish_seconds_count [1-9]", RegexOptions.Multiline), text);
        Assert.Contains("# TYPE fabric_cluster_peer_rtt_seconds histogram", text);

        // A deleted network takes its series with it.
        Assert.Equal(HttpStatusCode.NoContent, (await Api.Delete($"/api/v1/endpoints/{from}")).Status);
        Assert.Equal(HttpStatusCode.NoContent, (await Api.Delete($"/api/v1/networks/{id}")).Status);
        await HttpNodeFixture.Eventually(async () =>
            !(await new Api(node.Anonymous, null).Get("/metrics")).Text.Contains($"vni=\"{vni}\"", StringComparison.Ordinal),
            TimeSpan.FromSeconds(15), "the deleted network's series to go");
    }
}
