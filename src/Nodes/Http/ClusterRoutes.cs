using Fabric.Actors.Node;

namespace Fabric.Nodes.Http;

/// <summary><c>/cluster/members</c>: who is in the cluster, and asking one to leave (gracefully) or downing it.</summary>
internal static class ClusterRoutes
{
    public static void Map(IEndpointRouteBuilder app)
    {
        var members = app.MapGroup("/cluster/members").WithTags("cluster").WithTokenProblems();

        members.MapGet("", (FabricApi api) => Results.Ok(api.Runtime.Members()))
            .WithName("ListMembers").WithSummary("Cluster members: name, address, status, VTEP, management URL, reachability")
            .Produces<IReadOnlyList<MemberView>>();

        members.MapGet("/{name}", (string name, FabricApi api) =>
                api.Runtime.Members().FirstOrDefault(m => m.Name == name) is { } m ? Results.Ok(m) : MemberNotFound(name))
            .WithName("GetMember").WithSummary("One member").Produces<MemberView>().ProducesProblem(StatusCodes.Status404NotFound);

        members.MapPost("/{name}/leave", (string name, FabricApi api) => Act(api, name, api.Runtime.Leave))
            .WithName("LeaveMember").WithSummary("Ask a member to leave the cluster gracefully (its endpoints' locations are withdrawn)")
            .Produces<MemberView>(StatusCodes.Status202Accepted).ProducesProblem(StatusCodes.Status404NotFound);

        members.MapDelete("/{name}", (string name, FabricApi api) => Act(api, name, api.Runtime.Down))
            .WithName("DownMember").WithSummary("Down a member: the cluster removes it without its cooperation (it is crashed or cut off)")
            .Produces<MemberView>(StatusCodes.Status202Accepted).ProducesProblem(StatusCodes.Status404NotFound);
    }

    /// <summary>202 with the member as it was when asked: leaving and downing take effect through gossip.</summary>
    private static IResult Act(FabricApi api, string name, Func<string, bool> action)
    {
        var before = api.Runtime.Members().FirstOrDefault(m => m.Name == name);
        if (before is null || !action(name)) return MemberNotFound(name);
        return Results.Json(before, statusCode: StatusCodes.Status202Accepted);
    }

    private static IResult MemberNotFound(string name)
        => Problems.NotFound("name", "member-not-found", $"no cluster member is named '{name}'");
}
