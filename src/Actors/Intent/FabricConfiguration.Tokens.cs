using System.Collections.Immutable;

namespace Fabric.Actors.Intent;

public sealed partial record FabricConfiguration
{
    /// <summary>The valid tokens, by name (at most <see cref="AccessTokens.MaxValid"/>).</summary>
    public ImmutableDictionary<string, AccessToken> Tokens { get; init; } =
        ImmutableDictionary.Create<string, AccessToken>(StringComparer.Ordinal);

    /// <summary>Every revoked token, by digest: a revoked token answers 401 "revoked", an unknown one 403. Grows by one per revocation.</summary>
    public ImmutableDictionary<string, AccessToken> RevokedTokens { get; init; } =
        ImmutableDictionary.Create<string, AccessToken>(StringComparer.Ordinal);

    /// <summary>The nodes' configured token was revoked cluster-wide (see <see cref="RevokeToken"/>).</summary>
    public bool BootstrapRevoked => RevokedTokens.Values.Any(t => t.Name == AccessTokens.Bootstrap);

    private FabricConfiguration ApplyToken(ConfigurationEvent e) => e switch
    {
        TokenCreated x => this with { Tokens = Tokens.SetItem(x.Token.Name, x.Token) },
        TokenRevoked x => this with
        {
            Tokens = Tokens.TryGetValue(x.Token.Name, out var valid) && valid.Digest == x.Token.Digest ? Tokens.Remove(x.Token.Name) : Tokens,
            RevokedTokens = RevokedTokens.SetItem(x.Token.Digest, x.Token),
        },
        _ => throw new ArgumentOutOfRangeException(nameof(e), e, "not a token event"),
    };

    /// <summary>
    /// The events that build the cluster-wide part (the tokens) as it is now, revoked ones first: what every replica's
    /// snapshot starts with, whatever networks it holds.
    /// </summary>
    public IEnumerable<ConfigurationEvent> ClusterWideEvents()
    {
        foreach (var t in RevokedTokens.Values.OrderBy(t => t.Revoked).ThenBy(t => t.Digest, StringComparer.Ordinal)) yield return new TokenRevoked(t);
        foreach (var t in Tokens.Values.OrderBy(t => t.Name, StringComparer.Ordinal)) yield return new TokenCreated(t);
    }

    private Decision DecideCreateToken(CreateToken c)
    {
        if (CheckName(c.Name, "name", "token name") is { } bad) return bad;
        var name = c.Name!;
        if (name == AccessTokens.Bootstrap)
            return Rejection.Conflict("name", "token-name-reserved",
                $"'{AccessTokens.Bootstrap}' names the token of the nodes' configuration (fabric.http.token); choose another name");
        if (Tokens.ContainsKey(name))
            return Rejection.Conflict("name", "token-exists", $"a valid token is already named '{name}': revoke it first, or choose another name");
        if (string.IsNullOrEmpty(c.Scope))
            return Rejection.Invalid("scope", "scope-required", "scope is required: \"read\" (every GET) or \"admin\" (everything)");
        if (!AccessTokens.TryParseScope(c.Scope, out var scope))
            return Rejection.Invalid("scope", "scope-invalid", $"'{c.Scope}' is not a scope: use \"read\" (every GET) or \"admin\" (everything)");
        if (!AccessTokens.IsDigest(c.Digest))
            return Rejection.Invalid("digest", "digest-invalid", "the token's digest must be 64 lowercase hex digits (SHA-256)");
        if (RevokedTokens.ContainsKey(c.Digest!) || Tokens.Values.Any(t => t.Digest == c.Digest))
            return Rejection.Conflict("digest", "digest-used", "a token with this secret exists or existed; generate another secret");
        if (Tokens.Count >= AccessTokens.MaxValid)
            return Rejection.Conflict("name", "token-limit", $"{AccessTokens.MaxValid} tokens are valid already: revoke one first");
        return Decision.Emit(new TokenCreated(new AccessToken(name, scope, c.Digest!, c.CreatedUtc)));
    }

    /// <summary>Revoking a token revoked before is a no-op (204 again); a name no token ever had is 404, so a typo is not mistaken for a revocation.</summary>
    private Decision DecideRevokeToken(RevokeToken c)
    {
        if (string.IsNullOrEmpty(c.Name))
            return Rejection.Invalid("name", "name-required", "the token's name is required");
        if (Tokens.TryGetValue(c.Name, out var valid))
            return Decision.Emit(new TokenRevoked(valid with { Revoked = c.RevokedUtc }));
        if (RevokedTokens.Values.Any(t => t.Name == c.Name))
            return Decision.Unchanged;
        if (c.Name == AccessTokens.Bootstrap)
        {
            if (!AccessTokens.IsDigest(c.BootstrapDigest))
                return Rejection.Invalid("name", "bootstrap-digest-invalid", "revoking the configured token needs its digest (64 lowercase hex digits)");
            return Decision.Emit(new TokenRevoked(new AccessToken(AccessTokens.Bootstrap, TokenScope.Admin, c.BootstrapDigest!, c.RevokedUtc, c.RevokedUtc)));
        }
        return Rejection.NotFound("name", "token-not-found", $"no token is named '{c.Name}'");
    }

    private TokenList ListOfTokens(long revision) => new(
        revision,
        Tokens.Values.OrderBy(t => t.Name, StringComparer.Ordinal).ToArray(),
        RevokedTokens.Values.OrderByDescending(t => t.Revoked).ThenBy(t => t.Name, StringComparer.Ordinal).Take(AccessTokens.MaxRevokedListed).ToArray(),
        BootstrapRevoked);
}
