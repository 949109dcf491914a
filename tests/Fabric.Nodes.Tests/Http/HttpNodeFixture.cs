using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Cluster;
using Fabric.Actors.Cluster;
using Fabric.Actors.Node;
using Fabric.Nodes.Http;
using Microsoft.AspNetCore.Builder;

namespace Fabric.Nodes.Tests.Http;

/// <summary>
/// One Fabric node in this process (its own SQLite folder, a live dataplane on a loopback VTEP address nobody else
/// uses, a random cluster port) and its management endpoint on 127.0.0.1 with a port the system picks. Shared by
/// every HTTP test: they create what they need under names and VNIs of their own.
/// </summary>
public sealed class HttpNodeFixture : IAsyncLifetime
{
    public const string Token = "http-tests-token-7c1f";
    public const string NodeName = "http-1";

    private static int _vni = Random.Shared.Next(1000, 1_000_000);
    private static int _name;

    public string DataDir { get; } = Path.Combine(Path.GetTempPath(), $"fabric-http-{Guid.NewGuid():N}");
    public NodeConfig Config { get; private set; } = null!;
    public FabricRuntime Runtime { get; private set; } = null!;
    public WebApplication App { get; private set; } = null!;
    public string Url { get; private set; } = "";
    public Api Client { get; private set; } = null!;
    /// <summary>No Authorization header at all.</summary>
    public HttpClient Anonymous { get; private set; } = null!;

    /// <summary>A VNI no other test uses.</summary>
    public int NextVni() => Interlocked.Increment(ref _vni);

    /// <summary>A name no other test uses.</summary>
    public string Name(string hint) => $"{hint}-{Interlocked.Increment(ref _name)}";

    /// <summary>A loopback VTEP address (127.0.0.0/8 is all loopback on Linux) and UDP port that parallel runs will not share.</summary>
    public static string VtepHocon(int node) => $"""
        fabric.vtep.address = "127.{Random.Shared.Next(1, 250)}.{Environment.ProcessId % 250}.{node}"
        fabric.vtep.port = {20000 + Random.Shared.Next(0, 20000)}
        """;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(DataDir);
        Config = new NodeConfig
        {
            Port = NodeConfig.FreeTcpPort(),
            DataDir = DataDir,
            NodeName = NodeName,
            Extra = VtepHocon(1) + "\nfabric.dataplane.enabled = on",
        };
        Runtime = FabricRuntime.Start(Config.Build());
        App = ManagementEndpoint.Build(Runtime, new ManagementOptions("127.0.0.1", 0, Token));
        await App.StartAsync();
        Url = App.Url();
        Client = new Api(new HttpClient { BaseAddress = new Uri(Url), Timeout = TimeSpan.FromSeconds(60) }, Token);
        Anonymous = new HttpClient { BaseAddress = new Uri(Url) };

        var sw = Stopwatch.StartNew();
        while (true)
        {
            using var r = await Anonymous.GetAsync("/health/ready");
            if (r.StatusCode == HttpStatusCode.OK) break;
            if (sw.Elapsed > TimeSpan.FromSeconds(30)) throw new TimeoutException($"the node did not become ready: {await r.Content.ReadAsStringAsync()}");
            await Task.Delay(50);
        }
    }

    /// <summary>A second node joining this one (control plane only), for the membership tests.</summary>
    public FabricRuntime StartPeer(string name) => FabricRuntime.Start(new NodeConfig
    {
        Port = NodeConfig.FreeTcpPort(),
        SeedNodes = [Config.AkkaAddress],
        DataDir = DataDir,
        NodeName = name,
        Extra = VtepHocon(2) + "\nfabric.dataplane.enabled = off",
    }.Build());

    public async Task DisposeAsync()
    {
        Client?.Dispose();
        Anonymous?.Dispose();
        if (App is not null)
        {
            try { await App.StopAsync().WaitAsync(TimeSpan.FromSeconds(10)); } catch (Exception) { /* stopping anyway */ }
            await App.DisposeAsync();
        }
        if (Runtime is not null)
        {
            try { await Runtime.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20)); } catch (Exception) { /* best effort */ }
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(DataDir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    public static async Task Eventually(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            if (await condition()) return;
            await Task.Delay(50);
        }
        Assert.Fail($"timed out after {timeout} waiting for: {what}");
    }

    public static bool IsUp(FabricRuntime rt) => rt.Node.Cluster.SelfMember.Status == MemberStatus.Up;
}

