using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Fabric.Actors.Intent;

namespace Fabric.Actors.Feed;

/// <summary>An endpoint placed (created), moved to another node, or removed, as the event feed shows it.</summary>
public sealed record EndpointChange(string Kind, string EndpointId, string? Name, string? Network, string? Node, string? Mac, string? Ip) : IFabricMessage
{
    public const string Placed = "placed", Moved = "moved", Removed = "removed";
}

/// <summary>
/// What one accepted write changed that the event feeds show: its endpoint changes (the first <see cref="ConfigurationFeed.MaxChanges"/>;
/// <paramref name="Omitted"/> more were left out, and a page reloads then) and whether networks were created or deleted.
/// </summary>
public sealed record ConfigurationChanges(long Revision, IReadOnlyList<EndpointChange> Endpoints, int Omitted, bool NetworksChanged) : IFabricMessage;

/// <summary>
/// Publishes each accepted write's endpoint changes on the cluster topic <see cref="Topic"/>, for the event feeds
/// (<c>GET /api/v1/events</c>) of the nodes that have clients right now. The configuration calls it once per write.
/// </summary>
/// <remarks>
/// Cost per write: O(changes) to summarise (bounded by <see cref="MaxChanges"/>: a bulk of 10,000 endpoints publishes 200
/// and a count, so no message outgrows the remote frame), and one message to each node subscribed to the topic — none
/// when no node has a feed client (the mediator knows the topic's subscribers from its gossip).
/// </remarks>
public static class ConfigurationFeed
{
    public const string Topic = "fabric-configuration-changes";
    public const int MaxChanges = 200;

    public static void Publish(ActorSystem system, FabricConfiguration before, FabricConfiguration after, IReadOnlyList<ConfigurationEvent> events, long revision)
    {
        // No cluster, no feeds to tell (the configuration also runs in local systems: tests, tools); asking for the
        // mediator there would start Akka.Cluster in a system not made for it and fail the write.
        if (system is not ExtendedActorSystem { Provider: Akka.Cluster.ClusterActorRefProvider }) return;
        var changes = new List<EndpointChange>();
        var omitted = 0;
        var networks = false;
        foreach (var e in events)
        {
            EndpointChange? c = e switch
            {
                EndpointCreated x => Of(EndpointChange.Placed, x.Endpoint),
                EndpointMoved x => after.Endpoints.TryGetValue(x.EndpointId, out var moved) ? Of(EndpointChange.Moved, moved)
                    : new EndpointChange(EndpointChange.Moved, x.EndpointId, null, null, x.Node, null, null),
                EndpointDeleted x => before.Endpoints.TryGetValue(x.EndpointId, out var gone) ? Of(EndpointChange.Removed, gone) with { Node = null }
                    : new EndpointChange(EndpointChange.Removed, x.EndpointId, null, null, null, null, null),
                _ => null,
            };
            networks |= e is NetworkCreated or NetworkDeleted;
            if (c is null) continue;
            if (changes.Count < MaxChanges) changes.Add(c);
            else omitted++;
        }
        if (changes.Count == 0 && !networks) return;
        DistributedPubSub.Get(system).Mediator.Tell(new Publish(Topic, new ConfigurationChanges(revision, changes.ToArray(), omitted, networks)));
    }

    private static EndpointChange Of(string kind, Endpoint e)
        => new(kind, e.Id, e.Name, e.Network, e.Node, e.Mac.ToString(), e.Ip?.ToString());
}
