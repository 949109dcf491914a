using System.Net;
using System.Text.Json.Nodes;

namespace Fabric.Nodes.Tests.Http;

[Collection(HttpCollection.Name)]
public sealed class NetworkApiTests(HttpNodeFixture node)
{
    private Api Api => node.Client;

    private async Task<JsonNode> L3(string cidr = "10.1.0.0/16") =>
        await Api.Create("/api/v1/networks", new { name = node.Name("net"), vni = node.NextVni(), kind = "l3", cidr });

    [Fact]
    public async Task Create_list_get_and_delete_a_network()
    {
        var name = node.Name("blue");
        var vni = node.NextVni();
        var created = await Api.Post("/api/v1/networks", new { name, vni, kind = "l3", cidr = "10.1.0.0/16" });
        Assert.Equal(HttpStatusCode.Created, created.Status);
        var id = created.Body["id"]!.GetValue<string>();
        Assert.StartsWith("net-", id);
        Assert.Equal($"/api/v1/networks/{id}", created.Response.Headers.Location!.OriginalString);
        Assert.Equal(name, created.Body["name"]!.GetValue<string>());
        Assert.Equal(vni, created.Body["vni"]!.GetValue<int>());
        Assert.Equal("l3", created.Body["kind"]!.GetValue<string>());
        Assert.Equal("10.1.0.0/16", created.Body["cidr"]!.GetValue<string>());
        Assert.Equal("main", created.Body["routeTables"]![0]!["name"]!.GetValue<string>());

        var list = await Api.Get("/api/v1/networks");
        Assert.Equal(HttpStatusCode.OK, list.Status);
        Assert.Contains(list.Body.AsArray(), n => n!["id"]!.GetValue<string>() == id);

        var one = await Api.Get(created.Response.Headers.Location!.OriginalString);
        Assert.Equal(HttpStatusCode.OK, one.Status);
        Assert.Equal(created.Body.ToJsonString(), one.Body.ToJsonString());

        var l2 = await Api.Create("/api/v1/networks", new { name = node.Name("l2"), vni = node.NextVni(), kind = "l2" });
        Assert.Null(l2["cidr"]);

        Assert.Equal(HttpStatusCode.NoContent, (await Api.Delete($"/api/v1/networks/{id}")).Status);
        Problem.Assert(await Api.Get($"/api/v1/networks/{id}"), HttpStatusCode.NotFound, "networkId", "network-not-found");
    }

