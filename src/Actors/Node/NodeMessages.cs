using System.Collections.Immutable;
using Fabric.Actors.Intent;
using Fabric.Dataplane.Events;
using Fabric.Dataplane.Tables;
using NetworkState = Fabric.Dataplane.Tables.NetworkState;

namespace Fabric.Actors.Node;

// Messages between the actors of one node. Local only (they carry dataplane objects), so they are not
// IFabricMessage and never cross the wire.

/// <summary>A new revision of the intended configuration reached this node.</summary>
public sealed record ConfigurationUpdated(ConfigurationListing Listing);

/// <summary>The cluster members this node knows, by node name.</summary>
public sealed record MembersUpdated(ImmutableDictionary<string, NodeIdentity> Members);

/// <summary>This node's local ports, by endpoint id.</summary>
public sealed record LocalPortsChanged(ImmutableDictionary<string, PortState> Ports);

/// <summary>A VTEP actor built new forwarding state for its VNI.</summary>
public sealed record NetworkStateBuilt(int Vni, NetworkState State);

/// <summary>A VNI is no longer served here.</summary>
public sealed record NetworkStateRemoved(int Vni);

/// <summary>Events the dataplane raised for one VNI, drained from its ring.</summary>
public sealed record DataplaneEvents(int Vni, DataplaneEvent[] Events);

/// <summary>Published on the node's event stream after every snapshot swap, with how long the swap took.</summary>
public sealed record SnapshotPublished(long Version, TimeSpan BuildTime);
