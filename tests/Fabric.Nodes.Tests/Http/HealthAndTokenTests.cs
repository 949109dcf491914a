using System.Net;
using System.Net.Http.Headers;

namespace Fabric.Nodes.Tests.Http;

[Collection(HttpCollection.Name)]
public sealed class HealthAndTokenTests(HttpNodeFixture node)
{
    [Fact]
    public async Task Health_routes_answer_without_a_token()
    {
        var anonymous = new Api(node.Anonymous, token: null);
        var alive = await anonymous.Get("/health/alive");
        Assert.Equal(HttpStatusCode.OK, alive.Status);
        Assert.Equal("alive", alive.Body["status"]!.GetValue<string>());
        Assert.Equal(HttpNodeFixture.NodeName, alive.Body["node"]!.GetValue<string>());

        var ready = await anonymous.Get("/health/ready");
        Assert.Equal(HttpStatusCode.OK, ready.Status);
        Assert.Equal("ready", ready.Body["status"]!.GetValue<string>());

        var metrics = await anonymous.Get("/metrics");
        Assert.Equal(HttpStatusCode.OK, metrics.Status);
        Assert.StartsWith("text/plain", metrics.Response.Content.Headers.ContentType!.ToString());
        Assert.Contains("fabric_cluster_size 1", metrics.Text);

        var openapi = await anonymous.Get("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, openapi.Status);
        Assert.NotNull(openapi.Body["paths"]);
    }

    [Fact]
    public async Task Without_a_token_everything_else_is_401()
    {
        var anonymous = new Api(node.Anonymous, token: null);
        foreach (var path in new[] { "/cluster/members", "/api/v1/networks", "/api/v1/endpoints", $"/api/v1/nodes/{HttpNodeFixture.NodeName}/counters", "/api/v1/nowhere" })
        {
            var a = await anonymous.Get(path);
            Problem.Assert(a, HttpStatusCode.Unauthorized, code: "token-required");
            Assert.Equal("Bearer", a.Response.Headers.WwwAuthenticate.Single().Scheme);
        }
        // Writes too, before their body is even read.
        Problem.Assert(await anonymous.Post("/api/v1/networks", new { name = "x", vni = 5, kind = "l2" }), HttpStatusCode.Unauthorized);

        // Another scheme, or Bearer with nothing after it, is no bearer token either.
        foreach (var header in new[] { new AuthenticationHeaderValue("Basic", "dXNlcjpwYXNz"), new AuthenticationHeaderValue("Bearer", "") })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/networks");
            request.Headers.Authorization = header;
            using var response = await node.Anonymous.SendAsync(request);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
    }

    [Fact]
    public async Task A_wrong_token_is_403()
    {
        foreach (var wrong in new[] { "nope", HttpNodeFixture.Token + "x", HttpNodeFixture.Token[..^1], HttpNodeFixture.Token.ToUpperInvariant() })
        {
            var api = new Api(node.Anonymous, wrong);
            Problem.Assert(await api.Get("/api/v1/networks"), HttpStatusCode.Forbidden, code: "token-invalid");
            Problem.Assert(await api.Delete("/api/v1/networks/net-1"), HttpStatusCode.Forbidden);
        }
        // The scheme is case-insensitive (RFC 9110), the token is not.
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/networks");
        request.Headers.TryAddWithoutValidation("Authorization", "bearer " + HttpNodeFixture.Token);
        using var ok = await node.Anonymous.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task Unknown_routes_and_methods_are_problems_too()
    {
        Problem.Assert(await node.Client.Get("/api/v1/nowhere"), HttpStatusCode.NotFound, code: "route-not-found");
        var wrongMethod = await node.Client.Send(HttpMethod.Patch, "/api/v1/networks", null);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, wrongMethod.Status);
        Problem.Assert(wrongMethod, HttpStatusCode.MethodNotAllowed, code: "method-not-allowed");
    }
}