    [Fact]
    public async Task Deletes_are_idempotent()
    {
        var net = await L3();
        var id = net["id"]!.GetValue<string>();
        var subnet = await Api.Create($"/api/v1/networks/{id}/subnets", new { name = "a", cidr = "10.1.1.0/24" });
        var sid = subnet["id"]!.GetValue<string>();
        await Api.Create($"/api/v1/networks/{id}/route-tables", new { name = "extra" });
        await Api.Create($"/api/v1/networks/{id}/route-tables/main/routes", new { destination = "192.168.0.0/16", target = new { kind = "blackhole" } });
        await Api.Create($"/api/v1/networks/{id}/external-vteps", new { address = "192.0.2.10" });

        // Each delete twice: the second finds nothing and says so the same way (204), so a retried DELETE never fails.
        foreach (var path in new[]
                 {
                     $"/api/v1/networks/{id}/route-tables/main/routes/192.168.0.0/16",
                     $"/api/v1/networks/{id}/route-tables/extra",
                     $"/api/v1/networks/{id}/external-vteps/192.0.2.10",
                     $"/api/v1/networks/{id}/subnets/{sid}",
                     $"/api/v1/networks/{id}",
                 })
        {
            Assert.Equal(HttpStatusCode.NoContent, (await Api.Delete(path)).Status);
            Assert.Equal(HttpStatusCode.NoContent, (await Api.Delete(path)).Status);
        }
        Assert.Equal(HttpStatusCode.NoContent, (await Api.Delete("/api/v1/networks/net-999999")).Status);
        Assert.Equal(HttpStatusCode.NoContent, (await Api.Delete("/api/v1/endpoints/ep-999999")).Status);
        Problem.Assert(await Api.Get($"/api/v1/networks/{id}"), HttpStatusCode.NotFound, "networkId");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    [InlineData(16_777_216)]
    [InlineData(99_999_999_999)]
    public async Task A_vni_outside_the_24_bit_range_is_400(long vni)
        => Problem.Assert(await Api.Post("/api/v1/networks", new { name = node.Name("bad-vni"), vni, kind = "l2" }),
            HttpStatusCode.BadRequest, "vni", "vni-out-of-range");

    [Fact]
    public async Task Every_rule_of_a_network_names_its_field()
    {
        var vni = node.NextVni();
        var first = await Api.Create("/api/v1/networks", new { name = node.Name("dup"), vni, kind = "l2" });
        Problem.Assert(await Api.Post("/api/v1/networks", new { name = node.Name("dup"), vni, kind = "l2" }), HttpStatusCode.Conflict, "vni", "vni-in-use");
        Problem.Assert(await Api.Post("/api/v1/networks", new { name = first["name"]!.GetValue<string>(), vni = node.NextVni(), kind = "l2" }),
            HttpStatusCode.Conflict, "name", "name-in-use");
        Problem.Assert(await Api.Post("/api/v1/networks", new { name = node.Name("x"), kind = "l2" }), HttpStatusCode.BadRequest, "vni", "vni-required");
        Problem.Assert(await Api.Post("/api/v1/networks", new { vni = node.NextVni(), kind = "l2" }), HttpStatusCode.BadRequest, "name", "name-required");
        Problem.Assert(await Api.Post("/api/v1/networks", new { name = "-starts-with-dash", vni = node.NextVni(), kind = "l2" }), HttpStatusCode.BadRequest, "name");
        Problem.Assert(await Api.Post("/api/v1/networks", new { name = node.Name("x"), vni = node.NextVni(), kind = "l4" }), HttpStatusCode.BadRequest, "kind", "kind-invalid");
        Problem.Assert(await Api.Post("/api/v1/networks", new { name = node.Name("x"), vni = node.NextVni(), kind = "l3" }), HttpStatusCode.BadRequest, "cidr", "cidr-required");
        Problem.Assert(await Api.Post("/api/v1/networks", new { name = node.Name("x"), vni = node.NextVni(), kind = "l3", cidr = "10.1.0.0/33" }), HttpStatusCode.BadRequest, "cidr");
        Problem.Assert(await Api.Post("/api/v1/networks", new { name = node.Name("x"), vni = node.NextVni(), kind = "l3", cidr = "10.1.0.0/31" }), HttpStatusCode.BadRequest, "cidr");
    }

    [Fact]
    public async Task Malformed_bodies_are_4xx_problems_that_name_the_field()
    {
        const string path = "/api/v1/networks";
        Problem.Assert(await Api.Post(path, "{\"name\": \"a\", "), HttpStatusCode.BadRequest, "body", "json-invalid");
        Problem.Assert(await Api.Post(path, "not json at all"), HttpStatusCode.BadRequest, "body");
        Problem.Assert(await Api.Post(path, "[1, 2]"), HttpStatusCode.BadRequest, "body", "body-not-object");
        Problem.Assert(await Api.Post(path, "null"), HttpStatusCode.BadRequest, "body", "body-required");
        Problem.Assert(await Api.Send(HttpMethod.Post, path, null), HttpStatusCode.BadRequest, "body", "body-required");
        Problem.Assert(await Api.Post(path, """{"name": "a", "vni": 5, "kind": "l2", "colour": "blue"}"""), HttpStatusCode.BadRequest, "colour", "field-unknown");
        Problem.Assert(await Api.Post(path, """{"name": "a", "VNI": 5, "kind": "l2"}"""), HttpStatusCode.BadRequest, "VNI", "field-unknown");
        Problem.Assert(await Api.Post(path, """{"name": "a", "vni": "5", "kind": "l2"}"""), HttpStatusCode.BadRequest, "vni", "field-type");
        Problem.Assert(await Api.Post(path, """{"name": "a", "vni": 5.5, "kind": "l2"}"""), HttpStatusCode.BadRequest, "vni", "field-type");
        Problem.Assert(await Api.Post(path, """{"name": 7, "vni": 5, "kind": "l2"}"""), HttpStatusCode.BadRequest, "name", "field-type");
        Problem.Assert(await Api.Post(path, """{"name": "a", "vni": 5, "vni": 6, "kind": "l2"}"""), HttpStatusCode.BadRequest);
        Problem.Assert(await Api.Post(path, """{"name": "a", "vni": 5, "kind": "l2",}"""), HttpStatusCode.BadRequest, "body");

        // Nested documents name the nested field.
        var net = await L3();
        var id = net["id"]!.GetValue<string>();
        Problem.Assert(await Api.Post($"/api/v1/networks/{id}/route-tables/main/routes", """{"destination": "192.168.0.0/16", "target": {"kind": "blackhole", "via": "x"}}"""),
            HttpStatusCode.BadRequest, "target.via", "field-unknown");
        Problem.Assert(await Api.Post($"/api/v1/networks/{id}/route-tables/main/routes", """{"destination": "192.168.0.0/16", "target": "blackhole"}"""),
            HttpStatusCode.BadRequest, "target", "field-type");
        Problem.Assert(await Api.Post("/api/v1/endpoints", """{"name": "a", "network": "net-1", "node": "n", "port": {"kind": true}}"""),
            HttpStatusCode.BadRequest, "port.kind", "field-type");
        Problem.Assert(await Api.Post("/api/v1/endpoints", """{"name": "a", "network": "net-1", "node": "n", "port": {"kind": "guest"}, "sourceCheck": "yes"}"""),
            HttpStatusCode.BadRequest, "sourceCheck", "field-type");

        // Deep JSON is refused whatever it is nested in.
        var deep = "{\"name\": " + new string('[', 200) + new string(']', 200) + "}";
        Problem.Assert(await Api.Post(path, deep), HttpStatusCode.BadRequest, "name");
        var deepUnknown = "{\"x\": " + string.Concat(Enumerable.Repeat("{\"a\": ", 100)) + "1" + new string('}', 101);
        Problem.Assert(await Api.Post(path, deepUnknown), HttpStatusCode.BadRequest);

        // Not JSON at all.
        Problem.Assert(await Api.Send(HttpMethod.Post, path, "name=a&vni=5", "application/x-www-form-urlencoded"), HttpStatusCode.UnsupportedMediaType, code: "content-type-unsupported");
    }

    [Fact]
    public async Task Bodies_over_one_mebibyte_are_413()
    {
        var big = "{\"name\": \"" + new string('a', 1024 * 1024 + 10) + "\"}";
        Problem.Assert(await Api.Post("/api/v1/networks", big), HttpStatusCode.RequestEntityTooLarge, code: "body-too-large");

        // Without a Content-Length (chunked), the limit holds while reading.
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/networks");
        request.Headers.Authorization = new("Bearer", HttpNodeFixture.Token);
        request.Content = new StreamContent(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(big)));
        request.Content.Headers.ContentType = new("application/json");
        request.Headers.TransferEncodingChunked = true;
        using var response = await Api.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Fact]
    public async Task Subnets_have_a_gateway_and_stay_inside_the_network_without_overlap()
    {
        var net = await L3("10.2.0.0/16");
        var id = net["id"]!.GetValue<string>();
        var a = await Api.Post($"/api/v1/networks/{id}/subnets", new { name = "web", cidr = "10.2.1.0/24" });
        Assert.Equal(HttpStatusCode.Created, a.Status);
        var sid = a.Body["id"]!.GetValue<string>();
        Assert.Equal($"/api/v1/networks/{id}/subnets/{sid}", a.Response.Headers.Location!.OriginalString);
        Assert.Equal("10.2.1.1", a.Body["gateway"]!.GetValue<string>());
        Assert.Equal("main", a.Body["routeTable"]!.GetValue<string>());

        Problem.Assert(await Api.Post($"/api/v1/networks/{id}/subnets", new { name = "out", cidr = "10.3.1.0/24" }), HttpStatusCode.Conflict, "cidr", "cidr-outside-network");
        Problem.Assert(await Api.Post($"/api/v1/networks/{id}/subnets", new { name = "over", cidr = "10.2.1.128/25" }), HttpStatusCode.Conflict, "cidr", "cidr-overlaps-subnet");
        Problem.Assert(await Api.Post($"/api/v1/networks/{id}/subnets", new { name = "web", cidr = "10.2.2.0/24" }), HttpStatusCode.Conflict, "name", "name-in-use");
        Problem.Assert(await Api.Post($"/api/v1/networks/{id}/subnets", new { name = "bad", cidr = "10.2.2.0" }), HttpStatusCode.BadRequest, "cidr");
        Problem.Assert(await Api.Post($"/api/v1/networks/{id}/subnets", new { name = "rt", cidr = "10.2.2.0/24", routeTable = "nope" }), HttpStatusCode.Conflict, "routeTable");
        Problem.Assert(await Api.Post("/api/v1/networks/net-999999/subnets", new { name = "x", cidr = "10.2.2.0/24" }), HttpStatusCode.NotFound, "networkId");
        var l2 = await Api.Create("/api/v1/networks", new { name = node.Name("l2"), vni = node.NextVni(), kind = "l2" });
        Problem.Assert(await Api.Post($"/api/v1/networks/{l2["id"]}/subnets", new { name = "x", cidr = "10.2.2.0/24" }), HttpStatusCode.Conflict, "networkId", "network-not-l3");

        var list = await Api.Get($"/api/v1/networks/{id}/subnets");
        Assert.Equal(HttpStatusCode.OK, list.Status);
        Assert.Single(list.Body.AsArray());
        Assert.Equal(a.Body.ToJsonString(), (await Api.Get($"/api/v1/networks/{id}/subnets/{sid}")).Body.ToJsonString());
        Problem.Assert(await Api.Get($"/api/v1/networks/{id}/subnets/sub-999999"), HttpStatusCode.NotFound, "subnetId");
        Problem.Assert(await Api.Get("/api/v1/networks/net-999999/subnets"), HttpStatusCode.NotFound, "networkId");
    }

