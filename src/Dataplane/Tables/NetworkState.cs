using System.Collections.Frozen;
using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Packets;

namespace Fabric.Dataplane.Tables;

public enum NetworkKind : byte { L2, L3 }

/// <summary>A subnet of an <c>l3</c> network: its prefix, its gateway, and the route table (VRF) bound to it.</summary>
public sealed record SubnetState(string Name, Ipv4Prefix Prefix, int RouteTableIndex)
{
    public Ipv4Address Gateway => Prefix.FirstHost;
}

/// <summary>A local port: one endpoint's attachment on this node.</summary>
public sealed record PortState(int Id, string Name, int Vni, MacAddress Mac, Ipv4Address Ip, bool SourceCheck, int SubnetIndex, PortCounters Counters)
{
    public bool HasIp => !Ip.IsZero;
}

/// <summary>
/// Everything the dataplane needs to forward within one network (one VNI), immutable. A VTEP actor builds a new one
/// when anything in it changes; untouched networks are shared between successive snapshots.
/// </summary>
public sealed class NetworkState
{
    public required int Vni { get; init; }
    public required string Name { get; init; }
    public required NetworkKind Kind { get; init; }
    /// <summary>The network's CIDR (<c>l3</c>; optional for <c>l2</c>).</summary>
    public Ipv4Prefix? Cidr { get; init; }
    /// <summary>The virtual router's MAC: proxy ARP answers with it for off-subnet targets, and routed frames carry it.</summary>
    public MacAddress GatewayMac { get; init; }
    public SubnetState[] Subnets { get; init; } = [];
    public RouteTable[] RouteTables { get; init; } = [];
    public FdbSnapshot Fdb { get; init; } = FdbSnapshot.Empty;
    public NeighbourTable Neighbours { get; init; } = NeighbourTable.Empty;
    /// <summary>Head-end replication list: every member VTEP but this node's own.</summary>
    public VtepEndpoint[] FloodList { get; init; } = [];
    /// <summary>Underlay sources accepted for this VNI, by IPv4 address (kernel peers send from random UDP ports).</summary>
    public FrozenDictionary<uint, VtepEndpoint> Members { get; init; } = FrozenDictionary<uint, VtepEndpoint>.Empty;
    /// <summary>Ids of the local ports attached to this network, for local flooding.</summary>
    public int[] LocalPorts { get; init; } = [];
    /// <summary>
    /// Endpoints moved to another node whose old port is still plugged here for a short grace: the FDB already points
    /// at the new VTEP (senders here switch at once), but frames that arrive from the overlay for them (sent by peers
    /// before they switched) still reach the old port instead of being dropped. Usually empty; only looked at when a
    /// frame from the overlay meets a remote FDB entry.
    /// </summary>
    public FrozenDictionary<ulong, int> Draining { get; init; } = FrozenDictionary<ulong, int>.Empty;
    public VniCounters Counters { get; init; } = new();

    /// <summary>The old port of a moved endpoint still draining here, if any.</summary>
    public bool TryGetDraining(MacAddress mac, out int portId)
    {
        var draining = Draining;
        if (draining.Count == 0) { portId = -1; return false; }
        return draining.TryGetValue(mac.Value, out portId);
    }

    public bool IsMember(Ipv4Address outerSource, out VtepEndpoint member) => Members.TryGetValue(outerSource.Value, out member);

    public static FrozenDictionary<uint, VtepEndpoint> MemberSet(IEnumerable<VtepEndpoint> members)
    {
        var d = new Dictionary<uint, VtepEndpoint>();
        foreach (var m in members) d[m.Address.Value] = m;
        return d.ToFrozenDictionary();
    }

    /// <summary>The subnet whose gateway is <paramref name="ip"/>, or -1.</summary>
    public int GatewaySubnetIndex(Ipv4Address ip)
    {
        var subnets = Subnets;
        for (int i = 0; i < subnets.Length; i++)
            if (subnets[i].Gateway == ip) return i;
        return -1;
    }

    /// <summary>True when <paramref name="ip"/> is the directed broadcast address of one of the subnets.</summary>
    public bool IsSubnetBroadcast(Ipv4Address ip)
    {
        var subnets = Subnets;
        for (int i = 0; i < subnets.Length; i++)
            if (subnets[i].Prefix.Length < 31 && subnets[i].Prefix.Broadcast == ip) return true;
        return false;
    }
}
