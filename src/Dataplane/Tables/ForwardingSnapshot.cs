using System.Runtime.CompilerServices;

namespace Fabric.Dataplane.Tables;

/// <summary>
/// The whole forwarding state of one node at one instant: immutable, built by the actors, read by the dataplane
/// thread. Replacing it is one reference swap (<see cref="SnapshotHolder"/>); the thread never sees half an update.
/// Networks and ports are persistent maps (<see cref="IntMap{T}"/>): a new snapshot that changes k networks or ports
/// shares everything else with the one before, so an install costs O(k), not O(networks + ports). Per packet, finding
/// a network (by VNI) or a port (by id) is three to five dependent array reads, no hashing and no lock.
/// </summary>
public sealed class ForwardingSnapshot
{
    public static readonly ForwardingSnapshot Empty = new(default, IntMap<NetworkState>.Empty, PortTable.Empty, 0);

    private ForwardingSnapshot(VtepEndpoint localVtep, IntMap<NetworkState> networks, PortTable ports, long version)
    {
        LocalVtep = localVtep; Networks = networks; Ports = ports; Version = version;
    }

    /// <summary>This node's own VTEP address.</summary>
    public VtepEndpoint LocalVtep { get; }
    /// <summary>The networks by VNI.</summary>
    public IntMap<NetworkState> Networks { get; }
    /// <summary>Local ports by port id.</summary>
    public PortTable Ports { get; }
    public long Version { get; }

    public static ForwardingSnapshot Create(VtepEndpoint localVtep, IEnumerable<NetworkState> networks, IEnumerable<PortState> ports, long version = 1)
    {
        var b = new Builder(Empty.With(localVtep));
        foreach (var n in networks)
        {
            if (b.Network(n.Vni) is not null) throw new ArgumentException($"VNI {n.Vni} given twice");
            b.SetNetwork(n);
        }
        foreach (var p in ports)
        {
            if (b.Port(p.Id) is not null) throw new ArgumentException($"port id {p.Id} used twice");
            b.SetPort(p);
        }
        return b.ToSnapshot(version);
    }

    private ForwardingSnapshot With(VtepEndpoint localVtep) => new(localVtep, Networks, Ports, Version);

    /// <summary>A copy with one network added or replaced; every other network is shared, not copied.</summary>
    public ForwardingSnapshot WithNetwork(NetworkState network)
    {
        var b = ToBuilder();
        b.SetNetwork(network);
        return b.ToSnapshot(Version + 1);
    }

    /// <summary>A copy with exactly these ports (every network shared).</summary>
    public ForwardingSnapshot WithPorts(IEnumerable<PortState> ports)
    {
        var b = new Builder(new ForwardingSnapshot(LocalVtep, Networks, PortTable.Empty, Version));
        foreach (var p in ports)
        {
            if (b.Port(p.Id) is not null) throw new ArgumentException($"port id {p.Id} used twice");
            b.SetPort(p);
        }
        return b.ToSnapshot(Version + 1);
    }

    /// <summary>Starts a new snapshot from this one: each change through the builder costs O(depth), untouched parts are shared.</summary>
    public Builder ToBuilder() => new(this);

    public bool TryGetNetwork(int vni, out NetworkState network) => Networks.TryGetValue(vni, out network!);

    public PortState? Port(int id) => Ports[id];

    /// <summary>
    /// Changes to a snapshot: set or remove networks and ports, then <see cref="ToSnapshot"/>. A port must be attached
    /// to a network of the snapshot it ends up in (checked for the ports set here).
    /// </summary>
    public sealed class Builder
    {
        private readonly VtepEndpoint _localVtep;
        private readonly IntMap<NetworkState>.Builder _networks;
        private readonly IntMap<PortState>.Builder _ports;
        private List<PortState>? _setPorts;

        internal Builder(ForwardingSnapshot from)
        {
            _localVtep = from.LocalVtep;
            _networks = from.Networks.ToBuilder();
            _ports = from.Ports.Map.ToBuilder();
        }

        public int NetworkCount => _networks.Count;
        public int PortCount => _ports.Count;
        public NetworkState? Network(int vni) => _networks.Find(vni);
        public PortState? Port(int id) => _ports.Find(id);

        public Builder SetNetwork(NetworkState network)
        {
            _networks[network.Vni] = network;
            return this;
        }

        public bool RemoveNetwork(int vni) => _networks.Remove(vni);

        public Builder SetPort(PortState port)
        {
            if (port.Id < 0) throw new ArgumentException("port ids are non-negative");
            _ports[port.Id] = port;
            (_setPorts ??= new()).Add(port);
            return this;
        }

        public bool RemovePort(int id) => _ports.Remove(id);

        public ForwardingSnapshot ToSnapshot(long version)
        {
            if (_setPorts is not null)
            {
                foreach (var p in _setPorts)
                    if (ReferenceEquals(_ports.Find(p.Id), p) && _networks.Find(p.Vni) is null)
                        throw new ArgumentException($"port {p.Name} is attached to VNI {p.Vni}, which has no network state");
                _setPorts = null;
            }
            return new ForwardingSnapshot(_localVtep, _networks.ToImmutable(), new PortTable(_ports.ToImmutable()), version);
        }
    }
}

/// <summary>The local ports of a snapshot by id: the indexer answers null for a free id; enumeration is in id order.</summary>
public sealed class PortTable : IEnumerable<PortState>
{
    public static readonly PortTable Empty = new(IntMap<PortState>.Empty);

    public PortTable(IntMap<PortState> map) => Map = map;

    public IntMap<PortState> Map { get; }
    public int Count => Map.Count;

    public PortState? this[int id]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Map.TryGetValue(id, out var p) ? p : null;
    }

    public IEnumerator<PortState> GetEnumerator() => Map.Values.GetEnumerator();
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>The one place a snapshot is published: a single reference, written by the actors, read by the dataplane.</summary>
public sealed class SnapshotHolder
{
    private ForwardingSnapshot _current;
    public SnapshotHolder(ForwardingSnapshot? initial = null) => _current = initial ?? ForwardingSnapshot.Empty;
    public ForwardingSnapshot Current => Volatile.Read(ref _current);
    public void Publish(ForwardingSnapshot snapshot) => Volatile.Write(ref _current, snapshot);
}
