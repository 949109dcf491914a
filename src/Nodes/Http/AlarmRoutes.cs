using Akka.Cluster;
using Fabric.Actors.Alarms;
using Fabric.Actors.Node;

namespace Fabric.Nodes.Http;

/// <summary>
/// <c>GET /api/v1/alarms</c>: every node's current alarms (duplicate MAC, address conflict, path MTU), asked of each Up
/// member's <c>alarms</c> actor at once, the way the per-node views are asked. Nodes that did not answer in time are
/// named in the <c>Fabric-Unanswered</c> header (their alarms are missing, not absent). O(members) messages per request.
/// </summary>
internal static class AlarmRoutes
{
    public const string UnansweredHeader = "Fabric-Unanswered";

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/alarms", async (string? kind, string? node, FabricApi api, HttpContext http, CancellationToken ct) =>
            {
                if (kind is not null && !AlarmKinds.All.Contains(kind))
                    return Problems.Invalid("kind", "alarm-kind-unknown", $"kind must be one of {string.Join(", ", AlarmKinds.All)}");
                var rt = api.Runtime;
                var members = rt.Node.Cluster.State.Members.Where(m => m.Status == MemberStatus.Up)
                    .Select(m => NodeIdentity.Of(m)?.Name).OfType<string>()
                    .Where(n => node is null || n == node).ToArray();
                var answers = await Task.WhenAll(members.Select(async n =>
                {
                    try { return (n, (AlarmListing?)await rt.AskNodeAsync<AlarmListing>(n, GetAlarms.Instance, "alarms", ct)); }
                    catch (Exception e) when (e is Akka.Actor.AskTimeoutException or KeyNotFoundException) { return (n, null); }
                }));
                var unanswered = answers.Where(a => a.Item2 is null).Select(a => a.n).ToArray();
                if (unanswered.Length > 0) http.Response.Headers[UnansweredHeader] = string.Join(",", unanswered);
                var alarms = answers.SelectMany(a => a.Item2?.Alarms ?? [])
                    .Where(a => kind is null || a.Kind == kind)
                    .OrderBy(a => a.Since).ThenBy(a => a.Node, StringComparer.Ordinal).ThenBy(a => a.Key, StringComparer.Ordinal)
                    .ToArray();
                return Results.Ok(alarms);
            })
            .WithTags("alarms").WithTokenProblems()
            .WithName("ListAlarms")
            .WithSummary("Every node's current alarms (?kind=duplicate-mac|address-conflict|path-mtu, ?node=NAME): node, kind, key, detail, since")
            .Produces<Alarm[]>().ProducesValidationProblem();
    }
}
