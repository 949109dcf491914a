using Fabric.Actors.Intent;
using Fabric.Actors.Node;
using Endpoint = Fabric.Actors.Intent.Endpoint;

namespace Fabric.Nodes.Http;

/// <summary>What the handlers share: the runtime, targeted reads (from the configuration singleton, else this node's replica) and command execution.</summary>
internal sealed class FabricApi(FabricRuntime runtime, IHttpContextAccessor http)
{
    /// <summary>Set on a read served from this node's replica instead of the singleton: <c>replica; revision=N; reason=CODE</c>.</summary>
    public const string ReadSourceHeader = "Fabric-Read-Source";

    public FabricRuntime Runtime => runtime;

    /// <summary>How long a read waits for the singleton before it answers from this node's replica.</summary>
    public static readonly TimeSpan SingletonReadTimeout = TimeSpan.FromSeconds(1.5);

    /// <summary>
    /// A targeted read as the singleton answers it: reads see every acknowledged write, on any node. A node that may not
    /// write (minority side, not a member) cannot reach a trustworthy singleton either, and a singleton that does not
    /// answer within <see cref="SingletonReadTimeout"/> is moving or has lost its store: then the read is answered from
    /// this node's replica, marked with <see cref="ReadSourceHeader"/> (it may lag). The replica holds only the networks
    /// this node serves: <paramref name="fromReplica"/> returns null when it does not hold what was asked, and the read
    /// is 503 with the original code rather than a false 404.
    /// </summary>
    /// <param name="held">The replica's answer covers only the networks it holds (a list): the header adds <c>scope=held</c>.</param>
    public async Task<T> ReadAsync<T>(IConfigurationQuery query, Func<ReplicaView, T?> fromReplica, CancellationToken ct, bool held = false) where T : class
    {
        if (runtime.WriteVerdict() is { IsAllowed: false } refused)
            return await FromReplicaAsync(refused.Code!, refused.Detail, fromReplica, held, ct);
        try
        {
            return await runtime.QueryAsync<T>(query, ct, SingletonReadTimeout);
        }
        catch (ConfigurationUnavailableException e)
        {
            // The singleton is moving (its node crashed: seconds until it runs elsewhere) or its store is down.
            // Reads, and the FDB/route views that need them, stay available from the replica meanwhile.
            return await FromReplicaAsync(e.Code, e.Message, fromReplica, held, ct);
        }
    }

    private async Task<T> FromReplicaAsync<T>(string code, string detail, Func<ReplicaView, T?> fromReplica, bool held, CancellationToken ct) where T : class
    {
        var replica = await runtime.GetReplicaStateAsync(ct)
            ?? throw new ConfigurationUnavailableException($"{detail}; this node has no replica of the configuration to read from", code);
        var answer = fromReplica(replica)
            ?? throw new ConfigurationUnavailableException($"{detail}; this node's replica does not hold what was asked (it holds only the networks this node serves)", code);
        if (http.HttpContext is { } context)
            context.Response.Headers[ReadSourceHeader] = $"replica; revision={replica.Revision}; reason={code}{(held ? "; scope=held" : "")}";
        return answer;
    }

    /// <summary>One endpoint (null: it does not exist). One message of one endpoint, whatever the fabric's size.</summary>
    public async Task<Endpoint?> GetEndpointAsync(string endpointId, CancellationToken ct)
        => (await ReadAsync(new GetEndpoint(endpointId),
            r => r.State.Endpoints.TryGetValue(endpointId, out var e) ? new EndpointAnswer(r.Revision, e) : null, ct)).Endpoint;

    /// <summary>One network with its subnets, route tables and external VTEPs (null: it does not exist).</summary>
    public async Task<NetworkView?> GetNetworkAsync(string networkId, CancellationToken ct)
        => (await ReadAsync(new GetNetwork(networkId),
            r => r.State.Networks.TryGetValue(networkId, out var n) ? new NetworkAnswer(r.Revision, FabricConfiguration.ViewOf(n)) : null, ct)).Network;

