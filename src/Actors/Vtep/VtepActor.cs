using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using Fabric.Actors.Intent;
using Fabric.Actors.Locations;
using Fabric.Actors.Node;
using Fabric.Actors.Vrf;
using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Events;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Tables;
using NetworkState = Fabric.Dataplane.Tables.NetworkState;
using DpKind = Fabric.Dataplane.Tables.NetworkKind;
using DpRouteTarget = Fabric.Dataplane.Tables.RouteTarget;
using IntentKind = Fabric.Actors.Intent.NetworkKind;
using IntentNetworkState = Fabric.Actors.Intent.NetworkState;

namespace Fabric.Actors.Vtep;

/// <summary>
/// What a VTEP actor needs from the configuration: its network's intent state and the projection it belongs to (its
/// endpoints are looked up there by the network's index). References to the replica's immutable state, never copies:
/// building one costs O(1) whatever the fabric's size. <paramref name="ChangedEndpoints"/> names the endpoints of the
/// network that changed since the previous configuration sent to the same actor (null: anything may have, look at all).
/// </summary>
public sealed record VtepConfiguration(IntentNetworkState Network, FabricConfiguration State, IReadOnlyCollection<string>? ChangedEndpoints = null)
{
    public string NetworkId => Network.Network.Id;

    /// <summary>The network's endpoints, in id order, from its index: O(network).</summary>
    public IEnumerable<Endpoint> Endpoints => State.EndpointsOf(NetworkId);
}

public sealed record GetLearned { public static readonly GetLearned Instance = new(); }
public sealed record GetConflictAlarms : IFabricMessage { public static readonly GetConflictAlarms Instance = new(); }

/// <summary>
/// Owns one VNI on this node (<c>vtep-5001</c>): its learning table and its flood group, and turns configuration,
/// cluster membership, gossiped locations and dataplane events into the VNI's forwarding state, which it hands to
/// the snapshot publisher. Learned state lives only here (soft: rebuilt after a restart); the configuration is
/// replayed from the journal.
/// </summary>
public sealed class VtepActor : ReceiveActor, IWithTimers
{
    private sealed record Rebuild { public static readonly Rebuild Instance = new(); }
    private sealed record AgeTick { public static readonly AgeTick Instance = new(); }
    private sealed record Resubscribe { public static readonly Resubscribe Instance = new(); }

    /// <summary>
    /// Anti-entropy for the VRF copies, on top of watching their owners (which catches a lost owner at once): slow, and
    /// jittered so 1,000 VTEPs spread out. Each round is a remote subscribe and answer per l3 VNI: at 500 l3 VNIs a node,
    /// 60 s was ~8 round trips a second of an idle node's CPU; 5 min is under 2 (0.3 at 1,000 nodes × 100 l3 VNIs).
    /// </summary>
    public static readonly TimeSpan VrfAntiEntropy = TimeSpan.FromMinutes(5);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly int _vni;
    private readonly NodeIdentity _self;
    private readonly IActorRef _publisher;
    private readonly IActorRef _locations;
    private readonly IActorRef _vrfRegion;
    private readonly FdbTable _learned;
    private readonly TimeSpan _agingTick;
    // Read-only copies of the route tables bound to this network's subnets, from their VRF owners.
    private readonly Dictionary<string, VrfRoutes> _vrfs = new(StringComparer.Ordinal);
    // The VRF entity that last answered for each table, watched: when it stops (its node failed, a rebalance), we
    // subscribe again at once and sharding starts it wherever it lives now.
    private readonly Dictionary<string, IActorRef> _vrfOwners = new(StringComparer.Ordinal);
    private readonly VniCounters _counters = new();
    private readonly List<AddressConflictAlarm> _conflicts = new();
    private VtepConfiguration? _config;
    private ImmutableDictionary<string, NodeIdentity> _members = ImmutableDictionary<string, NodeIdentity>.Empty;
    private ImmutableDictionary<string, PortState> _ports = ImmutableDictionary<string, PortState>.Empty;
    private ImmutableDictionary<string, EndpointLocation> _gossip = ImmutableDictionary<string, EndpointLocation>.Empty;
    // Local endpoints announced since the last configuration or port change, with the port that was live then: each is
    // announced once per change, as before announcing waited for the install (the directory ignores repeats).
    private readonly Dictionary<string, (int Port, long Seq)> _announced = new(StringComparer.Ordinal);
    // Ports kept here after their endpoint moved away whose release was asked (the new place is announced).
    private readonly HashSet<string> _released = new(StringComparer.Ordinal);
    private bool _dirty;
    // Endpoints moved by the configuration whose new node has not announced them yet, with the node they left (Build
    // steers there until then); found by comparing each new configuration with the previous one.
    private Dictionary<string, string> _movedFrom = new(StringComparer.Ordinal);
    // This network's endpoints by id, kept from the configuration's changes: a build walks them instead of looking each
    // one up in the fabric-wide map (O(log fabric) and a string compare per level, per endpoint, per build).
    private readonly Dictionary<string, Endpoint> _endpoints = new(StringComparer.Ordinal);
    // The gossiped locations of this VNI by MAC, indexed once per LocationsChanged (whose map is keyed by "vni/mac"
    // strings a build would have to format per endpoint).
    private ImmutableDictionary<string, EndpointLocation>? _indexedGossip;
    private readonly Dictionary<ulong, EndpointLocation> _gossipByMac = new();
    // The snapshot the dataplane forwards with (as last told), and gratuitous ARPs waiting for it to deliver to their MAC.
    private ForwardingSnapshot? _live;
    private readonly Dictionary<MacAddress, (Location Location, Ipv4Address Ip, long At)> _gratuitous = new();
    private bool _rebuildQueued;

