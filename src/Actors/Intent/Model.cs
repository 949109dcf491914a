using Fabric.Dataplane.Packets;

namespace Fabric.Actors.Intent;

// The entities of the intended configuration. Immutable; replaced, never mutated. They travel inside
// events and listings, so they are plain data that Hyperion writes field by field.

public enum NetworkKind { L2, L3 }

public enum PortKind { Guest, Tap }

public enum RouteTargetKind { Endpoint, Blackhole, Network }

/// <summary>A virtual network: one VNI. Its subnets, route tables and external VTEPs live inside it.</summary>
public sealed record Network(string Id, string Name, int Vni, NetworkKind Kind, Ipv4Prefix? Cidr);

/// <summary>A routed subnet of an l3 network. The gateway is always the first host address.</summary>
public sealed record Subnet(string Id, string Name, Ipv4Prefix Cidr, Ipv4Address Gateway, string RouteTable);

/// <summary>Where a route sends its traffic: an appliance endpoint, nowhere, or another network.</summary>
public sealed record RouteTarget(RouteTargetKind Kind, string? Endpoint = null, string? Network = null)
{
    public static readonly RouteTarget Blackhole = new(RouteTargetKind.Blackhole);
    public static RouteTarget ToEndpoint(string endpointId) => new(RouteTargetKind.Endpoint, Endpoint: endpointId);
    public static RouteTarget ToNetwork(string networkId) => new(RouteTargetKind.Network, Network: networkId);

    public override string ToString() => Kind switch
    {
        RouteTargetKind.Endpoint => $"endpoint {Endpoint}",
        RouteTargetKind.Network => $"network {Network}",
        _ => "blackhole",
    };
}

public sealed record Route(Ipv4Prefix Destination, RouteTarget Target);

/// <summary>A VTEP outside the cluster (a kernel vxlan device, a hardware switch) in a network's flood group.</summary>
public sealed record ExternalVtep(Ipv4Address Address, int Port)
{
    public const int DefaultPort = 4789;
    public override string ToString() => $"{Address}:{Port}";
}

public sealed record EndpointPort(PortKind Kind, string? Namespace = null);

/// <summary>
/// A VM's port: where it is (node), who it is (MAC, IP) and how it is plugged in. <see cref="MoveSeq"/>
/// starts at 0 and rises by one with every move; gossip lets the highest win. <see cref="PrefixLength"/> is the
/// prefix the ip was written with (a.b.c.d/len), null when it was not: then the subnet's or network's CIDR applies.
/// </summary>
public sealed record Endpoint(
    string Id,
    string Name,
    string Network,
    string? Subnet,
    string Node,
    MacAddress Mac,
    Ipv4Address? Ip,
    EndpointPort Port,
    bool SourceCheck,
    long MoveSeq,
    int? PrefixLength = null);
