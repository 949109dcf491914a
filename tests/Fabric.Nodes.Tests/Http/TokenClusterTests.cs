using System.Diagnostics;
using System.Net;
using Fabric.Actors.Node;
using Fabric.Nodes.Tests.Cli;
using Xunit.Abstractions;

namespace Fabric.Nodes.Tests.Http;

/// <summary>
/// Tokens are the cluster's, not a node's: on three nodes, a token created through one works on every node within
/// a second, and once revoked through another it gets 401 on every node within a second (each node checks its own
/// replica's tokens; nobody is asked per request).
/// </summary>
[Collection(LocalClusterCollection.Name)] // a three-node cluster: not beside the other cluster tests on two cores
public sealed class TokenClusterTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Nodes = 3;
    private const string Token = "token-cluster-bootstrap-3f9c";
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(1);
    private HttpCluster _cluster = null!;
    private List<FabricRuntime> _runtimes => _cluster.Runtimes;
    private List<Api> _apis => _cluster.Apis;

    public async Task InitializeAsync()
    {
        _cluster = await HttpCluster.StartAsync(Nodes, Token, i => $"tok-{i + 1}", dataplane: false, prefix: "fabric-tokens");
        // Every replica has had its first snapshot (it holds the tokens from then on).
        await HttpNodeFixture.Eventually(() => Task.FromResult(_runtimes.All(r => r.Tokens.Current.Loaded)), TimeSpan.FromSeconds(30), "every node's tokens loaded");
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    /// <summary>How long after <paramref name="since"/> node <paramref name="i"/> first answered <paramref name="status"/> to the token (polled every 10 ms, given up after 5 s).</summary>
    private async Task<TimeSpan> Until(int i, string secret, HttpStatusCode status, Stopwatch since)
    {
        using var api = new Api(new HttpClient { BaseAddress = _apis[i].Http.BaseAddress, Timeout = TimeSpan.FromSeconds(5) }, secret);
        while (since.Elapsed < TimeSpan.FromSeconds(5))
        {
            var at = since.Elapsed;
            var a = await api.Get("/cluster/members");
            if (a.Status == status) return at; // when the request was sent: the node already answered so
            await Task.Delay(10);
        }
        return TimeSpan.MaxValue;
    }

    [Fact]
    public async Task A_token_created_through_one_node_works_on_every_node_and_once_revoked_through_another_is_401_on_every_node_within_a_second()
    {
        var created = await _apis[0].Create("/api/v1/tokens", new { name = "rotating", scope = "read" });
        var since = Stopwatch.StartNew();
        var secret = created["token"]!.GetValue<string>();
        var works = await Task.WhenAll(Enumerable.Range(0, Nodes).Select(i => Until(i, secret, HttpStatusCode.OK, since)));
        output.WriteLine($"new token works on every node after: {string.Join(", ", works.Select(t => $"{t.TotalMilliseconds:F0} ms"))}");
        Assert.All(works, t => Assert.True(t <= Bound, $"a node took {t} to accept the new token"));

        var revoke = await _apis[1].Delete("/api/v1/tokens/rotating");
        Assert.Equal(HttpStatusCode.NoContent, revoke.Status);
        since.Restart();
        var refused = await Task.WhenAll(Enumerable.Range(0, Nodes).Select(i => Until(i, secret, HttpStatusCode.Unauthorized, since)));
        output.WriteLine($"revoked token refused on every node after: {string.Join(", ", refused.Select(t => $"{t.TotalMilliseconds:F0} ms"))}");
        Assert.All(refused, t => Assert.True(t <= Bound, $"a node took {t} to refuse the revoked token"));
        foreach (var api in _apis.Select(a => new Api(new HttpClient { BaseAddress = a.Http.BaseAddress }, secret)))
            using (api)
                Problem.Assert(await api.Get("/cluster/members"), HttpStatusCode.Unauthorized, code: "token-revoked");
    }
}
