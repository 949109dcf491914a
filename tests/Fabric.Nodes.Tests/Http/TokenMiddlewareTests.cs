using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using Fabric.Actors.Intent;
using Fabric.Actors.Node;
using Fabric.Nodes.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Endpoint = Microsoft.AspNetCore.Http.Endpoint;

namespace Fabric.Nodes.Tests.Http;

/// <summary>
/// The token middleware on its own (no node, no port): scopes, several valid tokens, revoked (401) versus unknown
/// (403), the nodes' configured token, and the audit line of every write.
/// </summary>
public sealed class TokenMiddlewareTests
{
    private const string Bootstrap = "bootstrap-secret";
    private static readonly DateTime T0 = new(2026, 12, 1, 12, 0, 0, DateTimeKind.Utc);

    private static string DigestOf(string secret)
        => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    private static readonly IServiceProvider Services = new ServiceCollection().AddLogging().AddProblemDetails().BuildServiceProvider();

    private sealed class Logs : ILoggerProvider, ILogger
    {
        public ConcurrentQueue<(string Category, LogLevel Level, string Text)> Lines { get; } = new();
        private string _category = "";
        public ILogger CreateLogger(string categoryName) => new Logs { _lines = Lines, _category = categoryName };
        private ConcurrentQueue<(string, LogLevel, string)>? _lines;
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => (_lines ?? Lines).Enqueue((_category, logLevel, formatter(state, exception)));
        public void Dispose() { }
    }

    /// <summary>Keeps OnCompleted callbacks so the test can run them as the server would after the answer.</summary>
    private sealed class Response : HttpResponseFeature
    {
        private readonly List<(Func<object, Task> Callback, object State)> _completed = new();
        public override void OnCompleted(Func<object, Task> callback, object state) => _completed.Add((callback, state));
        public async Task CompleteAsync() { foreach (var (c, s) in _completed) await c(s); }
    }

    private sealed record Outcome(int Status, bool Reached, JsonNode? Problem, IReadOnlyList<string> Audit);

    private readonly TokenTable _table = new();
    private readonly Logs _logs = new();

    public TokenMiddlewareTests()
    {
        var s = FabricConfiguration.Empty;
        foreach (var c in new ConfigurationCommand[]
                 {
                     new CreateToken("reader-1", "read", DigestOf("r1"), T0), new CreateToken("reader-2", "read", DigestOf("r2"), T0),
                     new CreateToken("admin-1", "admin", DigestOf("a1"), T0), new CreateToken("old", "admin", DigestOf("gone"), T0),
                     new RevokeToken("old", null, T0),
                 })
            s = s.ApplyAll(((Decision.Accept)s.Decide(c)).Events);
        _table.Publish(s, 5);
    }

    private async Task<Outcome> Send(string method, string path, string? token, Endpoint? endpoint = null, int handlerStatus = 200)
    {
        var response = new Response();
        var features = new FeatureCollection();
        features.Set<IHttpRequestFeature>(new HttpRequestFeature { Method = method, Path = path, Headers = new HeaderDictionary() });
        features.Set<IHttpResponseFeature>(response);
        var body = new MemoryStream();
        features.Set<IHttpResponseBodyFeature>(new StreamResponseBodyFeature(body));
        var http = new DefaultHttpContext(features) { RequestServices = Services };
        if (token is not null) http.Request.Headers.Authorization = "Bearer " + token;
        http.SetEndpoint(endpoint ?? new RouteEndpoint(_ => Task.CompletedTask, RoutePatternFactory.Parse(path), 0, EndpointMetadataCollection.Empty, path));

        var reached = false;
        var factory = LoggerFactory.Create(b => b.AddProvider(_logs).SetMinimumLevel(LogLevel.Trace));
        var middleware = new BearerTokenMiddleware(h =>
        {
            reached = true;
            h.Response.StatusCode = handlerStatus;
            return Task.CompletedTask;
        }, new BearerToken(Bootstrap), _table, factory);
        _logs.Lines.Clear();
        await middleware.InvokeAsync(http);
        await response.CompleteAsync();
        var text = Encoding.UTF8.GetString(body.ToArray());
        return new Outcome(http.Response.StatusCode, reached, text.Length > 0 ? JsonNode.Parse(text) : null,
            _logs.Lines.Where(l => l.Category == BearerTokenMiddleware.AuditCategory && l.Level == LogLevel.Information).Select(l => l.Text).ToList());
    }

