using Akka.Actor;
using Fabric.Actors.Intent;
using Fabric.Actors.Node;
using Microsoft.AspNetCore.Mvc;

namespace Fabric.Nodes.Http;

/// <summary>
/// RFC 9457 problem details: <c>type</c> (<c>urn:fabric:problem:CODE</c>, stable), <c>title</c> (per status),
/// <c>status</c>, <c>detail</c> (a sentence for people), <c>code</c> (the same stable code, for scripts) and, when
/// a request field is at fault, <c>errors</c> <c>{ "field": ["detail"] }</c> (dotted for nested fields:
/// <c>port.kind</c>, <c>target.endpoint</c>; path parameters by their route name: <c>networkId</c>).
/// </summary>
internal static class Problems
{
    public const string TypePrefix = "urn:fabric:problem:";

    public static IResult From(Rejection r) => Problem(r.Status, r.Code, r.Detail, string.IsNullOrEmpty(r.Field) ? null : r.Field);

    public static IResult Invalid(string field, string code, string detail) => Problem(StatusCodes.Status400BadRequest, code, detail, field);
    public static IResult NotFound(string field, string code, string detail) => Problem(StatusCodes.Status404NotFound, code, detail, field);
    public static IResult Conflict(string field, string code, string detail) => Problem(StatusCodes.Status409Conflict, code, detail, field);

    public static IResult Problem(int status, string code, string detail, string? field = null)
    {
        ProblemDetails p = field is null
            ? new ProblemDetails()
            : new HttpValidationProblemDetails(new Dictionary<string, string[]>(StringComparer.Ordinal) { [field] = [detail] });
        p.Type = TypePrefix + code;
        p.Title = Title(status);
        p.Status = status;
        p.Detail = detail;
        p.Extensions["code"] = code;
        return Results.Problem(p);
    }

    /// <summary>
    /// The configuration cannot be served now: retry later (here, or on another node). <paramref name="code"/> says why:
    /// <c>configuration-unavailable</c> (no answer in time), <c>store-unavailable</c> (the store is down),
    /// <c>minority-partition</c> / <c>not-a-member</c> (this node may not write), <c>deadline-exceeded</c>.
    /// </summary>
    public static IResult Unavailable(string detail, string code = ConfigurationUnavailableException.NoAnswer, TimeSpan? retryAfter = null)
        => new RetryLater(Problem(StatusCodes.Status503ServiceUnavailable, code, detail), retryAfter ?? TimeSpan.FromSeconds(1));

    /// <summary>The code of a write refused because the configuration is behind (backpressure).</summary>
    public const string Overloaded = "configuration-overloaded";

    /// <summary>Adds <c>Retry-After</c> (whole seconds, at least 1) to a problem.</summary>
    private sealed class RetryLater(IResult problem, TimeSpan after) : IResult
    {
        public Task ExecuteAsync(HttpContext http)
        {
            http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(after.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return problem.ExecuteAsync(http);
        }
    }

    /// <summary>Maps what <see cref="FabricRuntime.ExecuteAsync"/> answered when it is not an acceptance.</summary>
    public static IResult NotAccepted(object answer) => answer switch
    {
        CommandRejected r => From(r.Rejection),
        CommandFailed f => Unavailable(f.Detail, ConfigurationUnavailableException.StoreDown),
        StoreUnavailable s => Unavailable(s.Detail, ConfigurationUnavailableException.StoreDown),
        CommandExpired e => Unavailable(e.Detail, "deadline-exceeded"),
        ConfigurationOverloaded o => Unavailable(o.Detail, Overloaded, o.RetryAfter),
        BulkInterrupted b => Unavailable(b.Detail, "bulk-interrupted"),
        Status.Failure f => Problem(StatusCodes.Status500InternalServerError, "internal-error", $"the configuration failed: {f.Cause.Message}"),
        _ => Problem(StatusCodes.Status500InternalServerError, "internal-error", $"the configuration answered {answer.GetType().Name}"),
    };

    public static string Title(int status) => status switch
    {
        400 => "The request is invalid",
        401 => "A bearer token is required",
        403 => "The bearer token is not valid",
        404 => "Not found",
        405 => "Method not allowed",
        409 => "The request conflicts with the configuration",
        413 => "The request body is too large",
        415 => "Unsupported media type",
        503 => "Unavailable, retry later",
        504 => "A node did not answer in time",
        _ => status >= 500 ? "Internal error" : "The request failed",
    };
}
