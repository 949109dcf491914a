using System.Security.Cryptography;
using System.Text;
using Akka.Actor;
using Fabric.Actors.Node;

namespace Fabric.Nodes.Http;

/// <summary>The token the endpoint asks for, kept as a SHA-256 digest so that comparing costs the same whatever was sent.</summary>
internal sealed class BearerToken(string token)
{
    private readonly byte[] _digest = SHA256.HashData(Encoding.UTF8.GetBytes(token));

    /// <summary>Constant-time: the digests are compared with <see cref="CryptographicOperations.FixedTimeEquals"/>.</summary>
    public bool Matches(ReadOnlySpan<char> candidate)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        var bytes = Encoding.UTF8.GetBytes(candidate.ToArray());
        SHA256.HashData(bytes, digest);
        return CryptographicOperations.FixedTimeEquals(digest, _digest);
    }
}

/// <summary>
/// <c>Authorization: Bearer TOKEN</c> on everything but <c>/health/*</c>, <c>/metrics</c> and <c>/openapi/*</c>:
/// 401 without a bearer token, 403 with a wrong one.
/// </summary>
internal sealed class BearerTokenMiddleware(RequestDelegate next, BearerToken token)
{
    private static readonly PathString[] Open = ["/health", "/metrics", "/openapi"];

    public static bool IsOpen(PathString path) => Open.Any(p => path.StartsWithSegments(p, StringComparison.OrdinalIgnoreCase));

    public async Task InvokeAsync(HttpContext http)
    {
        if (IsOpen(http.Request.Path))
        {
            await next(http);
            return;
        }
        var header = http.Request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) || header.AsSpan(scheme.Length).Trim().IsEmpty)
        {
            http.Response.Headers.WWWAuthenticate = "Bearer realm=\"fabric\"";
            await Problems.Problem(StatusCodes.Status401Unauthorized, "token-required",
                "send the cluster's token as 'Authorization: Bearer TOKEN' (fabric.http.token, FABRIC_TOKEN, or cluster.json of fabric up)").ExecuteAsync(http);
            return;
        }
        if (!token.Matches(header.AsSpan(scheme.Length).Trim()))
        {
            http.Response.Headers.WWWAuthenticate = "Bearer realm=\"fabric\", error=\"invalid_token\"";
            await Problems.Problem(StatusCodes.Status403Forbidden, "token-invalid", "the bearer token is not this cluster's token").ExecuteAsync(http);
            return;
        }
        await next(http);
    }
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
