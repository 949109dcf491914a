using System.Collections.Frozen;

namespace Fabric.Dataplane.Tables;

/// <summary>
/// The whole forwarding state of one node at one instant: immutable, built by the actors, read by the dataplane
/// thread. Replacing it is one reference swap (<see cref="SnapshotHolder"/>); the thread never sees half an update.
/// </summary>
public sealed class ForwardingSnapshot
{
    public static readonly ForwardingSnapshot Empty = new(default, FrozenDictionary<int, NetworkState>.Empty, [], 0);

    private ForwardingSnapshot(VtepEndpoint localVtep, FrozenDictionary<int, NetworkState> networks, PortState?[] ports, long version)
    {
        LocalVtep = localVtep; Networks = networks; Ports = ports; Version = version;
    }

    /// <summary>This node's own VTEP address.</summary>
    public VtepEndpoint LocalVtep { get; }
    public FrozenDictionary<int, NetworkState> Networks { get; }
    /// <summary>Local ports indexed by port id; null where an id is free.</summary>
    public PortState?[] Ports { get; }
    public long Version { get; }

    public static ForwardingSnapshot Create(VtepEndpoint localVtep, IEnumerable<NetworkState> networks, IEnumerable<PortState> ports, long version = 1)
    {
        var nets = networks.ToDictionary(n => n.Vni).ToFrozenDictionary();
        var portList = ports.ToList();
        var table = new PortState?[portList.Count == 0 ? 0 : portList.Max(p => p.Id) + 1];
        foreach (var p in portList)
        {
            if (table[p.Id] is not null) throw new ArgumentException($"port id {p.Id} used twice");
            if (!nets.ContainsKey(p.Vni)) throw new ArgumentException($"port {p.Name} is attached to VNI {p.Vni}, which has no network state");
            table[p.Id] = p;
        }
        return new ForwardingSnapshot(localVtep, nets, table, version);
    }

    /// <summary>A copy with one network added or replaced; every other network is shared, not copied.</summary>
    public ForwardingSnapshot WithNetwork(NetworkState network)
    {
        var d = new Dictionary<int, NetworkState>(Networks) { [network.Vni] = network };
        return new ForwardingSnapshot(LocalVtep, d.ToFrozenDictionary(), Ports, Version + 1);
    }

    public ForwardingSnapshot WithPorts(IEnumerable<PortState> ports) => Create(LocalVtep, Networks.Values, ports, Version + 1);

    public bool TryGetNetwork(int vni, out NetworkState network) => Networks.TryGetValue(vni, out network!);

    public PortState? Port(int id) => (uint)id < (uint)Ports.Length ? Ports[id] : null;
}

/// <summary>The one place a snapshot is published: a single reference, written by the actors, read by the dataplane.</summary>
public sealed class SnapshotHolder
{
    private ForwardingSnapshot _current;
    public SnapshotHolder(ForwardingSnapshot? initial = null) => _current = initial ?? ForwardingSnapshot.Empty;
    public ForwardingSnapshot Current => Volatile.Read(ref _current);
    public void Publish(ForwardingSnapshot snapshot) => Volatile.Write(ref _current, snapshot);
}