    /// <summary>How many times this actor built its VNI's forwarding state (tests check that work follows changes).</summary>
    public sealed record GetBuildCount { public static readonly GetBuildCount Instance = new(); }
    private long _builds;

    public VtepActor(int vni, NodeIdentity self, IActorRef publisher, IActorRef locations, IActorRef vrfRegion, int fdbCapacity, TimeSpan aging)
    {
        _vni = vni;
        _self = self;
        _publisher = publisher;
        _locations = locations;
        _vrfRegion = vrfRegion;
        _learned = new FdbTable(fdbCapacity, (long)aging.TotalMilliseconds);
        _agingTick = TimeSpan.FromMilliseconds(Math.Max(1000, aging.TotalMilliseconds / 4));

        // Local endpoints are announced only once the snapshot that delivers to them is live (NetworkStateInstalled):
        // announcing on the configuration or the port itself would let peers steer here before this node forwards.
        Receive<VtepConfiguration>(c =>
        {
            var tablesChanged = _config is null || !ReferenceEquals(_config.Network.Subnets, c.Network.Subnets);
            if (_config is null || c.ChangedEndpoints is null || _config.NetworkId != c.NetworkId) Resync(_config, c);
            else foreach (var id in c.ChangedEndpoints) Update(id, c);
            _config = c;
            _announced.Clear();
            if (tablesChanged) SubscribeVrfs();
            Changed();
        });
        Receive<VrfRoutes>(r =>
        {
            var (_, table) = VrfActor.Parse(r.VrfId);
            WatchOwner(table, Sender);
            // The same revision is the same answer: the periodic anti-entropy reply of a table that did not change
            // must not rebuild the VNI (at 500 l3 VNIs a node, that was ~8 builds and publishes a second, idle).
            if (_vrfs.TryGetValue(table, out var had) && had.Revision >= r.Revision) return;
            _vrfs[table] = r;
            Changed();
        });
        Receive<Terminated>(t =>
        {
            var lost = false;
            foreach (var (table, owner) in _vrfOwners.ToArray())
                if (owner.Equals(t.ActorRef)) { _vrfOwners.Remove(table); lost = true; }
            if (lost) SubscribeVrfs();
        });
        Receive<Resubscribe>(_ => SubscribeVrfs());
        Receive<MembersUpdated>(m => { _members = m.Members; Changed(); });
        Receive<LocalPortsChanged>(p => { _ports = p.Ports; _announced.Clear(); Changed(); });
        Receive<NetworkStateInstalled>(i =>
        {
            _live = i.Snapshot;
            AnnounceLocal(i.Snapshot);
            AnnounceGratuitous(i.Snapshot);
        });
        Receive<LocationsChanged>(l => { if (l.Vni == _vni) { _gossip = l.Locations; Changed(); } });
        Receive<DataplaneEvents>(e => { foreach (var ev in e.Events) OnEvent(ev); });
        Receive<Rebuild>(_ => { _rebuildQueued = false; if (_dirty) Publish(); });
        Receive<AgeTick>(_ =>
        {
            if (_learned.Age(Environment.TickCount64) > 0) Changed();
            // Aging runs only while there is something to age: an idle VNI costs no timer.
            if (_learned.Count == 0) Timers.Cancel("age");
        });
        Receive<GetLearned>(_ => Sender.Tell(_learned.Entries.ToArray()));
        Receive<GetConflictAlarms>(_ => Sender.Tell(_conflicts.ToArray()));
        Receive<GetBuildCount>(_ => Sender.Tell(_builds));
    }

