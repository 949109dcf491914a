using Fabric.Dataplane.Packets;

namespace Fabric.Dataplane.Tables;

/// <summary>A VTEP's underlay address: IPv4 plus the UDP port it listens on (4789, or 8472 for older kernel defaults).</summary>
public readonly record struct VtepEndpoint(Ipv4Address Address, ushort Port = VxlanHeader.DefaultPort)
{
    public override string ToString() => Port == VxlanHeader.DefaultPort ? Address.ToString() : $"{Address}:{Port}";
}

public enum LocationKind : byte { None = 0, LocalPort, RemoteVtep }

/// <summary>Where a MAC lives: a port on this node or a remote VTEP.</summary>
public readonly record struct Location(LocationKind Kind, int PortId, VtepEndpoint Vtep)
{
    public static Location Local(int portId) => new(LocationKind.LocalPort, portId, default);
    public static Location Remote(VtepEndpoint vtep) => new(LocationKind.RemoteVtep, -1, vtep);
    public bool IsLocal => Kind == LocationKind.LocalPort;
    public bool IsRemote => Kind == LocationKind.RemoteVtep;
    public override string ToString() => Kind switch
    {
        LocationKind.LocalPort => $"local:{PortId}",
        LocationKind.RemoteVtep => $"vtep:{Vtep}",
        _ => "none",
    };
}

public enum EntrySource : byte { Config, Gossip, Learned }
