using Akka.Actor;
using Fabric.Actors.Intent;
using Fabric.Actors.Node;
using Fabric.Dataplane.Packets;
using Endpoint = Fabric.Actors.Intent.Endpoint;

namespace Fabric.Nodes.Http;

/// <summary><c>/api/v1/endpoints</c>: a VM's port; create, list, delete (idempotent), live move, and ping from a guest port.</summary>
internal static class EndpointRoutes
{
    public const int MaxPingCount = 100;

    /// <summary>How long a guest waits for each echo reply (and for ARP), as the ports actor runs the ping.</summary>
    private static readonly TimeSpan PerProbe = TimeSpan.FromSeconds(1);

    public static void Map(IEndpointRouteBuilder app)
    {
        var endpoints = app.MapGroup("/api/v1/endpoints").WithTags("endpoints").WithTokenProblems();

        endpoints.MapPost("", async (HttpContext http, FabricApi api, CancellationToken ct) =>
        {
            var body = await JsonBody<CreateEndpointRequest>.ReadAsync(http);
            if (body.Problem is { } bad) return bad;
            return await api.ExecuteAsync(ToCommand(body.Value!), a =>
            {
                var e = a.Events.OfType<EndpointCreated>().Single().Endpoint;
                return Results.Created($"/api/v1/endpoints/{e.Id}", e);
            }, ct);
        }).WithName("CreateEndpoint")
          .WithSummary("Create an endpoint (a VM's port): guest (in-process machine) or tap; MAC and IP assigned when omitted")
          .WithJsonBody<CreateEndpointRequest>().Produces<Endpoint>(StatusCodes.Status201Created).ProducesProblem(StatusCodes.Status409Conflict);

        endpoints.MapPost("/bulk", CreateMany).WithName("CreateEndpoints")
            .WithSummary($"Create 1 to {CreateEndpoints.MaxItems} endpoints atomically: all, in request order, or none (a problem names the first item at fault: endpoints[i].field)")
            .WithJsonBody<BulkCreateEndpointsRequest>().Produces<BulkCreateEndpointsResponse>(StatusCodes.Status201Created)
            .ProducesProblem(StatusCodes.Status409Conflict);

        endpoints.MapPost("/bulk-delete", DeleteMany).WithName("DeleteEndpoints")
            .WithSummary($"Delete 1 to {CreateEndpoints.MaxItems} endpoints atomically: an unknown id is 404 and a route's target 409, naming ids[i]; nothing is deleted then")
            .WithJsonBody<BulkDeleteEndpointsRequest>().Produces<BulkDeleteEndpointsResponse>()
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);

        endpoints.MapGet("", async (string? network, string? node, FabricApi api, CancellationToken ct) =>
                Results.Ok(await api.ListEndpointsAsync(network, node, ct)))
            .WithName("ListEndpoints")
            .WithSummary("Every endpoint (optionally only those of ?network=ID and/or ?node=NAME), by network then id; read in pages of at most 400 from the configuration")
            .Produces<IReadOnlyList<Endpoint>>();

        endpoints.MapGet("/{endpointId}", async (string endpointId, FabricApi api, CancellationToken ct) =>
                await api.GetEndpointAsync(endpointId, ct) is { } e ? Results.Ok(e) : FabricApi.EndpointNotFound(endpointId))
            .WithName("GetEndpoint").WithSummary("One endpoint").Produces<Endpoint>().ProducesProblem(StatusCodes.Status404NotFound);

        endpoints.MapDelete("/{endpointId}", (string endpointId, FabricApi api, CancellationToken ct) =>
                api.ExecuteAsync(new DeleteEndpoint(endpointId), _ => Results.NoContent(), ct))
            .WithName("DeleteEndpoint").WithSummary("Delete an endpoint (409 while a route targets it; 204 when it does not exist)")
            .Produces(StatusCodes.Status204NoContent).ProducesProblem(StatusCodes.Status409Conflict);

        endpoints.MapPut("/{endpointId}/node", async (string endpointId, HttpContext http, FabricApi api, CancellationToken ct) =>
        {
            var body = await JsonBody<MoveEndpointRequest>.ReadAsync(http);
            if (body.Problem is { } bad) return bad;
            // The answer describes this move: its node and its place in the order (moveSeq). Read back after the
            // acceptance, it showed whatever later writes did (16 racing moves all answered with the last one; a move
            // followed by a delete answered 404 though it was applied). Only moves change an endpoint, so the record
            // read before plus the accepted event is exactly the endpoint as this move left it.
            var before = await api.GetEndpointAsync(endpointId, ct);
            return await api.ExecuteAsync(new MoveEndpoint(endpointId, body.Value!.Node), async a =>
                a.Events.OfType<EndpointMoved>().SingleOrDefault() is { } moved && before is not null
                    ? Results.Ok(before with { Node = moved.Node, MoveSeq = moved.MoveSeq })
                    : await api.GetEndpointAsync(endpointId, ct) is { } e ? Results.Ok(e) : FabricApi.EndpointNotFound(endpointId), ct);
        }).WithName("MoveEndpoint").WithSummary("Live-move an endpoint to another node, which announces it with a gratuitous ARP")
          .WithJsonBody<MoveEndpointRequest>().Produces<Endpoint>().ProducesProblem(StatusCodes.Status404NotFound);

