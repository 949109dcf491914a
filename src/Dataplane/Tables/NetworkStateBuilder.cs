using System.Collections.Frozen;
using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Packets;

namespace Fabric.Dataplane.Tables;

/// <summary>
/// Assembles a <see cref="NetworkState"/> from configuration-shaped input (subnets, route tables, endpoints, member
/// VTEPs). The VTEP actors and the tests use it, so both build snapshots the same way.
/// </summary>
public sealed class NetworkStateBuilder
{
    private readonly List<(string Name, Ipv4Prefix Prefix, string RouteTable)> _subnets = new();
    private readonly Dictionary<string, List<Route>> _routeTables = new() { ["main"] = new() };
    private readonly List<(MacAddress Mac, Ipv4Address Ip, Location Location, EntrySource Source, long Seq)> _endpoints = new();
    private readonly List<VtepEndpoint> _members = new();
    private readonly List<VtepEndpoint> _acceptOnly = new();
    private readonly List<int> _localPorts = new();
    private Dictionary<ulong, int>? _draining;

    public NetworkStateBuilder(int vni, string name, NetworkKind kind, Ipv4Prefix? cidr = null)
    {
        if (vni is < 1 or > VxlanHeader.MaxVni) throw new ArgumentOutOfRangeException(nameof(vni), "VNI must be 1..16777215");
        if (kind == NetworkKind.L3 && cidr is null) throw new ArgumentException("an l3 network needs a CIDR", nameof(cidr));
        Vni = vni; Name = name; Kind = kind; Cidr = cidr;
    }

    public int Vni { get; }
    public string Name { get; }
    public NetworkKind Kind { get; }
    public Ipv4Prefix? Cidr { get; }
    public VniCounters Counters { get; set; } = new();
    public int FdbCapacity { get; set; } = 16384;
    public VtepEndpoint LocalVtep { get; set; }

    /// <summary>A deterministic, locally administered gateway MAC per VNI: every node answers ARP with the same one.</summary>
    public static MacAddress GatewayMacFor(int vni) => new(0x02_FA_B0_00_00_00UL | (uint)vni);

    public NetworkStateBuilder Subnet(string name, Ipv4Prefix prefix, string routeTable = "main")
    {
        if (Cidr is { } c && !c.Contains(prefix)) throw new ArgumentException($"subnet {prefix} is outside {c}");
        _subnets.Add((name, prefix, routeTable));
        return this;
    }

    public NetworkStateBuilder RouteTable(string name)
    {
        _routeTables.TryAdd(name, new List<Route>());
        return this;
    }

    public NetworkStateBuilder Route(string table, Ipv4Prefix destination, RouteTarget target)
    {
        RouteTable(table);
        _routeTables[table].Add(new Route(destination, target));
        return this;
    }

    public NetworkStateBuilder Endpoint(MacAddress mac, Ipv4Address ip, Location location, EntrySource source = EntrySource.Config, long sequence = 0)
    {
        _endpoints.Add((mac, ip, location, source, sequence));
        if (location.IsLocal) _localPorts.Add(location.PortId);
        return this;
    }

    /// <summary>Room for <paramref name="endpoints"/> entries up front: a builder filled from a known network grows no list.</summary>
    public NetworkStateBuilder Reserve(int endpoints)
    {
        _endpoints.EnsureCapacity(endpoints);
        return this;
    }

    /// <summary>
    /// An endpoint that moved away while its old port here drains: overlay arrivals for <paramref name="mac"/> still
    /// reach <paramref name="portId"/> (its FDB entry, given separately, already names the new VTEP).
    /// </summary>
    public NetworkStateBuilder Draining(MacAddress mac, int portId)
    {
        (_draining ??= new())[mac.Value] = portId;
        return this;
    }

    /// <summary>A member VTEP: in the flood group and accepted as a sender.</summary>
    public NetworkStateBuilder Member(VtepEndpoint vtep)
    {
        if (!_members.Contains(vtep)) _members.Add(vtep);
        return this;
    }

    /// <summary>A VTEP accepted as a sender but not flooded to (a cluster node that hosts no endpoint of the network).</summary>
    public NetworkStateBuilder AcceptFrom(VtepEndpoint vtep)
    {
        if (!_acceptOnly.Contains(vtep)) _acceptOnly.Add(vtep);
        return this;
    }

    public NetworkStateBuilder LocalPort(int portId)
    {
        if (!_localPorts.Contains(portId)) _localPorts.Add(portId);
        return this;
    }

    public int SubnetIndexOf(Ipv4Address ip) => _subnets.FindIndex(s => s.Prefix.Contains(ip));

    /// <summary>
    /// Builds the state. Config entries win over gossip, gossip over <paramref name="learned"/> entries (which the
    /// caller's own learning table keeps; it is not modified here).
    /// </summary>
    public NetworkState Build(IEnumerable<FdbEntry>? learned = null)
    {
        var tableNames = _routeTables.Keys.OrderBy(n => n == "main" ? "" : n, StringComparer.Ordinal).ToList();
        var tables = tableNames.Select(n => Tables.RouteTable.Build(n, _routeTables[n], Kind == NetworkKind.L3 ? Cidr : null)).ToArray();
        var subnets = _subnets.Select(s =>
        {
            var idx = tableNames.IndexOf(s.RouteTable);
            if (idx < 0) throw new ArgumentException($"subnet {s.Name} is bound to unknown route table {s.RouteTable}");
            return new SubnetState(s.Name, s.Prefix, idx);
        }).ToArray();

        var fdb = new FdbTable(FdbCapacity);
        var neighbours = new List<KeyValuePair<Ipv4Address, MacAddress>>();
        foreach (var e in _endpoints)
        {
            if (e.Source == EntrySource.Config) fdb.SetConfigured(e.Mac, e.Location, e.Seq);
            else fdb.SetGossip(e.Mac, e.Location, e.Seq);
            if (!e.Ip.IsZero) neighbours.Add(KeyValuePair.Create(e.Ip, e.Mac));
        }
        if (learned is not null)
            foreach (var l in learned) fdb.Learn(l.Mac, l.Location, l.LastSeenMs);
        var flood = _members.Where(v => v != LocalVtep).ToArray();
        var accepted = flood.Concat(_acceptOnly.Where(v => v != LocalVtep && !flood.Contains(v)));
        return new NetworkState
        {
            Vni = Vni,
            Name = Name,
            Kind = Kind,
            Cidr = Cidr,
            GatewayMac = GatewayMacFor(Vni),
            Subnets = subnets,
            RouteTables = tables,
            Fdb = fdb.Freeze(),
            Neighbours = NeighbourTable.Build(neighbours),
            FloodList = flood,
            Members = NetworkState.MemberSet(accepted),
            LocalPorts = _localPorts.Distinct().ToArray(),
            Draining = _draining is null ? FrozenDictionary<ulong, int>.Empty : _draining.ToFrozenDictionary(),
            Counters = Counters,
        };
    }
}