[CollectionDefinition(Name)]
public sealed class HttpCollection : ICollectionFixture<HttpNodeFixture>
{
    public const string Name = "http";
}

/// <summary>An HTTP answer: status, headers, and the body as JSON (null when empty or not JSON).</summary>
public sealed record Answer(HttpStatusCode Status, HttpResponseMessage Response, string Text, JsonNode? Json)
{
    public JsonNode Body => Json ?? throw new Xunit.Sdk.XunitException($"{(int)Status}: no JSON body: '{Text}'");
    public string? ContentType => Response.Content.Headers.ContentType?.MediaType;
    public override string ToString() => $"{(int)Status} {Text}";
}

/// <summary>The API as a test drives it: JSON in, <see cref="Answer"/> out, the token on every request.</summary>
public sealed class Api(HttpClient http, string? token) : IDisposable
{
    public HttpClient Http => http;

    public Task<Answer> Get(string path) => Send(HttpMethod.Get, path, null);
    public Task<Answer> Delete(string path) => Send(HttpMethod.Delete, path, null);
    public Task<Answer> Post(string path, object? body = null) => Send(HttpMethod.Post, path, body);
    public Task<Answer> Put(string path, object? body) => Send(HttpMethod.Put, path, body);

    /// <summary>A string body is sent as it is (for malformed JSON); anything else is serialized (camelCase).</summary>
    public async Task<Answer> Send(HttpMethod method, string path, object? body, string contentType = "application/json")
    {
        using var request = new HttpRequestMessage(method, path);
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (body is not null)
        {
            var text = body as string ?? JsonSerializer.Serialize(body, JsonSerializerOptions.Web);
            request.Content = new StringContent(text, Encoding.UTF8);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        }
        var response = await http.SendAsync(request);
        var content = await response.Content.ReadAsStringAsync();
        JsonNode? json = null;
        try { json = content.Length > 0 ? JsonNode.Parse(content) : null; } catch (JsonException) { }
        return new Answer(response.StatusCode, response, content, json);
    }

    /// <summary>Posts and insists on 201; returns the created resource.</summary>
    public async Task<JsonNode> Create(string path, object body)
    {
        var a = await Post(path, body);
        Assert.True(a.Status == HttpStatusCode.Created, $"POST {path} {JsonSerializer.Serialize(body, JsonSerializerOptions.Web)} → {a}");
        return a.Body;
    }

    public void Dispose() => http.Dispose();
}

public static class Problem
{
    /// <summary>Asserts an RFC 9457 problem with the status, and when given the field in <c>errors</c>; returns the body.</summary>
    public static JsonNode Assert(Answer a, HttpStatusCode status, string? field = null, string? code = null)
    {
        Xunit.Assert.True(a.Status == status, $"expected {(int)status}, got {a}");
        Xunit.Assert.Equal("application/problem+json", a.ContentType);
        var p = a.Body;
        Xunit.Assert.Equal((int)status, p["status"]!.GetValue<int>());
        Xunit.Assert.False(string.IsNullOrEmpty(p["type"]?.GetValue<string>()), $"no type: {a}");
        Xunit.Assert.False(string.IsNullOrEmpty(p["title"]?.GetValue<string>()), $"no title: {a}");
        Xunit.Assert.False(string.IsNullOrEmpty(p["detail"]?.GetValue<string>()), $"no detail: {a}");
        if (field is not null)
        {
            var errors = p["errors"] as JsonObject ?? throw new Xunit.Sdk.XunitException($"no errors in {a}");
            Xunit.Assert.True(errors.ContainsKey(field), $"errors does not name '{field}': {a}");
            Xunit.Assert.NotEmpty(errors[field]!.AsArray());
        }
        if (code is not null) Xunit.Assert.Equal(code, p["code"]?.GetValue<string>());
        return p;
    }
}
