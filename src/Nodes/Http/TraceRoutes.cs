using Fabric.Actors.Tracing;
using Fabric.Dataplane.Packets;

namespace Fabric.Nodes.Http;

/// <summary>
/// <c>POST /api/v1/trace</c> (issue 12): real probe frames injected at an endpoint's port as if its VM sent them,
/// followed through every node they cross; the answer lists each probe's hops and verdict, assembled within 1 s.
/// </summary>
internal static class TraceRoutes
{
    public const int MaxCount = 10;
    public static readonly string[] Protocols = ["icmp", "tcp", "udp"];

    public static void Map(IEndpointRouteBuilder app)
        => app.MapPost("/api/v1/trace", Trace)
            .WithTags("trace").WithTokenProblems()
            .WithName("Trace")
            .WithSummary($"Trace real probes (icmp echo, tcp SYN or udp to port; count 1..{MaxCount}) from an endpoint's port across the fabric: " +
                         "each probe's hops (node, stage, decision, snapshot version, time) and verdict (delivered, dropped, external), and its answer's. " +
                         "Probes reach the destination VM unless stopAtLastHop")
            .WithJsonBody<TraceRequest>().Produces<TraceResult>()
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status504GatewayTimeout);

    private static async Task<IResult> Trace(HttpContext http, FabricApi api, CancellationToken ct)
    {
        var body = await JsonBody<TraceRequest>.ReadAsync(http);
        if (body.Problem is { } bad) return bad;
        var r = body.Value!;
        if (string.IsNullOrEmpty(r.Endpoint))
            return Problems.Invalid("endpoint", "endpoint-required", "endpoint is required: the id of the endpoint the probes leave from");
        if (string.IsNullOrEmpty(r.Destination))
            return Problems.Invalid("destination", "destination-required", "destination is required: the IPv4 address to trace to");
        if (!Ipv4Address.TryParse(r.Destination, out var destination))
            return Problems.Invalid("destination", "destination-invalid", $"'{r.Destination}' is not an IPv4 address (expected a.b.c.d)");
        var protocol = r.Protocol ?? "icmp";
        if (!Protocols.Contains(protocol))
            return Problems.Invalid("protocol", "protocol-invalid", $"protocol must be one of {string.Join(", ", Protocols)}");
        if (protocol == "icmp" && r.Port is not null)
            return Problems.Invalid("port", "port-not-applicable", "port applies to tcp and udp only");
        if (protocol != "icmp" && r.Port is null)
            return Problems.Invalid("port", "port-required", $"port is required for {protocol}");
        if (r.Port is < 1 or > 65535)
            return Problems.Invalid("port", "port-out-of-range", $"port {r.Port} is outside 1..65535");
        var count = r.Count ?? 1;
        if (count is < 1 or > MaxCount)
            return Problems.Invalid("count", "count-out-of-range", $"count {count} is outside 1..{MaxCount}");

        if (await api.GetEndpointAsync(r.Endpoint, ct) is not { } endpoint)
            return Problems.NotFound("endpoint", "endpoint-not-found", $"endpoint {r.Endpoint} does not exist");
        if (await api.GetNetworkAsync(endpoint.Network, ct) is not { } network)
            return Problems.NotFound("endpoint", "endpoint-network-not-found", $"the network {endpoint.Network} of endpoint {endpoint.Id} does not exist");
        try
        {
            return Results.Ok(await TraceCoordinator.RunAsync(api.Runtime,
                new TraceSpec(endpoint, network.Vni, destination.ToString(), protocol, r.Port ?? 0, count, r.StopAtLastHop ?? false), ct));
        }
        catch (TraceRefusedException e)
        {
            return e.Timeout
                ? Problems.Problem(StatusCodes.Status504GatewayTimeout, e.Code, e.Message)
                : Problems.Conflict("endpoint", e.Code, e.Message);
        }
    }
}
