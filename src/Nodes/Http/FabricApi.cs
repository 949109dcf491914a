using Fabric.Actors.Intent;
using Fabric.Actors.Node;

namespace Fabric.Nodes.Http;

/// <summary>What the handlers share: the runtime, the consistent listing (from the configuration singleton) and command execution.</summary>
internal sealed class FabricApi(FabricRuntime runtime, IHttpContextAccessor http)
{
    /// <summary>Set on a read served from this node's replica instead of the singleton: <c>replica; revision=N; reason=CODE</c>.</summary>
    public const string ReadSourceHeader = "Fabric-Read-Source";

    public FabricRuntime Runtime => runtime;

    /// <summary>
    /// The intended configuration as the singleton has it: reads see every acknowledged write, on any node. A node that
    /// may not write (minority side, not a member) cannot reach a trustworthy singleton either; it answers from its own
    /// replica, marked with <see cref="ReadSourceHeader"/> (it may lag), or 503 with the write refusal's code when it
    /// has none, at once instead of after a timeout.
    /// </summary>
    public async Task<ConfigurationListing> ListingAsync(CancellationToken ct)
    {
        if (runtime.WriteVerdict() is not { IsAllowed: false } refused)
        {
            try
            {
                return await runtime.GetConfigurationAsync(ct, SingletonReadTimeout);
            }
            catch (ConfigurationUnavailableException e)
            {
                // The singleton is moving (its node crashed: seconds until it runs elsewhere) or its store is down.
                // Reads, and the FDB/route views that need the listing, stay available from the replica meanwhile.
                return await FromReplicaAsync(e.Code, e.Message, ct);
            }
        }
        return await FromReplicaAsync(refused.Code!, refused.Detail, ct);
    }

    /// <summary>
    /// The listing behind a node's own views (FDB, routes, flood groups): this node's replica, which is what the node
    /// forwards with, so the names match its tables and the views stay instant while the singleton moves; the
    /// singleton's listing when there is no replica yet or it does not know <paramref name="network"/> yet (created a
    /// moment ago: the replica follows within milliseconds).
    /// </summary>
    public async Task<ConfigurationListing> NodeViewListingAsync(string? network, CancellationToken ct)
        => await runtime.GetReplicaAsync(ct) is { } replica && (network is null || replica.Networks.Any(n => n.Id == network))
            ? replica
            : await ListingAsync(ct);

    /// <summary>How long a read waits for the singleton before it answers from this node's replica.</summary>
    public static readonly TimeSpan SingletonReadTimeout = TimeSpan.FromSeconds(1.5);

    private async Task<ConfigurationListing> FromReplicaAsync(string code, string detail, CancellationToken ct)
    {
        var replica = await runtime.GetReplicaAsync(ct)
            ?? throw new ConfigurationUnavailableException($"{detail}; this node has no replica of the configuration to read from", code);
        if (http.HttpContext is { } context)
            context.Response.Headers[ReadSourceHeader] = $"replica; revision={replica.Revision}; reason={code}";
        return replica;
    }

    /// <summary>Runs a command; an acceptance goes to <paramref name="accepted"/>, anything else becomes a problem.</summary>
    public async Task<IResult> ExecuteAsync(ConfigurationCommand command, Func<CommandAccepted, Task<IResult>> accepted, CancellationToken ct)
    {
        var answer = await runtime.ExecuteAsync(command, ct);
        return answer is CommandAccepted a ? await accepted(a) : Problems.NotAccepted(answer);
    }

    public Task<IResult> ExecuteAsync(ConfigurationCommand command, Func<CommandAccepted, IResult> accepted, CancellationToken ct)
        => ExecuteAsync(command, a => Task.FromResult(accepted(a)), ct);

    public static IResult NetworkNotFound(string networkId)
        => Problems.NotFound("networkId", "network-not-found", $"network {networkId} does not exist");

    public static IResult EndpointNotFound(string endpointId)
        => Problems.NotFound("endpointId", "endpoint-not-found", $"endpoint {endpointId} does not exist");
}

internal static class RouteBuilderExtensions
{
    /// <summary>Documents a JSON body and the 4xx its reading can give.</summary>
    public static RouteHandlerBuilder WithJsonBody<T>(this RouteHandlerBuilder b) where T : notnull
        => b.Accepts<T>("application/json").ProducesValidationProblem().ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);

    /// <summary>Documents what every route behind the token can answer besides its own outcomes.</summary>
    public static TBuilder WithTokenProblems<TBuilder>(this TBuilder b) where TBuilder : IEndpointConventionBuilder
        => b.WithMetadata(
            new Microsoft.AspNetCore.Http.ProducesResponseTypeMetadata(StatusCodes.Status401Unauthorized, typeof(Microsoft.AspNetCore.Mvc.ProblemDetails), ["application/problem+json"]),
            new Microsoft.AspNetCore.Http.ProducesResponseTypeMetadata(StatusCodes.Status403Forbidden, typeof(Microsoft.AspNetCore.Mvc.ProblemDetails), ["application/problem+json"]),
            new Microsoft.AspNetCore.Http.ProducesResponseTypeMetadata(StatusCodes.Status503ServiceUnavailable, typeof(Microsoft.AspNetCore.Mvc.ProblemDetails), ["application/problem+json"]));
}