    [Fact]
    public async Task Route_tables_routes_and_binding()
    {
        var net = await L3("10.4.0.0/16");
        var id = net["id"]!.GetValue<string>();
        var other = await L3("10.5.0.0/16");
        var subnet = await Api.Create($"/api/v1/networks/{id}/subnets", new { name = "s", cidr = "10.4.1.0/24" });
        var sid = subnet["id"]!.GetValue<string>();
        var appliance = await Api.Create("/api/v1/endpoints", new { name = "fw", network = id, node = "elsewhere", port = new { kind = "guest" } });
        var ep = appliance["id"]!.GetValue<string>();

        var rt = await Api.Post($"/api/v1/networks/{id}/route-tables", new { name = "via-fw" });
        Assert.Equal(HttpStatusCode.Created, rt.Status);
        Assert.Equal($"/api/v1/networks/{id}/route-tables/via-fw", rt.Response.Headers.Location!.OriginalString);
        Problem.Assert(await Api.Post($"/api/v1/networks/{id}/route-tables", new { name = "via-fw" }), HttpStatusCode.Conflict, "name", "route-table-exists");
        Problem.Assert(await Api.Post($"/api/v1/networks/{id}/route-tables", new { name = "" }), HttpStatusCode.BadRequest, "name");

        var toFw = await Api.Post($"/api/v1/networks/{id}/route-tables/via-fw/routes", new { destination = "0.0.0.0/0", target = new { kind = "endpoint", endpoint = ep } });
        Assert.Equal(HttpStatusCode.Created, toFw.Status);
        Assert.Equal($"/api/v1/networks/{id}/route-tables/via-fw/routes/0.0.0.0/0", toFw.Response.Headers.Location!.OriginalString);
        Assert.Equal("endpoint", toFw.Body["target"]!["kind"]!.GetValue<string>());
        Assert.Equal(ep, toFw.Body["target"]!["endpoint"]!.GetValue<string>());
        var leak = await Api.Create($"/api/v1/networks/{id}/route-tables/main/routes", new { destination = "10.5.0.0/16", target = new { kind = "network", network = other["id"] } });
        Assert.Equal("network", leak["target"]!["kind"]!.GetValue<string>());
        await Api.Create($"/api/v1/networks/{id}/route-tables/main/routes", new { destination = "172.16.0.0/12", target = new { kind = "blackhole" } });

        // The rules, each with its field.
        var routes = $"/api/v1/networks/{id}/route-tables/main/routes";
        Problem.Assert(await Api.Post(routes, new { destination = "10.4.0.0/16", target = new { kind = "blackhole" } }), HttpStatusCode.Conflict, "destination", "local-route-override");
        Problem.Assert(await Api.Post(routes, new { destination = "10.4.7.0/24", target = new { kind = "blackhole" } }), HttpStatusCode.Conflict, "destination", "local-route-override");
        Problem.Assert(await Api.Post(routes, new { destination = "172.16.0.0/12", target = new { kind = "blackhole" } }), HttpStatusCode.Conflict, "destination", "route-exists");
        Problem.Assert(await Api.Post(routes, new { destination = "1.2.3.0/24", target = new { kind = "teleport" } }), HttpStatusCode.BadRequest, "target.kind");
        Problem.Assert(await Api.Post(routes, new { destination = "1.2.3.0/24" }), HttpStatusCode.BadRequest, "target.kind");
        Problem.Assert(await Api.Post(routes, new { destination = "1.2.3.0/24", target = new { kind = "endpoint" } }), HttpStatusCode.BadRequest, "target.endpoint");
        Problem.Assert(await Api.Post(routes, new { destination = "1.2.3.0/24", target = new { kind = "endpoint", endpoint = "ep-999999" } }), HttpStatusCode.Conflict, "target.endpoint");
        Problem.Assert(await Api.Post(routes, new { destination = "1.2.3.0/24", target = new { kind = "network", network = id } }), HttpStatusCode.Conflict, "target.network");
        Problem.Assert(await Api.Post(routes, new { destination = "1.2.3.0", target = new { kind = "blackhole" } }), HttpStatusCode.BadRequest, "destination");
        Problem.Assert(await Api.Post($"/api/v1/networks/{id}/route-tables/nope/routes", new { destination = "1.2.3.0/24", target = new { kind = "blackhole" } }), HttpStatusCode.NotFound, "routeTable");

        // Reads.
        var tables = await Api.Get($"/api/v1/networks/{id}/route-tables");
        Assert.Equal(["main", "via-fw"], tables.Body.AsArray().Select(t => t!["name"]!.GetValue<string>()).ToArray());
        Assert.Single((await Api.Get($"/api/v1/networks/{id}/route-tables/via-fw")).Body["routes"]!.AsArray());
        Assert.Equal(2, (await Api.Get(routes)).Body.AsArray().Count);
        var one = await Api.Get($"{routes}/172.16.0.0/12");
        Assert.Equal(HttpStatusCode.OK, one.Status);
        Assert.Equal("blackhole", one.Body["target"]!["kind"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, (await Api.Get($"{routes}/172.16.0.0%2F12")).Status);
        Problem.Assert(await Api.Get($"{routes}/9.9.9.0/24"), HttpStatusCode.NotFound, "destination");
        Problem.Assert(await Api.Get($"{routes}/banana"), HttpStatusCode.BadRequest, "destination");
        Problem.Assert(await Api.Get($"/api/v1/networks/{id}/route-tables/nope"), HttpStatusCode.NotFound, "routeTable");

        // Binding a subnet to a table.
        var bound = await Api.Put($"/api/v1/networks/{id}/subnets/{sid}/route-table", new { routeTable = "via-fw" });
        Assert.Equal(HttpStatusCode.OK, bound.Status);
        Assert.Equal("via-fw", bound.Body["routeTable"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, (await Api.Put($"/api/v1/networks/{id}/subnets/{sid}/route-table", new { routeTable = "via-fw" })).Status);
        Problem.Assert(await Api.Put($"/api/v1/networks/{id}/subnets/{sid}/route-table", new { routeTable = "nope" }), HttpStatusCode.Conflict, "routeTable");
        Problem.Assert(await Api.Put($"/api/v1/networks/{id}/subnets/sub-999999/route-table", new { routeTable = "main" }), HttpStatusCode.NotFound, "subnetId");
        Problem.Assert(await Api.Put($"/api/v1/networks/{id}/subnets/{sid}/route-table", new { }), HttpStatusCode.BadRequest, "routeTable");

        // A table in use, and main, cannot go; an endpoint that a route targets cannot go.
        Problem.Assert(await Api.Delete($"/api/v1/networks/{id}/route-tables/via-fw"), HttpStatusCode.Conflict, "routeTable", "route-table-in-use");
        Problem.Assert(await Api.Delete($"/api/v1/networks/{id}/route-tables/main"), HttpStatusCode.Conflict, "routeTable", "main-route-table");
        Problem.Assert(await Api.Delete($"/api/v1/endpoints/{ep}"), HttpStatusCode.Conflict, "endpointId", "endpoint-is-route-target");
        // A network another network's route leaks into cannot go.
        Problem.Assert(await Api.Delete($"/api/v1/networks/{other["id"]}"), HttpStatusCode.Conflict, "networkId", "network-is-route-target");
    }

    [Fact]
    public async Task External_vteps()
    {
        var net = await Api.Create("/api/v1/networks", new { name = node.Name("ext"), vni = node.NextVni(), kind = "l2" });
        var id = net["id"]!.GetValue<string>();
        var added = await Api.Post($"/api/v1/networks/{id}/external-vteps", new { address = "192.0.2.20", port = 8472 });
        Assert.Equal(HttpStatusCode.Created, added.Status);
        Assert.Equal($"/api/v1/networks/{id}/external-vteps/192.0.2.20:8472", added.Response.Headers.Location!.OriginalString);
        Assert.Equal(8472, added.Body["port"]!.GetValue<int>());
        var dflt = await Api.Create($"/api/v1/networks/{id}/external-vteps", new { address = "192.0.2.21" });
        Assert.Equal(4789, dflt["port"]!.GetValue<int>());

        Problem.Assert(await Api.Post($"/api/v1/networks/{id}/external-vteps", new { address = "192.0.2.20", port = 8472 }), HttpStatusCode.Conflict, "address", "external-vtep-exists");
        Problem.Assert(await Api.Post($"/api/v1/networks/{id}/external-vteps", new { address = "192.0.2.300" }), HttpStatusCode.BadRequest, "address");
        Problem.Assert(await Api.Post($"/api/v1/networks/{id}/external-vteps", new { address = "224.0.0.1" }), HttpStatusCode.BadRequest, "address");
        Problem.Assert(await Api.Post($"/api/v1/networks/{id}/external-vteps", new { address = "192.0.2.22", port = 70000 }), HttpStatusCode.BadRequest, "port");
        Problem.Assert(await Api.Post("/api/v1/networks/net-999999/external-vteps", new { address = "192.0.2.22" }), HttpStatusCode.NotFound, "networkId");

        Assert.Equal(2, (await Api.Get($"/api/v1/networks/{id}/external-vteps")).Body.AsArray().Count);
        Assert.Equal(HttpStatusCode.NoContent, (await Api.Delete($"/api/v1/networks/{id}/external-vteps/192.0.2.20:8472")).Status);
        Assert.Equal(HttpStatusCode.NoContent, (await Api.Delete($"/api/v1/networks/{id}/external-vteps/192.0.2.21")).Status);
        Assert.Empty((await Api.Get($"/api/v1/networks/{id}/external-vteps")).Body.AsArray());
        Problem.Assert(await Api.Delete($"/api/v1/networks/{id}/external-vteps/192.0.2.21:http"), HttpStatusCode.BadRequest, "vtep");
    }

    [Fact]
    public async Task A_network_with_endpoints_cannot_be_deleted()
    {
        var net = await L3("10.6.0.0/16");
        var id = net["id"]!.GetValue<string>();
        await Api.Create($"/api/v1/networks/{id}/subnets", new { name = "s", cidr = "10.6.1.0/24" });
        var ep = await Api.Create("/api/v1/endpoints", new { name = "vm", network = id, node = "elsewhere", port = new { kind = "guest" } });
        Problem.Assert(await Api.Delete($"/api/v1/networks/{id}"), HttpStatusCode.Conflict, "networkId", "network-has-endpoints");
        Assert.Equal(HttpStatusCode.NoContent, (await Api.Delete($"/api/v1/endpoints/{ep["id"]}")).Status);
        Assert.Equal(HttpStatusCode.NoContent, (await Api.Delete($"/api/v1/networks/{id}")).Status);
    }
}
