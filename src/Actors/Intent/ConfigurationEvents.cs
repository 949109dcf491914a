using Fabric.Dataplane.Packets;

namespace Fabric.Actors.Intent;

// What the journal holds. Every event carries fully decided values (ids, assigned MAC and IP, the
// gateway, the new move sequence), so replaying applies them without deciding anything again and
// reproduces the configuration byte for byte.

public abstract record ConfigurationEvent : IFabricMessage
{
    /// <summary>
    /// The network the event concerns. An endpoint moved or deleted names only its id: <paramref name="endpointNetwork"/>
    /// finds its network (the caller knows which state to look in).
    /// </summary>
    public static string? NetworkOf(ConfigurationEvent e, Func<string, string?> endpointNetwork) => e switch
    {
        NetworkCreated x => x.Network.Id,
        NetworkDeleted x => x.NetworkId,
        NetworkReleased x => x.NetworkId,
        SubnetCreated x => x.NetworkId,
        SubnetDeleted x => x.NetworkId,
        SubnetRouteTableBound x => x.NetworkId,
        RouteTableCreated x => x.NetworkId,
        RouteTableDeleted x => x.NetworkId,
        RouteAdded x => x.NetworkId,
        RouteRemoved x => x.NetworkId,
        ExternalVtepAdded x => x.NetworkId,
        ExternalVtepRemoved x => x.NetworkId,
        EndpointCreated x => x.Endpoint.Network,
        EndpointMoved x => endpointNetwork(x.EndpointId),
        EndpointDeleted x => endpointNetwork(x.EndpointId),
        _ => null,
    };
}

/// <summary>A network was created, with its implicit route table "main".</summary>
public sealed record NetworkCreated(Network Network) : ConfigurationEvent;

public sealed record NetworkDeleted(string NetworkId) : ConfigurationEvent;

public sealed record SubnetCreated(string NetworkId, Subnet Subnet) : ConfigurationEvent;

public sealed record SubnetDeleted(string NetworkId, string SubnetId) : ConfigurationEvent;

public sealed record SubnetRouteTableBound(string NetworkId, string SubnetId, string RouteTable) : ConfigurationEvent;

public sealed record RouteTableCreated(string NetworkId, string RouteTable) : ConfigurationEvent;

public sealed record RouteTableDeleted(string NetworkId, string RouteTable) : ConfigurationEvent;

public sealed record RouteAdded(string NetworkId, string RouteTable, Route Route) : ConfigurationEvent;

public sealed record RouteRemoved(string NetworkId, string RouteTable, Ipv4Prefix Destination) : ConfigurationEvent;

public sealed record ExternalVtepAdded(string NetworkId, ExternalVtep Vtep) : ConfigurationEvent;

public sealed record ExternalVtepRemoved(string NetworkId, ExternalVtep Vtep) : ConfigurationEvent;

public sealed record EndpointCreated(Endpoint Endpoint) : ConfigurationEvent;

public sealed record EndpointMoved(string EndpointId, string Node, long MoveSeq) : ConfigurationEvent;

public sealed record EndpointDeleted(string EndpointId) : ConfigurationEvent;

/// <summary>
/// Never journaled: a node's replica stops holding the network (no endpoint of this node is in it any more, and no
/// network it holds routes to it). Applied, it removes the network and its endpoints from the replica's projection,
/// as deleting them would; consumers drop the network's state, but a port that is still leaving (a moved endpoint's
/// make-before-break) may stay until its new node has announced it.
/// </summary>
public sealed record NetworkReleased(string NetworkId) : ConfigurationEvent;
