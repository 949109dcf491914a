using System.Net;
using System.Text.Json.Nodes;

namespace Fabric.Nodes.Tests.Http;

[Collection(HttpCollection.Name)]
public sealed class EndpointApiTests(HttpNodeFixture node)
{
    private Api Api => node.Client;

    /// <summary>The TTL a guest port puts in its echo replies (src/Dataplane/Ports/Guest/GuestMachine.cs).</summary>
    private const int GuestReplyTtl = 64;

    /// <summary>An l3 network 10.7.0.0/16 with subnet 10.7.1.0/24; returns (network id, subnet id).</summary>
    private async Task<(string Net, string Subnet)> L3WithSubnet()
    {
        var net = await Api.Create("/api/v1/networks", new { name = node.Name("ep-net"), vni = node.NextVni(), kind = "l3", cidr = "10.7.0.0/16" });
        var id = net["id"]!.GetValue<string>();
        var subnet = await Api.Create($"/api/v1/networks/{id}/subnets", new { name = "s", cidr = "10.7.1.0/24" });
        return (id, subnet["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task Create_list_get_move_and_delete_an_endpoint()
    {
        var (net, subnet) = await L3WithSubnet();
        var created = await Api.Post("/api/v1/endpoints", new { name = "vm1", network = net, node = "elsewhere", port = new { kind = "guest" } });
        Assert.Equal(HttpStatusCode.Created, created.Status);
        var id = created.Body["id"]!.GetValue<string>();
        Assert.Equal($"/api/v1/endpoints/{id}", created.Response.Headers.Location!.OriginalString);
        Assert.Equal(subnet, created.Body["subnet"]!.GetValue<string>());
        Assert.Equal("10.7.1.2", created.Body["ip"]!.GetValue<string>()); // the first after the gateway
        Assert.Matches("^02:fb(:[0-9a-f]{2}){4}$", created.Body["mac"]!.GetValue<string>());
        Assert.Equal("guest", created.Body["port"]!["kind"]!.GetValue<string>());
        Assert.True(created.Body["sourceCheck"]!.GetValue<bool>());

        var explicitly = await Api.Create("/api/v1/endpoints", new
        {
            name = "vm2", network = net, subnet, node = "elsewhere", mac = "02:00:00:00:aa:01", ip = "10.7.1.50",
            port = new { kind = "tap", @namespace = "ns-vm2" }, sourceCheck = false,
        });
        Assert.Equal("02:00:00:00:aa:01", explicitly["mac"]!.GetValue<string>());
        Assert.Equal("10.7.1.50", explicitly["ip"]!.GetValue<string>());
        Assert.Equal("ns-vm2", explicitly["port"]!["namespace"]!.GetValue<string>());
        Assert.False(explicitly["sourceCheck"]!.GetValue<bool>());

        Assert.Contains((await Api.Get("/api/v1/endpoints")).Body.AsArray(), e => e!["id"]!.GetValue<string>() == id);
        Assert.Equal(2, (await Api.Get($"/api/v1/endpoints?network={net}")).Body.AsArray().Count);
        Assert.Empty((await Api.Get($"/api/v1/endpoints?network={net}&node=nobody")).Body.AsArray());
        Assert.Equal(created.Body.ToJsonString(), (await Api.Get($"/api/v1/endpoints/{id}")).Body.ToJsonString());
        Problem.Assert(await Api.Get("/api/v1/endpoints/ep-999999"), HttpStatusCode.NotFound, "endpointId", "endpoint-not-found");

        var moved = await Api.Put($"/api/v1/endpoints/{id}/node", new { node = "elsewhere-2" });
        Assert.Equal(HttpStatusCode.OK, moved.Status);
        Assert.Equal("elsewhere-2", moved.Body["node"]!.GetValue<string>());
        Assert.Equal(1, moved.Body["moveSeq"]!.GetValue<long>());
        Problem.Assert(await Api.Put("/api/v1/endpoints/ep-999999/node", new { node = "x" }), HttpStatusCode.NotFound, "endpointId");
        Problem.Assert(await Api.Put($"/api/v1/endpoints/{id}/node", new { node = "" }), HttpStatusCode.BadRequest, "node");
        Problem.Assert(await Api.Put($"/api/v1/endpoints/{id}/node", new { node = "x", where = "y" }), HttpStatusCode.BadRequest, "where");

        Assert.Equal(HttpStatusCode.NoContent, (await Api.Delete($"/api/v1/endpoints/{id}")).Status);
        Assert.Equal(HttpStatusCode.NoContent, (await Api.Delete($"/api/v1/endpoints/{id}")).Status);
        Problem.Assert(await Api.Get($"/api/v1/endpoints/{id}"), HttpStatusCode.NotFound, "endpointId");
    }

    [Fact]
    public async Task A_tap_endpoint_in_an_l2_network_without_cidr_needs_its_prefix_with_the_ip()
    {
        const string path = "/api/v1/endpoints";
        var net = (await Api.Create("/api/v1/networks", new { name = node.Name("speed"), vni = node.NextVni(), kind = "l2" }))["id"]!.GetValue<string>();
        object Tap(string name, string ip) => new { name, network = net, node = "elsewhere", ip, port = new { kind = "tap", @namespace = "ns-" + name } };

        // Without a prefix the device would be a /32 with no route: a VM that silently reaches no one.
        var refused = await Api.Post(path, Tap("a", "192.168.88.1"));
        Problem.Assert(refused, HttpStatusCode.BadRequest, "ip", "ip-prefix-unknown");
        Assert.Contains("192.168.88.1/24", refused.Body["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Problem.Assert(await Api.Post(path, Tap("a", "192.168.88.1/33")), HttpStatusCode.BadRequest, "ip", "ip-prefix-invalid");
        Problem.Assert(await Api.Post(path, Tap("a", "192.168.88.1/0")), HttpStatusCode.BadRequest, "ip", "ip-prefix-invalid");
        Problem.Assert(await Api.Post(path, Tap("a", "192.168.88.1/x")), HttpStatusCode.BadRequest, "ip", "ip-prefix-invalid");
        Problem.Assert(await Api.Post(path, Tap("a", "192.168.88.0/24")), HttpStatusCode.Conflict, "ip", "ip-reserved");
        Problem.Assert(await Api.Post(path, Tap("a", "192.168.88.255/24")), HttpStatusCode.Conflict, "ip", "ip-reserved");

        // With it: the address stays an address, the prefix is its own field, and reads say the same.
        var created = await Api.Create(path, Tap("a", "192.168.88.1/24"));
        Assert.Equal("192.168.88.1", created["ip"]!.GetValue<string>());
        Assert.Equal(24, created["prefixLength"]!.GetValue<int>());
        Assert.Equal(created.ToJsonString(), (await Api.Get($"{path}/{created["id"]!.GetValue<string>()}")).Body.ToJsonString());
        Problem.Assert(await Api.Post(path, Tap("b", "192.168.88.1/24")), HttpStatusCode.Conflict, "ip", "ip-in-use");

        // A guest answers ARP for any target when it has no gateway, so it needs no prefix; a TAP without an ip is
        // left for the VM to address.
        var guest = await Api.Create(path, new { name = "g", network = net, node = "elsewhere", ip = "192.168.88.7", port = new { kind = "guest" } });
        Assert.Null(guest["prefixLength"]);
        var bare = await Api.Create(path, new { name = "bare", network = net, node = "elsewhere", port = new { kind = "tap" } });
        Assert.Null(bare["ip"]);
    }

    [Fact]
    public async Task A_prefix_written_with_the_ip_must_match_the_subnet_or_network_cidr()
    {
        const string path = "/api/v1/endpoints";
        var (net, _) = await L3WithSubnet();
        Problem.Assert(await Api.Post(path, new { name = "p", network = net, node = "elsewhere", ip = "10.7.1.20/16", port = new { kind = "tap" } }),
            HttpStatusCode.BadRequest, "ip", "ip-prefix-mismatch");
        Assert.Equal(24, (await Api.Create(path, new { name = "p", network = net, node = "elsewhere", ip = "10.7.1.20/24", port = new { kind = "tap" } }))["prefixLength"]!.GetValue<int>());

        var l2 = (await Api.Create("/api/v1/networks", new { name = node.Name("l2cidr"), vni = node.NextVni(), kind = "l2", cidr = "10.8.0.0/16" }))["id"]!.GetValue<string>();
        Problem.Assert(await Api.Post(path, new { name = "q", network = l2, node = "elsewhere", ip = "10.8.1.20/24", port = new { kind = "tap" } }),
            HttpStatusCode.BadRequest, "ip", "ip-prefix-mismatch");
        // Where the network has a cidr, an ip without a prefix is fine as before.
        Assert.Null((await Api.Create(path, new { name = "q", network = l2, node = "elsewhere", ip = "10.8.1.20", port = new { kind = "tap" } }))["prefixLength"]);
    }

    [Fact]
    public async Task Every_rule_of_an_endpoint_names_its_field()
    {
        var (net, subnet) = await L3WithSubnet();
        const string path = "/api/v1/endpoints";
        var first = await Api.Create(path, new { name = "a", network = net, node = "elsewhere", ip = "10.7.1.10", port = new { kind = "guest" } });

        Problem.Assert(await Api.Post(path, new { name = "b", network = net, node = "elsewhere", ip = "10.7.2.10", port = new { kind = "guest" } }), HttpStatusCode.Conflict, "ip", "ip-outside-subnets");
        Problem.Assert(await Api.Post(path, new { name = "b", network = net, subnet, node = "elsewhere", ip = "10.7.9.10", port = new { kind = "guest" } }), HttpStatusCode.Conflict, "ip", "ip-outside-subnet");
        Problem.Assert(await Api.Post(path, new { name = "b", network = net, node = "elsewhere", ip = "10.7.1.10", port = new { kind = "guest" } }), HttpStatusCode.Conflict, "ip", "ip-in-use");
        Problem.Assert(await Api.Post(path, new { name = "b", network = net, node = "elsewhere", ip = "10.7.1.1", port = new { kind = "guest" } }), HttpStatusCode.Conflict, "ip", "ip-reserved");
        Problem.Assert(await Api.Post(path, new { name = "b", network = net, node = "elsewhere", ip = "10.7.1", port = new { kind = "guest" } }), HttpStatusCode.BadRequest, "ip");
        Problem.Assert(await Api.Post(path, new { name = "b", network = net, node = "elsewhere", mac = first["mac"], port = new { kind = "guest" } }), HttpStatusCode.Conflict, "mac", "mac-in-use");
        Problem.Assert(await Api.Post(path, new { name = "b", network = net, node = "elsewhere", mac = "01:00:5e:00:00:01", port = new { kind = "guest" } }), HttpStatusCode.BadRequest, "mac");
        Problem.Assert(await Api.Post(path, new { name = "b", network = net, node = "elsewhere", mac = "zz", port = new { kind = "guest" } }), HttpStatusCode.BadRequest, "mac");
        Problem.Assert(await Api.Post(path, new { name = "a", network = net, node = "elsewhere", port = new { kind = "guest" } }), HttpStatusCode.Conflict, "name", "name-in-use");
        Problem.Assert(await Api.Post(path, new { name = "b", network = "net-999999", node = "elsewhere", port = new { kind = "guest" } }), HttpStatusCode.Conflict, "network");
        Problem.Assert(await Api.Post(path, new { name = "b", node = "elsewhere", port = new { kind = "guest" } }), HttpStatusCode.BadRequest, "network");
        Problem.Assert(await Api.Post(path, new { name = "b", network = net, port = new { kind = "guest" } }), HttpStatusCode.BadRequest, "node");
        Problem.Assert(await Api.Post(path, new { name = "b", network = net, node = "elsewhere" }), HttpStatusCode.BadRequest, "port");
        Problem.Assert(await Api.Post(path, new { name = "b", network = net, node = "elsewhere", port = new { kind = "vm" } }), HttpStatusCode.BadRequest, "port.kind");
        Problem.Assert(await Api.Post(path, new { name = "b", network = net, node = "elsewhere", port = new { kind = "guest", @namespace = "ns" } }), HttpStatusCode.BadRequest, "port.namespace");
        Problem.Assert(await Api.Post(path, new { name = "b", network = net, subnet = "sub-999999", node = "elsewhere", port = new { kind = "guest" } }), HttpStatusCode.Conflict, "subnet");
    }

    [Fact]
    public async Task Guest_to_guest_ping_through_the_fabric()
    {
        var (net, _) = await L3WithSubnet();
        var a = await Api.Create("/api/v1/endpoints", new { name = "pinger", network = net, node = HttpNodeFixture.NodeName, port = new { kind = "guest" } });
        var b = await Api.Create("/api/v1/endpoints", new { name = "ponger", network = net, node = HttpNodeFixture.NodeName, port = new { kind = "guest" } });
        var from = a["id"]!.GetValue<string>();
        var target = b["ip"]!.GetValue<string>();

        // The ports are plugged once the node's replica has the new configuration: until then the ping says so (409).
        await HttpNodeFixture.Eventually(async () =>
        {
            var p = await Api.Post($"/api/v1/endpoints/{from}/ping", new { target, count = 1 });
            return p.Status == HttpStatusCode.OK && p.Body["received"]!.GetValue<int>() == 1;
        }, TimeSpan.FromSeconds(20), "the first echo reply");

        var ping = await Api.Post($"/api/v1/endpoints/{from}/ping", new { target, count = 5, ttl = 32 });
        Assert.Equal(HttpStatusCode.OK, ping.Status);
        Assert.Equal(5, ping.Body["sent"]!.GetValue<int>());
        Assert.Equal(5, ping.Body["received"]!.GetValue<int>());
        Assert.Equal(5, ping.Body["rttMs"]!.AsArray().Count);
        Assert.All(ping.Body["rttMs"]!.AsArray(), rtt => Assert.InRange(rtt!.GetValue<double>(), 0, 1000));
        // The guest answers with TTL 64 (GuestMachine), whatever the request carried, and the fabric never
        // decrements a TTL (DESIGN.md): a reply that arrives with anything but 64 was rewritten on the way.
        Assert.All(ping.Body["replyTtl"]!.AsArray(), ttl => Assert.Equal(GuestReplyTtl, ttl!.GetValue<int>()));

        // The same across subnets, where the router rewrites the Ethernet header and must leave the TTL alone.
        var s2 = await Api.Create($"/api/v1/networks/{net}/subnets", new { name = "s2", cidr = "10.7.2.0/24" });
        var c = await Api.Create("/api/v1/endpoints", new { name = "far-ponger", network = net, subnet = s2["id"]!.GetValue<string>(), node = HttpNodeFixture.NodeName, port = new { kind = "guest" } });
        var farTarget = c["ip"]!.GetValue<string>();
        Assert.StartsWith("10.7.2.", farTarget);
        await HttpNodeFixture.Eventually(async () =>
        {
            var p = await Api.Post($"/api/v1/endpoints/{from}/ping", new { target = farTarget, count = 1 });
            return p.Status == HttpStatusCode.OK && p.Body["received"]!.GetValue<int>() == 1;
        }, TimeSpan.FromSeconds(20), "the first echo reply across subnets");
        var routed = await Api.Post($"/api/v1/endpoints/{from}/ping", new { target = farTarget, count = 3, ttl = 32 });
        Assert.Equal(3, routed.Body["received"]!.GetValue<int>());
        Assert.All(routed.Body["replyTtl"]!.AsArray(), ttl => Assert.Equal(GuestReplyTtl, ttl!.GetValue<int>()));

        // The gateway answers too.
        var gw = await Api.Post($"/api/v1/endpoints/{from}/ping", new { target = "10.7.1.1", count = 2 });
        Assert.Equal(2, gw.Body["received"]!.GetValue<int>());
        Assert.All(gw.Body["replyTtl"]!.AsArray(), ttl => Assert.Equal(Fabric.Dataplane.Pipeline.Nodes.GatewayEcho.ReplyTtl, ttl!.GetValue<int>()));

        // And what the fabric knows about it: the FDB has both, the counters saw the frames.
        var fdb = await Api.Get($"/api/v1/nodes/{HttpNodeFixture.NodeName}/fdb?network={net}");
        Assert.Equal(HttpStatusCode.OK, fdb.Status);
        var macs = fdb.Body["entries"]!.AsArray().Select(e => e!["mac"]!.GetValue<string>()).ToArray();
        Assert.Contains(a["mac"]!.GetValue<string>(), macs);
        Assert.Contains(b["mac"]!.GetValue<string>(), macs);
        Assert.All(fdb.Body["entries"]!.AsArray(), e =>
        {
            Assert.Equal(net, e!["network"]!.GetValue<string>());
            Assert.StartsWith("local:", e["location"]!.GetValue<string>());
            Assert.Equal("config", e["source"]!.GetValue<string>());
        });
        var counters = await Api.Get($"/api/v1/nodes/{HttpNodeFixture.NodeName}/counters");
        var port = counters.Body["ports"]!.AsArray().Single(p => p!["name"]!.GetValue<string>() == "pinger");
        Assert.True(port!["rxPackets"]!.GetValue<long>() >= 8, counters.Text);
        Assert.True(port["txPackets"]!.GetValue<long>() >= 8, counters.Text);

        // The rules of a ping.
        var pingPath = $"/api/v1/endpoints/{from}/ping";
        Problem.Assert(await Api.Post(pingPath, new { target, count = 0 }), HttpStatusCode.BadRequest, "count", "count-out-of-range");
        Problem.Assert(await Api.Post(pingPath, new { target, count = 101 }), HttpStatusCode.BadRequest, "count", "count-out-of-range");
        Problem.Assert(await Api.Post(pingPath, new { target, count = 1, ttl = 0 }), HttpStatusCode.BadRequest, "ttl");
        Problem.Assert(await Api.Post(pingPath, new { target = "10.7.1", count = 1 }), HttpStatusCode.BadRequest, "target", "target-invalid");
        Problem.Assert(await Api.Post(pingPath, new { count = 1 }), HttpStatusCode.BadRequest, "target", "target-required");
        Problem.Assert(await Api.Post(pingPath, new { target, count = "3" }), HttpStatusCode.BadRequest, "count", "field-type");
        Problem.Assert(await Api.Post("/api/v1/endpoints/ep-999999/ping", new { target, count = 1 }), HttpStatusCode.NotFound, "endpointId");
        var elsewhere = await Api.Create("/api/v1/endpoints", new { name = "absent", network = net, node = "not-a-member", port = new { kind = "guest" } });
        Problem.Assert(await Api.Post($"/api/v1/endpoints/{elsewhere["id"]}/ping", new { target, count = 1 }), HttpStatusCode.Conflict, "endpointId", "endpoint-node-absent");
    }
}
