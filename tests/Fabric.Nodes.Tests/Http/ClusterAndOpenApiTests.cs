using System.Net;
using System.Text.Json.Nodes;
using Fabric.Actors.Node;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Fabric.Nodes.Tests.Http;

[Collection(HttpCollection.Name)]
public sealed class ClusterAndOpenApiTests(HttpNodeFixture node)
{
    private Api Api => node.Client;

    [Fact]
    public async Task Members_and_unknown_members()
    {
        var members = await Api.Get("/cluster/members");
        Assert.Equal(HttpStatusCode.OK, members.Status);
        var self = members.Body.AsArray().Single(m => m!["name"]!.GetValue<string>() == HttpNodeFixture.NodeName)!;
        Assert.Equal("up", self["status"]!.GetValue<string>());
        Assert.True(self["reachable"]!.GetValue<bool>());
        Assert.StartsWith("akka.tcp://fabric@127.0.0.1:", self["address"]!.GetValue<string>());
        Assert.StartsWith("127.", self["vtep"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, (await Api.Get($"/cluster/members/{HttpNodeFixture.NodeName}")).Status);

        Problem.Assert(await Api.Get("/cluster/members/nobody"), HttpStatusCode.NotFound, "name", "member-not-found");
        Problem.Assert(await Api.Post("/cluster/members/nobody/leave"), HttpStatusCode.NotFound, "name", "member-not-found");
        Problem.Assert(await Api.Delete("/cluster/members/nobody"), HttpStatusCode.NotFound, "name", "member-not-found");
    }

    [Fact]
    public async Task A_member_leaves_and_another_is_downed()
    {
        FabricRuntime? leaver = null, downed = null;
        try
        {
            leaver = node.StartPeer("http-leaver");
            downed = node.StartPeer("http-downed");
            await HttpNodeFixture.Eventually(async () =>
            {
                var m = await Api.Get("/cluster/members");
                return m.Body.AsArray().Count(x => x!["status"]!.GetValue<string>() == "up") == 3;
            }, TimeSpan.FromSeconds(30), "three members up");

            var leave = await Api.Post("/cluster/members/http-leaver/leave");
            Assert.Equal(HttpStatusCode.Accepted, leave.Status);
            Assert.Equal("http-leaver", leave.Body["name"]!.GetValue<string>());
            var down = await Api.Delete("/cluster/members/http-downed");
            Assert.Equal(HttpStatusCode.Accepted, down.Status);

            await HttpNodeFixture.Eventually(async () =>
            {
                var m = await Api.Get("/cluster/members");
                return m.Body.AsArray().All(x => x!["name"]!.GetValue<string>() == HttpNodeFixture.NodeName);
            }, TimeSpan.FromSeconds(30), "both gone from the members");
            // Leaving ends the member's actor system (CoordinatedShutdown), and so does being downed.
            await leaver.System.WhenTerminated.WaitAsync(TimeSpan.FromSeconds(20));
            await downed.System.WhenTerminated.WaitAsync(TimeSpan.FromSeconds(20));
        }
        finally
        {
            foreach (var peer in new[] { leaver, downed })
                if (peer is not null)
                    try { await peer.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20)); } catch (Exception) { /* best effort */ }
        }
        Assert.True(HttpNodeFixture.IsUp(node.Runtime));
    }

    [Fact]
    public async Task The_openapi_document_lists_every_route()
    {
        var doc = (await new Api(node.Anonymous, null).Get("/openapi/v1.json")).Body;
        var paths = doc["paths"]!.AsObject();
        var routes = node.App.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => !e.RoutePattern.RawText!.StartsWith("/openapi/", StringComparison.Ordinal))
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? []).Select(m => (Path: Normalize(e.RoutePattern.RawText!), Method: m)))
            .ToArray();
        Assert.True(routes.Length >= 35, $"only {routes.Length} routes");
        foreach (var (path, method) in routes)
        {
            Assert.True(paths.ContainsKey(path), $"{path} is not in the OpenAPI document: {string.Join(", ", paths.Select(p => p.Key))}");
            Assert.True(paths[path]!.AsObject().ContainsKey(method.ToLowerInvariant()), $"{method} {path} is not in the OpenAPI document");
        }

        // Everything in API.md, by name.
        string[] contract =
        [
            "get /health/alive", "get /health/ready", "get /metrics",
            "get /cluster/members", "post /cluster/members/{name}/leave", "delete /cluster/members/{name}",
            "get /api/v1/alarms", "get /api/v1/events", "get /ui",
            "post /api/v1/networks", "get /api/v1/networks", "get /api/v1/networks/{networkId}", "delete /api/v1/networks/{networkId}",
            "post /api/v1/networks/{networkId}/subnets", "post /api/v1/networks/{networkId}/route-tables",
            "post /api/v1/networks/{networkId}/route-tables/{routeTable}/routes", "put /api/v1/networks/{networkId}/subnets/{subnetId}/route-table",
            "post /api/v1/networks/{networkId}/external-vteps",
            "post /api/v1/endpoints", "get /api/v1/endpoints", "get /api/v1/endpoints/{endpointId}", "delete /api/v1/endpoints/{endpointId}",
            "put /api/v1/endpoints/{endpointId}/node", "post /api/v1/endpoints/{endpointId}/ping",
            "post /api/v1/endpoints/bulk", "post /api/v1/endpoints/bulk-delete",
            "get /api/v1/nodes/{node}/fdb", "get /api/v1/nodes/{node}/routes", "get /api/v1/nodes/{node}/flood-groups", "get /api/v1/nodes/{node}/counters",
            "get /api/v1/nodes/{node}/drops",
        ];
        foreach (var entry in contract)
        {
            var (method, path) = (entry.Split(' ')[0], entry.Split(' ')[1]);
            Assert.True(paths[path]?.AsObject().ContainsKey(method) == true, $"{entry} is missing from the OpenAPI document");
        }

        // The bearer scheme, required except on the open routes.
        Assert.Equal("bearer", doc["components"]!["securitySchemes"]!["bearer"]!["scheme"]!.GetValue<string>());
        Assert.NotEmpty(doc["security"]!.AsArray());
        Assert.Empty(paths["/health/ready"]!["get"]!["security"]!.AsArray());
        Assert.Null(paths["/api/v1/networks"]!["get"]!["security"]);
        // Request bodies are described, with their fields.
        var body = paths["/api/v1/networks"]!["post"]!["requestBody"]!["content"]!["application/json"]!["schema"]!;
        Assert.NotNull(body["$ref"] ?? body["properties"]);
    }

    /// <summary>The route pattern as OpenAPI writes it: no catch-all stars, no trailing slash.</summary>
    private static string Normalize(string pattern)
    {
        var p = pattern.Replace("{**", "{", StringComparison.Ordinal);
        return p.Length > 1 ? p.TrimEnd('/') : p; // a group's "" route ends in a slash
    }
}