    protected override void PreStart() => _locations.Tell(new SubscribeLocations(_vni, Self));

    private void WatchOwner(string table, IActorRef owner)
    {
        if (owner.IsNobody() || (_vrfOwners.TryGetValue(table, out var had) && had.Equals(owner))) return;
        if (had is not null && !_vrfOwners.Where(o => o.Key != table).Any(o => o.Value.Equals(had))) Context.Unwatch(had);
        _vrfOwners[table] = owner;
        Context.Watch(owner);
    }

    /// <summary>Route tables bound to a subnet of this network: the ones this node must hold a copy of.</summary>
    private IEnumerable<string> BoundTables()
        => _config is null ? [] : _config.Network.Subnets.Values.Select(s => s.RouteTable).Distinct(StringComparer.Ordinal);

    private void SubscribeVrfs()
    {
        if (_config is null || _config.Network.Network.Kind != IntentKind.L3) return;
        foreach (var t in BoundTables()) _vrfRegion.Tell(new SubscribeVrf(VrfActor.IdOf(_config.NetworkId, t), Self));
        if (!Timers.IsTimerActive("vrf"))
            Timers.StartPeriodicTimer("vrf", Resubscribe.Instance,
                VrfAntiEntropy + TimeSpan.FromMilliseconds(Random.Shared.Next((int)VrfAntiEntropy.TotalMilliseconds)), VrfAntiEntropy);
    }

    /// <summary>The network's subnets in id order: the dataplane's subnet index, which ports carry, is the position here.</summary>
    public static IReadOnlyList<Subnet> SubnetsInOrder(IntentNetworkState n)
        => n.Subnets.Values.OrderBy(s => s.Id, EntityIds.Order).ToArray();

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(int vni, NodeIdentity self, IActorRef publisher, IActorRef locations, IActorRef vrfRegion,
        int fdbCapacity = 16384, TimeSpan? aging = null)
        => Akka.Actor.Props.Create(() => new VtepActor(vni, self, publisher, locations, vrfRegion, fdbCapacity, aging ?? TimeSpan.FromMinutes(5)));

    // The manager says NetworkStateRemoved when it stops us; a restart says it itself and asks for everything again.
    protected override void PostStop() => _locations.Tell(new UnsubscribeLocations(_vni, Self));

    protected override void PreRestart(Exception reason, object message)
    {
        _publisher.Tell(new NetworkStateRemoved(_vni));
        base.PreRestart(reason, message);
    }

    protected override void PostRestart(Exception reason)
    {
        base.PostRestart(reason);
        Context.Parent.Tell(new VtepRestarted(_vni));
    }

