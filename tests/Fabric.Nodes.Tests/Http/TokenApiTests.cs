using System.Net;
using System.Text.Json.Nodes;
using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Fabric.Nodes.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Fabric.Nodes.Tests.Http;

/// <summary>The token routes on a live node, and a read token walked over every route of the OpenAPI document.</summary>
[Collection(HttpCollection.Name)]
public sealed class TokenApiTests(HttpNodeFixture node)
{
    private Api As(string token) => new(new HttpClient { BaseAddress = new Uri(node.Url), Timeout = TimeSpan.FromSeconds(30) }, token);

    private async Task<(string Name, string Secret)> CreateToken(string hint, string scope)
    {
        var name = node.Name(hint);
        var created = await node.Client.Create("/api/v1/tokens", new { name, scope });
        Assert.Equal(name, created["name"]!.GetValue<string>());
        Assert.Equal(scope, created["scope"]!.GetValue<string>());
        var secret = created["token"]!.GetValue<string>();
        Assert.Matches("^[A-Za-z0-9_-]{43}$", secret); // 256 bits, base64url without padding
        return (name, secret);
    }

    [Fact]
    public async Task A_read_token_gets_403_on_every_write_route_of_the_openapi_document_and_on_admin_reads()
    {
        var (_, secret) = await CreateToken("reader", "read");
        using var reader = As(secret);
        Assert.Equal(HttpStatusCode.OK, (await reader.Get("/api/v1/networks")).Status);

        // From the document, not a hand list: a route added later is walked too.
        var paths = (await node.Client.Get("/openapi/v1.json")).Body["paths"]!.AsObject();
        var walked = new List<string>();
        foreach (var (path, item) in paths)
            foreach (var (method, operation) in item!.AsObject())
            {
                if (operation?["x-fabric-scope"]?.GetValue<string>() is not { } scope)
                {
                    Assert.True(method == "get" && (path.StartsWith("/health") || path == "/metrics" || path.StartsWith("/openapi") || path.StartsWith("/ui")),
                        $"{method.ToUpperInvariant()} {path} says no scope but is not an open route");
                    continue;
                }
                Assert.Equal(method == "get" && !path.StartsWith("/api/v1/tokens") ? "read" : "admin", scope);
                if (scope == "read") continue;
                var url = Regex.Replace(path, "{[^}]+}", "x");
                var answer = await reader.Send(new HttpMethod(method.ToUpperInvariant()), url, "{}");
                var problem = Problem.Assert(answer, HttpStatusCode.Forbidden, code: "token-scope");
                Assert.Contains("admin", problem["detail"]!.GetValue<string>());
                walked.Add($"{method.ToUpperInvariant()} {path}");
            }
        // Every write of API.md that exists today, at least (a sanity floor: the walk really walked).
        Assert.True(walked.Count >= 20, $"only {walked.Count} admin operations in the document: {string.Join(", ", walked)}");
        Assert.Contains("POST /api/v1/networks", walked);
        Assert.Contains("DELETE /api/v1/tokens/{name}", walked);
        Assert.Contains("GET /api/v1/tokens", walked);
    }

