using System.Collections.Immutable;
using Akka.Actor;
using Fabric.Actors.Intent;
using Fabric.Dataplane.Events;
using Fabric.Dataplane.Tables;
using NetworkState = Fabric.Dataplane.Tables.NetworkState;

namespace Fabric.Actors.Node;

// Messages between the actors of one node. Local only (they carry dataplane objects), so they are not
// IFabricMessage and never cross the wire.

/// <summary>
/// This node's replica moved to <paramref name="Revision"/>. <paramref name="State"/> is the replica's projection: the
/// networks this node holds (it has an endpoint in them, an actor asked to hold them, or a held network routes to them)
/// with everything inside them and their endpoints; nothing of any other network. <paramref name="Events"/> are the
/// events applied since the previous update sent to this subscriber, in order; they may include events that are
/// not in the journal: the creation events of a network the node starts to hold (an <see cref="EndpointCreated"/>
/// then carries the endpoint as it is now) and <see cref="NetworkReleased"/> when it stops holding one.
/// <paramref name="Reset"/>: the projection was replaced wholesale (the first state, a catch-up after lost deltas);
/// <paramref name="Events"/> is empty and a consumer reconciles what it has against <paramref name="State"/>.
/// Local only: the state is shared by reference between the node's actors, never copied.
/// </summary>
public sealed record ConfigurationUpdated(FabricConfiguration State, long Revision, IReadOnlyList<ConfigurationEvent> Events, bool Reset)
{
    private ConfigurationListing? _listing;

    /// <summary>The projection as a listing, built once per update. O(projection): for views and tests, not for every change.</summary>
    public ConfigurationListing Listing => _listing ??= ConfigurationListing.Of(State, Revision);

    /// <summary>A whole state to reconcile against (tests, the first update).</summary>
    public static ConfigurationUpdated Whole(ConfigurationListing listing)
        => new(FabricConfiguration.FromListing(listing), listing.Revision, [], true);
}

/// <summary>
/// An actor of this node (<paramref name="Owner"/>, e.g. a VRF entity) needs these networks in the node's projection
/// whether or not the node has endpoints in them; an empty set lets them go. The replica forwards the union to the
/// configuration.
/// </summary>
public sealed record HoldNetworks(string Owner, IReadOnlyCollection<string> NetworkIds);

/// <summary>The cluster members this node knows, by node name.</summary>
public sealed record MembersUpdated(ImmutableDictionary<string, NodeIdentity> Members);

/// <summary>
/// This node's local ports, by endpoint id (an immutable map kept up to date by the port manager, shared, not rebuilt).
/// <paramref name="Changed"/>: the endpoint ids whose port was added, replaced or removed since the previous message,
/// so a receiver can do work proportional to the change; null when the sender does not say (compare the maps).
/// </summary>
public sealed record LocalPortsChanged(ImmutableDictionary<string, PortState> Ports, IReadOnlyCollection<string>? Changed = null);

/// <summary>A VTEP actor built new forwarding state for its VNI.</summary>
public sealed record NetworkStateBuilt(int Vni, NetworkState State);

/// <summary>
/// A VNI is no longer served here. <paramref name="Stopped"/>: the builder its manager stopped, named because a state
/// it was building when told to stop can arrive after this: the publisher ignores everything it sends from now on.
/// </summary>
public sealed record NetworkStateRemoved(int Vni, IActorRef? Stopped = null);

/// <summary>Events the dataplane raised for one VNI, drained from its ring.</summary>
public sealed record DataplaneEvents(int Vni, DataplaneEvent[] Events);

/// <summary>Published on the node's event stream after every snapshot swap, with how long the swap took.</summary>
public sealed record SnapshotPublished(long Version, TimeSpan BuildTime);