    /// <summary>
    /// Takes every endpoint of <paramref name="next"/> (a first or reset configuration, or one that does not say what
    /// changed): O(network). Records the endpoints it moves to another node, with the node they leave, and keeps those
    /// still waiting for their new node's announcement (Build drops them once it is here).
    /// </summary>
    private void Resync(VtepConfiguration? previous, VtepConfiguration next)
    {
        _endpoints.Clear();
        foreach (var e in next.Endpoints) _endpoints[e.Id] = e;
        if (previous is null) return;
        var movedFrom = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var e in _endpoints.Values)
            if (MovedFrom(previous.State.Endpoints.GetValueOrDefault(e.Id), e) is { } from) movedFrom[e.Id] = from;
        _movedFrom = movedFrom;
    }

    /// <summary>One endpoint the configuration says changed (created, moved, deleted): O(log fabric), whatever the network's size.</summary>
    private void Update(string id, VtepConfiguration next)
    {
        _endpoints.TryGetValue(id, out var had);
        var now = next.State.Endpoints.TryGetValue(id, out var e) && e.Network == next.NetworkId ? e : null;
        if (now is null) { _endpoints.Remove(id); _movedFrom.Remove(id); return; }
        _endpoints[id] = now;
        if (MovedFrom(had, now) is { } from) _movedFrom[id] = from;
        else _movedFrom.Remove(id);
    }

    /// <summary>
    /// The node an endpoint left and whose announcement is still awaited: the one it had before, if this change moved it;
    /// else the one already recorded, while no later move (nor re-creation) superseded it; else none.
    /// </summary>
    private string? MovedFrom(Endpoint? had, Endpoint now)
    {
        if (had is not null && had.Node != now.Node && had.MoveSeq < now.MoveSeq) return had.Node;
        return _movedFrom.TryGetValue(now.Id, out var from) && (had is null || had.MoveSeq == now.MoveSeq) ? from : null;
    }

    private void Changed()
    {
        _dirty = true;
        if (_rebuildQueued) return;
        _rebuildQueued = true;
        Self.Tell(Rebuild.Instance); // behind whatever is queued already: a burst of changes is one rebuild
    }

    /// <summary>
    /// Tells the directory where this node's configured endpoints of the VNI are, here, for those the installed
    /// <paramref name="live"/> snapshot delivers to (their port and their local entry are in it).
    /// </summary>
    private void AnnounceLocal(ForwardingSnapshot live)
    {
        if (_config is null || !live.TryGetNetwork(_vni, out var net)) return;
        // Only this VNI's local ports are candidates (keyed by endpoint id): O(local ports of the VNI), not O(network).
        foreach (var (id, port) in _ports)
        {
            if (!_endpoints.TryGetValue(id, out var e) || e.Node != _self.Name) continue;
            if (_announced.TryGetValue(e.Id, out var done) && done == (port.Id, e.MoveSeq)) continue;
            if (live.Port(port.Id) is null || !net.Fdb.TryGet(e.Mac, out var entry) || entry.Location != Location.Local(port.Id)) continue;
            _announced[e.Id] = (port.Id, e.MoveSeq);
            _locations.Tell(new AnnounceLocation(new EndpointLocation(_vni, e.Mac, e.Ip ?? default, _self.Vtep, _self.Name, e.MoveSeq, LocationOrigin.Config)));
        }
    }

    /// <summary>
    /// Announces the gratuitous ARPs seen on local ports whose MAC the live snapshot delivers at that port; the directory
    /// raises the mobility sequence when it moved here. Older than 10 s and still not delivered: dropped.
    /// </summary>
    private void AnnounceGratuitous(ForwardingSnapshot live)
    {
        if (_gratuitous.Count == 0 || !live.TryGetNetwork(_vni, out var net)) return;
        var now = Environment.TickCount64;
        foreach (var (mac, (location, ip, at)) in _gratuitous.ToArray())
        {
            if (net.Fdb.TryGet(mac, out var entry) && entry.Location == location)
            {
                _gratuitous.Remove(mac);
                var current = _gossip.TryGetValue(EndpointLocation.KeyOf(_vni, mac), out var known) ? known.Seq : 0;
                var moved = known is not null && known.Vtep != _self.Vtep;
                _locations.Tell(new AnnounceLocation(new EndpointLocation(_vni, mac, ip, _self.Vtep, _self.Name,
                    moved ? current + 1 : current, LocationOrigin.GratuitousArp)));
            }
            else if (now - at > 10_000) _gratuitous.Remove(mac);
        }
    }

    private void OnEvent(in DataplaneEvent ev)
    {
        switch (ev.Kind)
        {
            case DataplaneEventKind.MacLearned when _config?.Network.Network.Kind == IntentKind.L2:
                var update = _learned.Learn(ev.Mac, ev.Location, Environment.TickCount64);
                if (update is FdbUpdate.Added or FdbUpdate.Moved) Changed();
                if (_learned.Count > 0 && !Timers.IsTimerActive("age")) Timers.StartPeriodicTimer("age", AgeTick.Instance, _agingTick);
                // A MAC learned on one of our ports is ours to announce; remote ones are their node's to announce.
                if (ev.Location.IsLocal && update is FdbUpdate.Added or FdbUpdate.Moved)
                    _locations.Tell(new AnnounceLocation(new EndpointLocation(_vni, ev.Mac, default, _self.Vtep, _self.Name, 0, LocationOrigin.Learned)));
                break;
            case DataplaneEventKind.GratuitousArp when ev.Location.IsLocal:
                // The owner announces itself here (a move or takeover). A configured endpoint's announcement waits until a
                // live snapshot delivers to it at that port: a guest's announcement can reach the dataplane before this
                // VNI's state holds it (its port installed, its entry not yet rebuilt), and peers that followed it then
                // would lose frames.
                // Only an endpoint the configuration places here has a local entry that its port and the configuration
                // make (so waiting for it is safe); any other MAC (learned behind a port, a VM the fabric does not know)
                // becomes local here only through this very announcement, so it is announced at once, as before.
                if (_config is not null && _config.Network.Endpoints.ByMac.TryGetValue(ev.Mac, out var id)
                    && _config.State.Endpoints.TryGetValue(id, out var configured) && configured.Node == _self.Name)
                {
                    _gratuitous[ev.Mac] = (ev.Location, ev.Ip, Environment.TickCount64);
                    if (_live is not null) AnnounceGratuitous(_live);
                    break;
                }
                var current = _gossip.TryGetValue(EndpointLocation.KeyOf(_vni, ev.Mac), out var known) ? known.Seq : 0;
                var moved = known is not null && known.Vtep != _self.Vtep;
                _locations.Tell(new AnnounceLocation(new EndpointLocation(_vni, ev.Mac, ev.Ip, _self.Vtep, _self.Name,
                    moved ? current + 1 : current, LocationOrigin.GratuitousArp)));
                break;
            case DataplaneEventKind.AddressConflict:
                var alarm = new AddressConflictAlarm(_vni, ev.Ip, ev.Mac, ev.OtherMac, _self.Name, DateTimeOffset.UtcNow);
                if (_conflicts.Count >= 1000) _conflicts.RemoveAt(0);
                _conflicts.Add(alarm);
                Context.System.EventStream.Publish(alarm);
                _log.Warning("address conflict in VNI {0}: {1} claims {2}, owned by {3}", _vni, ev.Mac, ev.Ip, ev.OtherMac);
                break;
        }
    }

    private void Publish()
    {
        if (_config is null) return;
        _dirty = false;
        _builds++;
        try
        {
            _publisher.Tell(new NetworkStateBuilt(_vni, Build(_config)));
        }
        catch (Exception e)
        {
            // A configuration the dataplane cannot take must never stop the VNI: keep forwarding on the last state.
            _log.Error(e, "VNI {0}: could not build forwarding state; keeping the previous one", _vni);
        }
    }

    private NetworkState Build(VtepConfiguration c)
    {
        var net = c.Network.Network;
        var b = new NetworkStateBuilder(_vni, net.Name, net.Kind == IntentKind.L3 ? DpKind.L3 : DpKind.L2, net.Cidr)
        {
            LocalVtep = _self.Vtep,
            Counters = _counters,
            FdbCapacity = _learned.Capacity,
        };
        // Every cluster node may send to us; only nodes that host an endpoint of this VNI get its floods.
        foreach (var m in _members.Values) b.AcceptFrom(m.Vtep);
        foreach (var x in c.Network.ExternalVteps.OrderBy(v => v.Address).ThenBy(v => v.Port)) b.Member(new VtepEndpoint(x.Address, (ushort)x.Port));
        foreach (var s in SubnetsInOrder(c.Network)) b.Subnet(s.Id, s.Cidr, s.RouteTable);
        // Routes come from the VRF owners' copies, not from our own reading of the configuration: one node
        // resolves each table, every host of a bound subnet forwards with the same answer.
        foreach (var t in c.Network.RouteTables.Keys.Order(StringComparer.Ordinal))
        {
            b.RouteTable(t);
            if (!_vrfs.TryGetValue(t, out var copy) || !copy.Exists) continue;
            foreach (var r in copy.Routes)
            {
                var target = r.Kind switch
                {
                    Intent.RouteTargetKind.Endpoint => DpRouteTarget.ToEndpoint(r.EndpointMac),
                    Intent.RouteTargetKind.Network => DpRouteTarget.ToNetwork(r.Vni),
                    _ => DpRouteTarget.Blackhole,
                };
                b.Route(t, r.Destination, target);
            }
        }

        if (!ReferenceEquals(_indexedGossip, _gossip))
        {
            _gossipByMac.Clear();
            foreach (var l in _gossip.Values) if (l.Vni == _vni) _gossipByMac[l.Mac.Value] = l;
            _indexedGossip = _gossip;
        }
        b.Reserve(_endpoints.Count + _gossipByMac.Count);
        var configured = new HashSet<ulong>(_endpoints.Count);
        foreach (var e in _endpoints.Values)
        {
            configured.Add(e.Mac.Value);
            var ip = e.Ip ?? default;
            if (e.Node == _self.Name)
            {
                if (_ports.TryGetValue(e.Id, out var port))
                {
                    b.Endpoint(e.Mac, ip, Location.Local(port.Id), EntrySource.Config, e.MoveSeq);
                }
                continue;
            }
            _gossipByMac.TryGetValue(e.Mac.Value, out var g);
            // Moved away by the configuration, and its port still plugged here (make-before-break): this node keeps
            // delivering to it until the new node has announced it. From then on senders here go to the new node at
            // once, while frames peers sent before they switched still drain to the old port until the port manager
            // lets it go (a short grace): the move is as fast as the announcement, not the grace.
            if (_ports.TryGetValue(e.Id, out var leaving))
            {
                if (g is not null && g.Vtep != _self.Vtep && g.Seq >= e.MoveSeq)
                {
                    b.Endpoint(e.Mac, ip, Location.Remote(g.Vtep), EntrySource.Gossip, g.Seq);
                    b.Member(g.Vtep);
                    b.Draining(e.Mac, leaving.Id);
                    if (_released.Add(e.Id)) Context.Parent.Tell(new ReleaseMovedPort(e.Id));
                }
                else b.Endpoint(e.Mac, ip, Location.Local(leaving.Id), EntrySource.Config, g?.Seq ?? e.MoveSeq);
                continue;
            }
            // Remote: gossip wins when it is at least as new as the configuration (a GARP-announced move).
            if (g is not null && g.Seq >= e.MoveSeq && _members.ContainsKey(g.Node))
            {
                _movedFrom.Remove(e.Id);
                if (g.Vtep != _self.Vtep) { b.Endpoint(e.Mac, ip, Location.Remote(g.Vtep), EntrySource.Gossip, g.Seq); b.Member(g.Vtep); }
            }
            // Moved by the configuration but not yet announced by its new node (which announces only once it
            // delivers): keep steering to where it was announced; that node keeps delivering until the new one is up.
            else if (g is not null && g.Node != e.Node && g.Vtep != _self.Vtep && _members.ContainsKey(g.Node))
            {
                b.Endpoint(e.Mac, ip, Location.Remote(g.Vtep), EntrySource.Gossip, g.Seq);
                b.Member(g.Vtep);
            }
            // Moved by the configuration, its new node not yet announced and the old one's announcement not (yet) here:
            // steer to the old node, which keeps its port until the new node has announced it.
            else if (_movedFrom.TryGetValue(e.Id, out var oldNode) && oldNode != _self.Name && _members.TryGetValue(oldNode, out var oldHost))
            {
                b.Endpoint(e.Mac, ip, Location.Remote(oldHost.Vtep), EntrySource.Gossip, Math.Max(0, e.MoveSeq - 1));
                b.Member(oldHost.Vtep);
            }
            else if (_members.TryGetValue(e.Node, out var host))
            {
                b.Endpoint(e.Mac, ip, Location.Remote(host.Vtep), EntrySource.Gossip, e.MoveSeq);
                b.Member(host.Vtep);
            }
            // else: the hosting node is not in the cluster: its endpoints are withdrawn until it is back.
        }
        // Locations learned elsewhere (l2 MACs behind a port without source check, external hosts): this VNI's map only.
        foreach (var g in _gossipByMac.Values)
        {
            if (configured.Contains(g.Mac.Value) || g.Vtep == _self.Vtep || !_members.ContainsKey(g.Node)) continue;
            b.Endpoint(g.Mac, g.Ip, Location.Remote(g.Vtep), EntrySource.Gossip, g.Seq);
            b.Member(g.Vtep);
        }
        foreach (var p in _ports.Values) b.LocalPort(p.Id);
        _released.IntersectWith(_ports.Keys);
        return b.Build(_learned.Entries);
    }
}