    /// <summary>
    /// Every network, fetched page by page (<see cref="ConfigurationQueries.MaxNetworkPage"/> a message). From the replica
    /// (see <see cref="ReadAsync{T}"/>): the networks it holds, and the header says <c>scope=held</c>.
    /// </summary>
    public async Task<IReadOnlyList<NetworkView>> ListNetworksAsync(CancellationToken ct)
    {
        var all = new List<NetworkView>();
        string? after = null;
        var singleton = false;
        ReplicaView? pinned = null; // once a page came from the replica, the rest does too: no timeout per page
        do
        {
            var query = new ListNetworks(after);
            var page = pinned is not null
                ? (NetworkPage)pinned.State.Answer(query, pinned.Revision)
                : singleton
                    ? await runtime.QueryAsync<NetworkPage>(query, ct) // the singleton answered before: never a mix of sources
                    : await ReadAsync(query, r => (NetworkPage)(pinned = r).State.Answer(query, r.Revision), ct, held: true);
            all.AddRange(page.Networks);
            singleton = pinned is null;
            after = page.Next;
        } while (after is not null);
        return all;
    }

    /// <summary>
    /// Endpoints (of one network and/or one node when given), by network then id, fetched page by page
    /// (<see cref="ConfigurationQueries.MaxEndpointPage"/> a message; each page is consistent, a write between pages may
    /// show or not). From the replica: a network it does not hold is 503; without a network filter, what it holds
    /// (<c>scope=held</c>).
    /// </summary>
    public async Task<IReadOnlyList<Endpoint>> ListEndpointsAsync(string? network, string? node, CancellationToken ct)
    {
        var all = new List<Endpoint>();
        string? afterNetwork = null, afterEndpoint = null;
        var singleton = false;
        ReplicaView? pinned = null; // once a page came from the replica, the rest does too: no timeout per page
        do
        {
            var query = new ListEndpoints(network, node, afterNetwork, afterEndpoint);
            var page = pinned is not null
                ? (EndpointPage)pinned.State.Answer(query, pinned.Revision)
                : singleton
                    // The singleton answered the first page: the rest come from it too (with the node's whole ask timeout)
                    // or the read is 503; a list half from the singleton and half from a replica of held networks would
                    // silently lack endpoints.
                    ? await runtime.QueryAsync<EndpointPage>(query, ct)
                    : await ReadAsync(query, r =>
                    network is not null && !r.State.Networks.ContainsKey(network) ? null : (EndpointPage)(pinned = r).State.Answer(query, r.Revision),
                    ct, held: network is null);
            all.AddRange(page.Endpoints);
            singleton = pinned is null;
            (afterNetwork, afterEndpoint) = (page.NextNetwork, page.NextEndpoint);
        } while (afterNetwork is not null);
        return all;
    }

    /// <summary>
    /// The network behind a node's own views (FDB, routes, flood groups): from this node's replica, which is what the node
    /// forwards with, so the names match its tables and the views stay instant while the singleton moves; from the
    /// singleton when the replica does not hold it (created a moment ago, or a network this node does not serve).
    /// </summary>
    public async Task<NetworkView?> NodeViewNetworkAsync(string network, CancellationToken ct)
        => await runtime.GetReplicaStateAsync(ct) is { } replica && replica.State.Networks.TryGetValue(network, out var held)
            ? FabricConfiguration.ViewOf(held)
            : await GetNetworkAsync(network, ct);

    /// <summary>
    /// Network ids for the VNIs of a node's FDB rows: those this node's replica holds, the rest from the singleton (one
    /// message of at most the VNIs asked); a VNI nobody answers for stays unnamed.
    /// </summary>
    public async Task<IReadOnlyDictionary<int, string>> NetworkIdsAsync(IReadOnlyCollection<int> vnis, CancellationToken ct)
    {
        var ids = new Dictionary<int, string>();
        if (vnis.Count == 0) return ids;
        if (await runtime.GetReplicaStateAsync(ct) is { } replica)
            foreach (var n in replica.State.Networks.Values)
                if (vnis.Contains(n.Network.Vni)) ids[n.Network.Vni] = n.Network.Id;
        var missing = vnis.Where(v => !ids.ContainsKey(v)).Take(ConfigurationQueries.MaxVnis).ToArray();
        if (missing.Length == 0) return ids;
        try
        {
            var found = await runtime.QueryAsync<NetworkVnis>(new FindNetworksByVni(missing), ct, SingletonReadTimeout);
            foreach (var n in found.Networks) ids[n.Vni] = n.Id;
        }
        catch (ConfigurationUnavailableException)
        {
            // the rows keep their VNI; the view is still worth showing
        }
        return ids;
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
