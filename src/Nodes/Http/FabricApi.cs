using Fabric.Actors.Intent;
using Fabric.Actors.Node;

namespace Fabric.Nodes.Http;

/// <summary>What the handlers share: the runtime, the consistent listing (from the configuration singleton) and command execution.</summary>
internal sealed class FabricApi(FabricRuntime runtime)
{
    public FabricRuntime Runtime => runtime;

    /// <summary>The intended configuration as the singleton has it: reads see every acknowledged write, on any node.</summary>
    public Task<ConfigurationListing> ListingAsync(CancellationToken ct) => runtime.GetConfigurationAsync(ct);

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