        endpoints.MapPost("/{endpointId}/ping", Ping).WithName("PingFromEndpoint")
            .WithSummary($"Ping from a guest endpoint: ICMP echo that really crosses the fabric (count 1..{MaxPingCount})")
            .WithJsonBody<PingRequest>().Produces<PingResponse>()
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status504GatewayTimeout);
    }

    private static async Task<IResult> Ping(string endpointId, HttpContext http, FabricApi api, CancellationToken ct)
    {
        var body = await JsonBody<PingRequest>.ReadAsync(http);
        if (body.Problem is { } bad) return bad;
        var r = body.Value!;
        if (string.IsNullOrEmpty(r.Target))
            return Problems.Invalid("target", "target-required", "target is required: the IPv4 address to ping");
        if (!Ipv4Address.TryParse(r.Target, out _))
            return Problems.Invalid("target", "target-invalid", $"'{r.Target}' is not an IPv4 address (expected a.b.c.d)");
        var count = r.Count ?? 3;
        if (count is < 1 or > MaxPingCount)
            return Problems.Invalid("count", "count-out-of-range", $"count {count} is outside 1..{MaxPingCount}");
        var ttl = r.Ttl ?? 64;
        if (ttl is < 1 or > 255)
            return Problems.Invalid("ttl", "ttl-out-of-range", $"ttl {ttl} is outside 1..255");

        if (await api.GetEndpointAsync(endpointId, ct) is not { } endpoint) return FabricApi.EndpointNotFound(endpointId);
        if (endpoint.Port.Kind != PortKind.Guest)
            return Problems.Conflict("endpointId", "endpoint-not-guest",
                $"endpoint {endpoint.Id} ({endpoint.Name}) has a {endpoint.Port.Kind.ToString().ToLowerInvariant()} port; only guest ports ping from the API (use ping inside the namespace)");
        var member = api.Runtime.FindMember(endpoint.Node);
        if (member is null)
            return Problems.Conflict("endpointId", "endpoint-node-absent",
                $"endpoint {endpoint.Id} ({endpoint.Name}) is placed on node {endpoint.Node}, which is not in the cluster");

        // The ports actor of the hosting node runs the ping: ARP, then count echoes, each waiting up to a second.
        // FabricRuntime.AskNodeAsync asks with the runtime's fixed timeout (5 s), too short for count > 3 with losses,
        // so this asks the same actor with a timeout that fits the ping.
        var timeout = PerProbe * (count + 1) + TimeSpan.FromSeconds(2);
        var selection = api.Runtime.System.ActorSelection($"{member.Address}/user/ports");
        PingReply reply;
        try
        {
            reply = await selection.Ask<PingReply>(new PingFromEndpoint(endpoint.Id, r.Target, count, ttl), timeout, ct);
        }
        catch (AskTimeoutException)
        {
            return Problems.Problem(StatusCodes.Status504GatewayTimeout, "node-timeout", $"node {endpoint.Node} did not finish the ping within {timeout.TotalSeconds:0} s");
        }
        if (reply.Error is { } error)
            return Problems.Conflict("endpointId", "ping-failed", error);
        return Results.Ok(new PingResponse(reply.Sent, reply.Received, reply.RttMs, reply.ReplyTtl));
    }

    private static CreateEndpoint ToCommand(CreateEndpointRequest r)
    {
        var port = r.Port is { } p ? new EndpointPortSpec(p.Kind, p.Namespace) : null;
        return new CreateEndpoint(r.Name, r.Network, r.Node, port, r.Subnet, r.Mac, r.Ip, r.SourceCheck);
    }

    private static async Task<IResult> CreateMany(HttpContext http, FabricApi api, CancellationToken ct)
    {
        var body = await JsonBody<BulkCreateEndpointsRequest>.ReadAsync(http, ManagementEndpoint.MaxBulkBodyBytes);
        if (body.Problem is { } bad) return bad;
        var items = body.Value!.Endpoints;
        // Counted here too, so that an oversized request costs the configuration nothing.
        if (items is { Count: > CreateEndpoints.MaxItems })
            return Problems.Invalid("endpoints", "too-many-endpoints", $"{items.Count} endpoints in one request; at most {CreateEndpoints.MaxItems}");
        var command = new CreateEndpoints(items?.Select(r => r is null ? null! : ToCommand(r)).ToArray() ?? []);
        return await api.ExecuteAsync(command, a => Results.Created((string?)null,
            new BulkCreateEndpointsResponse(a.Events.OfType<EndpointCreated>().Select(e => e.Endpoint).ToArray())), ct);
    }

    private static async Task<IResult> DeleteMany(HttpContext http, FabricApi api, CancellationToken ct)
    {
        var body = await JsonBody<BulkDeleteEndpointsRequest>.ReadAsync(http, ManagementEndpoint.MaxBulkBodyBytes);
        if (body.Problem is { } bad) return bad;
        var ids = body.Value!.Ids;
        if (ids is { Count: > CreateEndpoints.MaxItems })
            return Problems.Invalid("ids", "too-many-ids", $"{ids.Count} ids in one request; at most {CreateEndpoints.MaxItems}");
        return await api.ExecuteAsync(new DeleteEndpoints(ids?.Select(id => id!).ToArray() ?? []),
            a => Results.Ok(new BulkDeleteEndpointsResponse(a.Events.OfType<EndpointDeleted>().Count())), ct);
    }
}