    [Fact]
    public async Task Tokens_are_listed_without_secrets_work_at_once_and_a_revoked_one_is_401()
    {
        var (name, secret) = await CreateToken("rotate", "admin");
        using var admin = As(secret);
        // Works on this node as soon as it was answered: the node waited until it checks requests with it.
        var net = await admin.Create("/api/v1/networks", new { name = node.Name("by-token"), vni = node.NextVni(), kind = "l2" });
        Assert.Equal(HttpStatusCode.NoContent, (await admin.Delete($"/api/v1/networks/{net["id"]!.GetValue<string>()}")).Status);

        var list = await node.Client.Get("/api/v1/tokens");
        Assert.Equal(HttpStatusCode.OK, list.Status);
        Assert.DoesNotContain(secret, list.Text);
        var rows = list.Body.AsArray().Select(r => r!.AsObject()).ToArray();
        Assert.Contains(rows, r => r["name"]!.GetValue<string>() == "bootstrap" && r["scope"]!.GetValue<string>() == "admin");
        var mine = Assert.Single(rows, r => r["name"]!.GetValue<string>() == name);
        Assert.Equal(("admin", "valid"), (mine["scope"]!.GetValue<string>(), mine["state"]!.GetValue<string>()));
        Assert.All(rows, r => Assert.Null(r["token"]));

        Assert.Equal(HttpStatusCode.NoContent, (await node.Client.Delete($"/api/v1/tokens/{name}")).Status);
        Problem.Assert(await admin.Get("/api/v1/networks"), HttpStatusCode.Unauthorized, code: "token-revoked");
        Assert.Equal(HttpStatusCode.NoContent, (await node.Client.Delete($"/api/v1/tokens/{name}")).Status); // again: still revoked
        Problem.Assert(await node.Client.Delete($"/api/v1/tokens/{node.Name("never")}"), HttpStatusCode.NotFound, "name", "token-not-found");
        var revokedRow = (await node.Client.Get("/api/v1/tokens")).Body.AsArray().Single(r => r!["name"]!.GetValue<string>() == name)!;
        Assert.Equal("revoked", revokedRow["state"]!.GetValue<string>());
    }

    /// <summary>Collects what the node logs, as a provider added to its running logger factory.</summary>
    private sealed class Collect : ILoggerProvider, ILogger
    {
        public ConcurrentQueue<string> Lines { get; } = new();
        public ILogger CreateLogger(string categoryName) => categoryName == BearerTokenMiddleware.AuditCategory ? this : Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => Lines.Enqueue($"{logLevel} {formatter(state, exception)}");
        public void Dispose() { }
    }

    [Fact]
    public async Task Every_write_is_logged_at_information_with_the_tokens_name_though_the_endpoint_logs_only_warnings()
    {
        var collect = new Collect();
        node.App.Services.GetRequiredService<ILoggerFactory>().AddProvider(collect);
        var (name, secret) = await CreateToken("audited", "admin");
        using var admin = As(secret);
        var net = await admin.Create("/api/v1/networks", new { name = node.Name("audit"), vni = node.NextVni(), kind = "l2" });
        await admin.Get("/api/v1/networks");
        var lines = Array.Empty<string>();
        await HttpNodeFixture.Eventually(() => Task.FromResult((lines = collect.Lines.Where(l => l.Contains(name)).ToArray()).Length > 0),
            TimeSpan.FromSeconds(5), "the write's audit line"); // written once the answer has gone
        var line = Assert.Single(lines);
        Assert.StartsWith("Information write by token " + name + ": POST /api/v1/networks", line);
        Assert.EndsWith("-> 201", line);
        Assert.DoesNotContain(collect.Lines, l => l.Contains("GET"));
        Assert.NotNull(net["id"]);
    }

    [Fact]
    public async Task Bad_token_requests_are_problems_naming_the_field()
    {
        Problem.Assert(await node.Client.Post("/api/v1/tokens", new { name = node.Name("t"), scope = "root" }), HttpStatusCode.BadRequest, "scope", "scope-invalid");
        Problem.Assert(await node.Client.Post("/api/v1/tokens", new { name = node.Name("t") }), HttpStatusCode.BadRequest, "scope", "scope-required");
        Problem.Assert(await node.Client.Post("/api/v1/tokens", new { name = "no spaces", scope = "read" }), HttpStatusCode.BadRequest, "name");
        Problem.Assert(await node.Client.Post("/api/v1/tokens", new { scope = "read" }), HttpStatusCode.BadRequest, "name");
        Problem.Assert(await node.Client.Post("/api/v1/tokens", new { name = "bootstrap", scope = "read" }), HttpStatusCode.Conflict, "name", "token-name-reserved");
        Problem.Assert(await node.Client.Post("/api/v1/tokens", new { name = node.Name("t"), scope = "read", secret = "mine" }), HttpStatusCode.BadRequest, "secret", "field-unknown");
        var (name, _) = await CreateToken("twice", "read");
        Problem.Assert(await node.Client.Post("/api/v1/tokens", new { name, scope = "read" }), HttpStatusCode.Conflict, "name", "token-exists");
    }
}
