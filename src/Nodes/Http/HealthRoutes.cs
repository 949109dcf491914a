namespace Fabric.Nodes.Http;

/// <summary>The open routes: liveness, readiness and Prometheus metrics (the OpenAPI document is mapped beside them).</summary>
internal static class HealthRoutes
{
    public static void Map(IEndpointRouteBuilder app, FabricMetrics metrics)
    {
        var health = app.MapGroup("/health").WithTags("health");

        health.MapGet("/alive", (FabricApi api) => Results.Ok(new HealthStatus("alive", api.Runtime.Self.Name)))
            .WithName("Alive").WithSummary("200 while the process runs (no token)").Produces<HealthStatus>();

        health.MapGet("/ready", (FabricApi api) =>
            {
                var rt = api.Runtime;
                if (rt.IsReady) return Results.Ok(new HealthStatus("ready", rt.Self.Name));
                var status = rt.Node.Cluster.SelfMember.Status.ToString().ToLowerInvariant();
                var why = rt.Engine is { Running: false }
                    ? "the dataplane thread is not running"
                    : $"this node is {status} in the cluster, not up";
                return Problems.Problem(StatusCodes.Status503ServiceUnavailable, "not-ready", $"node {rt.Self.Name} is not ready: {why}");
            })
            .WithName("Ready").WithSummary("200 once the node is Up in the cluster and its dataplane thread runs, else 503 (no token)")
            .Produces<HealthStatus>().ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        // (HttpContext, CancellationToken): a route handler, not a bare RequestDelegate, so that OpenAPI describes it.
        app.MapGet("/metrics", async (HttpContext http, CancellationToken ct) =>
            {
                http.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
                await metrics.Registry.CollectAndExportAsTextAsync(http.Response.Body, ct);
            })
            .WithTags("health").WithName("Metrics")
            .WithSummary("Prometheus text: counters per port, VNI and drop reason; cluster size; snapshot-publish and peer round-trip histograms (no token)")
            .Produces<string>(StatusCodes.Status200OK, "text/plain");
    }
}
