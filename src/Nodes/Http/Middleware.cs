using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using Akka.Actor;
using Fabric.Actors.Intent;
using Fabric.Actors.Node;

namespace Fabric.Nodes.Http;

/// <summary>
/// The token of the node's own configuration (fabric.http.token, FABRIC_TOKEN, cluster.json): always an admin token
/// named <see cref="AccessTokens.Bootstrap"/>, until it is revoked cluster-wide. Kept as a SHA-256 digest.
/// </summary>
internal sealed class BearerToken(string token)
{
    private readonly byte[] _digest = SHA256.HashData(Encoding.UTF8.GetBytes(token));

    /// <summary>The digest as the configuration keeps digests (lowercase hex).</summary>
    public string Digest => Convert.ToHexStringLower(_digest);

    /// <summary>Constant-time: the digests are compared with <see cref="CryptographicOperations.FixedTimeEquals"/>.</summary>
    public bool Matches(ReadOnlySpan<byte> digest) => CryptographicOperations.FixedTimeEquals(digest, _digest);
}

/// <summary>The scope a route needs when it is not what its method implies (every GET read, everything else admin).</summary>
internal sealed record RequiredScope(TokenScope Scope);

/// <summary>Who made a request, for handlers and the audit log (<see cref="BearerTokenMiddleware.CallerOf"/>).</summary>
internal sealed record Caller(string Name, TokenScope Scope);

/// <summary>
/// <c>Authorization: Bearer TOKEN</c> on everything but <c>/health/*</c>, <c>/metrics</c> and <c>/openapi/*</c>:
/// 401 without a bearer token, 403 with a wrong one, 401 (<c>token-revoked</c>) with a revoked one, and 403
/// (<c>token-scope</c>) with a <c>read</c> token on anything but a GET (or a route that needs admin, as the tokens do).
/// The tokens are the cluster's (<see cref="TokenTable"/>, kept by this node's replica) plus the node's configured one.
/// Every write (any method but GET and HEAD) is logged at Information with the token's name, method, route and status.
/// </summary>
/// <remarks>
/// Per request: one SHA-256 of the presented token and one lookup by its digest in the table's current snapshot (a
/// volatile read, no lock). Looking a digest up is not constant-time, but only the digest's bits could leak through it,
/// and a digest does not give the secret back.
/// </remarks>
internal sealed class BearerTokenMiddleware(RequestDelegate next, BearerToken bootstrap, TokenTable tokens, ILoggerFactory logs)
{
    /// <summary>The log category of the write audit (on at Information whatever the endpoint's level).</summary>
    public const string AuditCategory = "Fabric.Audit";

    // "/ui": the page itself (static, no data); it asks for the token and every call it makes sends it.
    private static readonly PathString[] Open = ["/health", "/metrics", "/openapi", "/ui"];
    private readonly ILogger _audit = logs.CreateLogger(AuditCategory);

    public static bool IsOpen(PathString path) => Open.Any(p => path.StartsWithSegments(p, StringComparison.OrdinalIgnoreCase));

    public static bool IsRead(string method) => HttpMethods.IsGet(method) || HttpMethods.IsHead(method);

    /// <summary>The scope a route needs: its <see cref="RequiredScope"/>, else read for GET and HEAD, admin for the rest.</summary>
    public static TokenScope ScopeFor(string method, EndpointMetadataCollection? metadata)
        => metadata?.GetMetadata<RequiredScope>()?.Scope ?? (IsRead(method) ? TokenScope.Read : TokenScope.Admin);

    /// <summary>The token that authorised the request (null on open routes).</summary>
    public static Caller? CallerOf(HttpContext http) => http.Items.TryGetValue(typeof(Caller), out var c) ? c as Caller : null;

