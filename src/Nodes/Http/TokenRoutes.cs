using System.Buffers.Text;
using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using System.Text;
using Fabric.Actors.Intent;
using Fabric.Actors.Node;

namespace Fabric.Nodes.Http;

[JsonExample("""{"name": "ci", "scope": "read"}""")]
public sealed record CreateTokenRequest(
    [property: Required, Description("1-63 of letters, digits, '.', '_', '-'; unique among valid tokens; not \"bootstrap\"")] string? Name,
    [property: Required, Description("\"read\" (every GET) or \"admin\" (everything)")] string? Scope);

/// <summary>A token as listed: never its secret (nor its digest).</summary>
public sealed record TokenView(
    string Name,
    TokenScope Scope,
    [property: Description("\"valid\" or \"revoked\"")] string State,
    [property: Description("\"api\" (made with POST /api/v1/tokens) or \"configuration\" (the nodes' fabric.http.token)")] string Source,
    DateTime? Created = null,
    DateTime? Revoked = null);

/// <summary>A token just created, with its secret: shown this once, never again.</summary>
public sealed record CreatedTokenView(
    string Name,
    TokenScope Scope,
    DateTime Created,
    [property: Description("the secret to send as 'Authorization: Bearer TOKEN': 256 random bits, base64url; shown only now")] string Token);

/// <summary>
/// <c>/api/v1/tokens</c>: the cluster's API tokens (admin only, GET included). Tokens live in the configuration's
/// journal, digests only, and every node checks requests against all of them (see <see cref="TokenTable"/>).
/// </summary>
internal static class TokenRoutes
{
    /// <summary>How long a token write waits for this node to check requests with it before answering.</summary>
    private static readonly TimeSpan SeenLocally = TimeSpan.FromSeconds(1);

    public static void Map(IEndpointRouteBuilder app)
    {
        var tokens = app.MapGroup("/api/v1/tokens").WithTags("tokens").WithTokenProblems().WithMetadata(new RequiredScope(TokenScope.Admin));

        tokens.MapGet("", async (FabricApi api, CancellationToken ct) =>
            {
                var list = await api.ReadAsync(ListTokens.Instance, r => (TokenList)r.State.Answer(ListTokens.Instance, r.Revision), ct);
                var views = new List<TokenView>(list.Valid.Length + list.Revoked.Length + 1);
                if (!list.BootstrapRevoked) views.Add(new TokenView(AccessTokens.Bootstrap, TokenScope.Admin, "valid", "configuration"));
                foreach (var t in list.Valid) views.Add(View(t));
                foreach (var t in list.Revoked) views.Add(View(t));
                return Results.Ok(views);
            })
            .WithName("ListTokens").WithSummary("Every valid token and the latest revoked ones: names, scopes, times (never a secret)")
            .Produces<IReadOnlyList<TokenView>>();

        tokens.MapPost("", async (HttpContext http, FabricApi api, CancellationToken ct) =>
        {
            var body = await JsonBody<CreateTokenRequest>.ReadAsync(http);
            if (body.Problem is { } bad) return bad;
            var secret = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
            var digest = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));
            var now = DateTime.UtcNow;
            return await api.ExecuteAsync(new CreateToken(body.Value!.Name, body.Value.Scope, digest, new DateTime(now.Ticks - now.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc)), async a =>
            {
                var t = a.Events.OfType<TokenCreated>().Single().Token;
                // Read your own write: this node checks requests with the new token before it says so.
                await api.Runtime.Tokens.WaitUntilAsync(s => s.FindValid(t.Digest) is not null, SeenLocally, ct);
                http.Response.Headers.CacheControl = "no-store";
                return Results.Created($"/api/v1/tokens/{Uri.EscapeDataString(t.Name)}", new CreatedTokenView(t.Name, t.Scope, t.Created, secret));
            }, ct);
        }).WithName("CreateToken").WithSummary("Create a token; the answer holds its secret, shown this once")
          .WithJsonBody<CreateTokenRequest>().Produces<CreatedTokenView>(StatusCodes.Status201Created).ProducesProblem(StatusCodes.Status409Conflict);

        tokens.MapDelete("/{name}", (string name, FabricApi api, BearerToken bootstrap, CancellationToken ct) =>
                api.ExecuteAsync(new RevokeToken(name, bootstrap.Digest, DateTime.UtcNow), async a =>
                {
                    if (a.Events.OfType<TokenRevoked>().SingleOrDefault() is { } r)
                        await api.Runtime.Tokens.WaitUntilAsync(s => s.FindRevoked(r.Token.Digest) is not null && (r.Token.Name != AccessTokens.Bootstrap || s.BootstrapRevoked),
                            SeenLocally, ct);
                    return Results.NoContent();
                }, ct))
            .WithName("RevokeToken")
            .WithSummary("Revoke a token on every node (401 \"token-revoked\" from then on); \"bootstrap\" revokes the nodes' configured token; 204 again for a revoked one")
            .Produces(StatusCodes.Status204NoContent).ProducesProblem(StatusCodes.Status404NotFound);
    }

    private static TokenView View(AccessToken t)
        => new(t.Name, t.Scope, t.Revoked is null ? "valid" : "revoked", t.Name == AccessTokens.Bootstrap ? "configuration" : "api", t.Created, t.Revoked);
}