    private static void Refused(Outcome o, int status, string code)
    {
        Assert.False(o.Reached, "the handler ran");
        Assert.Equal(status, o.Status);
        Assert.Equal(code, o.Problem?["code"]?.GetValue<string>());
    }

    [Fact]
    public async Task Several_tokens_are_valid_at_once_and_read_tokens_may_get()
    {
        foreach (var token in new[] { "r1", "r2", "a1", Bootstrap })
        {
            var o = await Send("GET", "/api/v1/networks", token);
            Assert.True(o.Reached, $"{token}: {o.Status} {o.Problem}");
        }
    }

    [Theory]
    [InlineData("POST", "/api/v1/networks")]
    [InlineData("DELETE", "/api/v1/networks/net-1")]
    [InlineData("PUT", "/api/v1/endpoints/ep-1/node")]
    [InlineData("PATCH", "/api/v1/anything")]
    public async Task A_read_token_gets_403_naming_the_scope_needed_on_anything_but_a_get(string method, string path)
    {
        var o = await Send(method, path, "r1");
        Refused(o, 403, "token-scope");
        Assert.Contains("admin", o.Problem!["detail"]!.GetValue<string>());
        Assert.Contains("reader-1", o.Problem!["detail"]!.GetValue<string>());
        Assert.True((await Send(method, path, "a1")).Reached, "an admin token may");
        Assert.True((await Send(method, path, Bootstrap)).Reached, "the configured token is admin");
    }

    [Fact]
    public async Task A_route_marked_admin_refuses_a_read_token_even_for_a_get()
    {
        var tokens = new Endpoint(_ => Task.CompletedTask, new EndpointMetadataCollection(new RequiredScope(TokenScope.Admin)), "tokens");
        Refused(await Send("GET", "/api/v1/tokens", "r2", tokens), 403, "token-scope");
        Assert.True((await Send("GET", "/api/v1/tokens", "a1", tokens)).Reached);
    }

    [Fact]
    public async Task A_revoked_token_is_401_an_unknown_one_403_and_none_401()
    {
        foreach (var method in new[] { "GET", "POST" })
        {
            Refused(await Send(method, "/api/v1/networks", "gone"), 401, "token-revoked");
            Refused(await Send(method, "/api/v1/networks", "never-issued"), 403, "token-invalid");
            Refused(await Send(method, "/api/v1/networks", "R1"), 403, "token-invalid"); // tokens are case-sensitive
            Refused(await Send(method, "/api/v1/networks", null), 401, "token-required");
        }
    }

    [Fact]
    public async Task The_configured_token_is_refused_with_401_once_revoked_cluster_wide()
    {
        var s = FabricConfiguration.Empty;
        s = s.ApplyAll(((Decision.Accept)s.Decide(new RevokeToken(AccessTokens.Bootstrap, DigestOf("another node's"), T0))).Events);
        _table.Publish(s, 6);
        Refused(await Send("GET", "/api/v1/networks", Bootstrap), 401, "token-revoked");
    }

    [Fact]
    public async Task Open_routes_need_no_token()
    {
        Assert.True((await Send("GET", "/health/ready", null)).Reached);
        Assert.True((await Send("GET", "/openapi/v1.json", null)).Reached);
    }

    [Fact]
    public async Task Every_write_is_logged_with_the_tokens_name_method_route_and_status_and_reads_are_not()
    {
        var route = new RouteEndpoint(_ => Task.CompletedTask, RoutePatternFactory.Parse("/api/v1/networks/{networkId}"), 0, EndpointMetadataCollection.Empty, "n");
        var o = await Send("DELETE", "/api/v1/networks/net-7", "a1", route, handlerStatus: 204);
        var line = Assert.Single(o.Audit);
        foreach (var part in new[] { "admin-1", "DELETE", "/api/v1/networks/{networkId}", "/api/v1/networks/net-7", "204" })
            Assert.Contains(part, line);

        var refused = Assert.Single((await Send("POST", "/api/v1/networks", "r2")).Audit);
        Assert.Contains("reader-2", refused);
        Assert.Contains("403", refused);
        Assert.Contains("revoked old", Assert.Single((await Send("POST", "/api/v1/networks", "gone")).Audit));

        Assert.Empty((await Send("GET", "/api/v1/networks", "a1")).Audit);
    }
}