    public async Task InvokeAsync(HttpContext http)
    {
        if (IsOpen(http.Request.Path))
        {
            await next(http);
            return;
        }
        var write = !IsRead(http.Request.Method);
        var header = http.Request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) || header.AsSpan(scheme.Length).Trim().IsEmpty)
        {
            if (write) Audit(http, "(no token)");
            http.Response.Headers.WWWAuthenticate = "Bearer realm=\"fabric\"";
            await Problems.Problem(StatusCodes.Status401Unauthorized, "token-required",
                "send a token as 'Authorization: Bearer TOKEN' (fabric.http.token, FABRIC_TOKEN, cluster.json, or one made with 'fabric ctl tokens create')").ExecuteAsync(http);
            return;
        }

        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        Digest(header.AsSpan(scheme.Length).Trim(), digest);
        Span<char> hex = stackalloc char[2 * SHA256.HashSizeInBytes];
        Convert.TryToHexStringLower(digest, hex, out _);

        var table = tokens.Current;
        Caller caller;
        if (table.FindValid(hex) is { } valid)
            caller = new Caller(valid.Name, valid.Scope);
        else if (table.FindRevoked(hex) is { } revoked)
        {
            await Revoked(http, write, revoked.Name);
            return;
        }
        else if (bootstrap.Matches(digest))
        {
            if (table.BootstrapRevoked)
            {
                await Revoked(http, write, AccessTokens.Bootstrap);
                return;
            }
            caller = new Caller(AccessTokens.Bootstrap, TokenScope.Admin);
        }
        else
        {
            if (write) Audit(http, "(wrong token)");
            http.Response.Headers.WWWAuthenticate = "Bearer realm=\"fabric\", error=\"invalid_token\"";
            await Problems.Problem(StatusCodes.Status403Forbidden, "token-invalid",
                table.Loaded ? "the bearer token is not one of this cluster's tokens"
                    : "the bearer token is not one of this cluster's tokens as far as this node knows yet (it is still loading them: retry in a moment)").ExecuteAsync(http);
            return;
        }

        http.Items[typeof(Caller)] = caller;
        if (write) Audit(http, caller.Name);
        var needed = ScopeFor(http.Request.Method, http.GetEndpoint()?.Metadata);
        if (caller.Scope < needed)
        {
            http.Response.Headers.WWWAuthenticate = "Bearer realm=\"fabric\", error=\"insufficient_scope\", scope=\"{needed.Text()}\"";
            await Problems.Problem(StatusCodes.Status403Forbidden, "token-scope",
                $"the token '{caller.Name}' has scope {caller.Scope.Text()}; {http.Request.Method} {http.Request.Path} needs scope {needed.Text()}").ExecuteAsync(http);
            return;
        }
        await next(http);
    }

    /// <summary>SHA-256 of the token's UTF-8 bytes; a token of up to 256 characters costs no allocation.</summary>
    private static void Digest(ReadOnlySpan<char> token, Span<byte> digest)
    {
        var max = Encoding.UTF8.GetMaxByteCount(token.Length);
        byte[]? rented = null;
        Span<byte> utf8 = max <= 768 ? stackalloc byte[768] : (rented = ArrayPool<byte>.Shared.Rent(max));
        SHA256.HashData(utf8[..Encoding.UTF8.GetBytes(token, utf8)], digest);
        if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
    }

    private async Task Revoked(HttpContext http, bool write, string name)
    {
        if (write) Audit(http, $"(revoked {name})");
        http.Response.Headers.WWWAuthenticate = "Bearer realm=\"fabric\", error=\"invalid_token\", error_description=\"revoked\"";
        await Problems.Problem(StatusCodes.Status401Unauthorized, "token-revoked", $"the token '{name}' was revoked; ask an admin for another").ExecuteAsync(http);
    }

    /// <summary>Logs the write once it has been answered: the status is the final one, whatever the handler or ProblemMiddleware made of it.</summary>
    private void Audit(HttpContext http, string token)
    {
        if (!_audit.IsEnabled(LogLevel.Information)) return;
        http.Response.OnCompleted(() =>
        {
            var route = (http.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText is { Length: > 1 } raw ? raw.TrimEnd('/') : null; // a group's "" route ends in '/'
            AuditLog.Write(_audit, token, http.Request.Method, route ?? "(no route)", http.Request.Path.Value ?? "", http.Response.StatusCode);
            return Task.CompletedTask;
        });
    }
}

/// <summary>The audit of writes: stable event ids (append, never renumber).</summary>
internal static partial class AuditLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "write by token {Token}: {Method} {Route} ({Path}) -> {Status}")]
    public static partial void Write(ILogger logger, string token, string method, string route, string path, int status);
}

/// <summary>
/// Turns what a handler throws into a problem: the configuration store out of reach is 503 (retry later), a node
/// that does not answer 504, an oversized body 413; anything else is a 500 that says no more than that.
/// </summary>
internal sealed class ProblemMiddleware(RequestDelegate next, ILogger<ProblemMiddleware> log)
{
    public async Task InvokeAsync(HttpContext http)
    {
        IResult problem;
        try
        {
            await next(http);
            return;
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            return; // the client went away
        }
        catch (ConfigurationUnavailableException e) when (!http.Response.HasStarted)
        {
            problem = Problems.Unavailable(e.Message, e.Code);
        }
        catch (Exception e) when (!http.Response.HasStarted && e is AskTimeoutException)
        {
            problem = Problems.Problem(StatusCodes.Status504GatewayTimeout, "node-timeout", $"the node did not answer in time: {e.Message}");
        }
        catch (BadHttpRequestException e) when (!http.Response.HasStarted)
        {
            problem = e.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? Problems.Problem(e.StatusCode, "body-too-large", $"the request body is larger than {ManagementEndpoint.MaxBodyBytes} bytes")
                : Problems.Problem(e.StatusCode, "bad-request", e.Message);
        }
        catch (Exception e) when (!http.Response.HasStarted)
        {
            log.LogError(e, "{Method} {Path} failed", http.Request.Method, http.Request.Path);
            problem = Problems.Problem(StatusCodes.Status500InternalServerError, "internal-error",
                "the node failed to handle the request; its log has the details");
        }
        http.Response.Clear();
        await problem.ExecuteAsync(http);
    }
}
