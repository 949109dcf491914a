namespace Fabric.Actors.Intent;

// Bearer tokens of the management API, held in the configuration's journal like everything else that must survive any
// crash. Unlike networks they are cluster-wide: every node's replica holds all of them (Replication.ReplicationHub sends
// token events to every node), so every node can check a token without asking anyone. Only a SHA-256 digest of the
// secret is ever stored or sent; the secret itself is shown once, to whoever created it.

/// <summary>What a token may do: <see cref="Read"/> every GET, <see cref="Admin"/> everything.</summary>
public enum TokenScope { Read, Admin }

/// <summary>
/// A token: its name (unique among the valid ones), scope, the lowercase hex SHA-256 digest of its secret, when it
/// was created and, once revoked, when. A revoked token is kept so that it answers 401 "revoked" rather than 403.
/// </summary>
public sealed record AccessToken(string Name, TokenScope Scope, string Digest, DateTime Created, DateTime? Revoked = null);

/// <summary>A token was created (its digest only).</summary>
public sealed record TokenCreated(AccessToken Token) : ConfigurationEvent;

/// <summary>A token was revoked: <paramref name="Token"/> as it is kept from now on, with <see cref="AccessToken.Revoked"/> set.</summary>
public sealed record TokenRevoked(AccessToken Token) : ConfigurationEvent;

/// <summary>
/// Creates a token from what the HTTP node decided: the name and scope as sent, the digest of the secret it generated,
/// and the creation time (events carry decided values only).
/// </summary>
public sealed record CreateToken(string? Name, string? Scope, string? Digest, DateTime CreatedUtc) : ConfigurationCommand;

/// <summary>
/// Revokes the token named <paramref name="Name"/>. For <see cref="AccessTokens.Bootstrap"/> (the token of the nodes'
/// configuration) the node that handles the request gives its digest: from then on every node refuses its own
/// configured token with 401, whatever it is.
/// </summary>
public sealed record RevokeToken(string? Name, string? BootstrapDigest, DateTime RevokedUtc) : ConfigurationCommand;

/// <summary>Every valid token and the latest revoked ones; the answer is a <see cref="TokenList"/>.</summary>
public sealed record ListTokens : IConfigurationQuery
{
    public static readonly ListTokens Instance = new();
}

/// <summary>The valid tokens by name, and the latest <see cref="AccessTokens.MaxRevokedListed"/> revoked ones, latest first.</summary>
public sealed record TokenList(long Revision, AccessToken[] Valid, AccessToken[] Revoked, bool BootstrapRevoked) : IFabricMessage;

public static class AccessTokens
{
    /// <summary>The name of the token every node reads from its own configuration (fabric.http.token, FABRIC_TOKEN).</summary>
    public const string Bootstrap = "bootstrap";

    /// <summary>
    /// The most tokens valid at once: rotation needs two per client, and each request looks its token up in a table of
    /// at most this many (plus the revoked ones, kept for their 401).
    /// </summary>
    public const int MaxValid = 256;

    /// <summary>How many revoked tokens a listing shows (latest first): the answer stays a few KB whatever the history.</summary>
    public const int MaxRevokedListed = 100;

    /// <summary>The events that hold only cluster-wide state (every node's replica gets them, whatever networks it holds).</summary>
    public static bool IsClusterWide(ConfigurationEvent e) => e is TokenCreated or TokenRevoked;

    /// <summary>A SHA-256 digest as the configuration keeps it: 64 lowercase hex digits.</summary>
    public static bool IsDigest(string? digest)
    {
        if (digest is not { Length: 64 }) return false;
        foreach (var c in digest)
            if (c is not (>= '0' and <= '9' or >= 'a' and <= 'f')) return false;
        return true;
    }

    public static string Text(this TokenScope scope) => scope == TokenScope.Admin ? "admin" : "read";

    public static bool TryParseScope(string? text, out TokenScope scope)
    {
        scope = text switch { "read" => TokenScope.Read, "admin" => TokenScope.Admin, _ => (TokenScope)(-1) };
        return (int)scope >= 0;
    }
}
