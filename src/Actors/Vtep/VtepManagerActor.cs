using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster;
using Fabric.Actors.Intent;
using Fabric.Actors.Node;
using Fabric.Dataplane.Tables;
using IntentNetworkState = Fabric.Actors.Intent.NetworkState;

namespace Fabric.Actors.Vtep;

/// <summary>
/// Parent of this node's VTEP actors (<c>vteps/vtep-5001</c>, one per VNI of the networks this node's projection
/// holds). It tells each VTEP actor only what concerns its network: from a configuration update's events it finds the
/// networks they touch and sends those (and only those) a <see cref="VtepConfiguration"/> (references to the
/// projection, no copies); a reset reconciles every network. It follows cluster membership and fans ports and
/// dataplane events out to the VNI they concern, keeping each VNI's ports incrementally. Each VTEP actor subscribes to
/// its own VNI's locations. A VTEP actor that fails is restarted (its learned table is soft state).
/// </summary>
/// <remarks>
/// Cost per configuration change: O(events × log) to find the networks touched, one message per touched network;
/// nothing for the others. Per port change: O(changed ports × log), one message per touched VNI. A membership change
/// goes to every VTEP actor here (each accepts traffic from every member).
/// </remarks>
public sealed class VtepManagerActor : ReceiveActor
{
    private readonly NodeIdentity _self;
    private readonly IActorRef _publisher;
    private readonly IActorRef _locations;
    private readonly IActorRef _vrfRegion;
    private readonly int _fdbCapacity;
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly Dictionary<int, IActorRef> _vteps = new();
    // The network each VTEP actor serves (network id → VNI) while the projection holds it.
    private readonly Dictionary<string, int> _vniOfNetwork = new(StringComparer.Ordinal);
    // VNIs whose network left the projection while a port of theirs was still here (a moved endpoint's leaving port,
    // make-before-break): their VTEP actor stays on its last configuration until the last port goes.
    private readonly HashSet<int> _lingering = new();
    private readonly Dictionary<UniqueAddress, Member> _known = new();
    private ImmutableDictionary<string, NodeIdentity> _members = ImmutableDictionary<string, NodeIdentity>.Empty;
    private ImmutableDictionary<string, PortState> _ports = ImmutableDictionary<string, PortState>.Empty;
    private readonly Dictionary<int, ImmutableDictionary<string, PortState>> _portsByVni = new();
    // What each VTEP actor was last told (references), to tell it again after it restarts.
    private readonly Dictionary<int, VtepConfiguration> _configs = new();
    private int _incarnation;
    private FabricConfiguration? _state;
    private IActorRef _portManager = ActorRefs.Nobody;

    public VtepManagerActor(NodeIdentity self, IActorRef publisher, IActorRef locations, IActorRef vrfRegion, int fdbCapacity)
    {
        _self = self;
        _publisher = publisher;
        _locations = locations;
        _vrfRegion = vrfRegion;
        _fdbCapacity = fdbCapacity;

        Receive<ConfigurationUpdated>(OnConfiguration);
        Receive<LocalPortsChanged>(OnPorts);
        // A VTEP actor saw a moved endpoint announced at its new node: the port it kept delivering to may go.
        Receive<ReleaseMovedPort>(r => _portManager.Tell(r));
        Receive<DataplaneEvents>(e => { if (_vteps.TryGetValue(e.Vni, out var v)) v.Forward(e); });
        // Membership is tracked from the events themselves: Cluster.State is updated by another actor and may lag.
        Receive<ClusterEvent.CurrentClusterState>(s =>
        {
            _known.Clear();
            foreach (var m in s.Members) _known[m.UniqueAddress] = m;
            SetMembers();
        });
        Receive<ClusterEvent.IMemberEvent>(e =>
        {
            if (e is ClusterEvent.MemberRemoved) _known.Remove(e.Member.UniqueAddress);
            else _known[e.Member.UniqueAddress] = e.Member;
            SetMembers();
        });
        Receive<ClusterEvent.UnreachableMember>(_ => { });
        Receive<ClusterEvent.ReachableMember>(_ => { });
        // A restarted VTEP actor lost everything it was told: tell it again (its learned table is soft state).
        Receive<VtepRestarted>(r =>
        {
            if (!_vteps.TryGetValue(r.Vni, out var v) || !v.Equals(Sender)) return;
            v.Tell(new MembersUpdated(_members));
            v.Tell(new LocalPortsChanged(PortsOf(r.Vni)));
            if (_configs.TryGetValue(r.Vni, out var c)) v.Tell(c);
        });
        Receive<GetVtep>(g => Sender.Tell(_vteps.TryGetValue(g.Vni, out var v) ? v : ActorRefs.Nobody));
    }

    public static Props Props(NodeIdentity self, IActorRef publisher, IActorRef locations, IActorRef vrfRegion, int fdbCapacity = 16384)
        => Akka.Actor.Props.Create(() => new VtepManagerActor(self, publisher, locations, vrfRegion, fdbCapacity));

    protected override void PreStart()
        => _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot, typeof(ClusterEvent.IMemberEvent));

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    protected override SupervisorStrategy SupervisorStrategy()
        => new OneForOneStrategy(maxNrOfRetries: 10, withinTimeRange: TimeSpan.FromMinutes(1), localOnlyDecider: _ => Directive.Restart);

    private void SetMembers()
    {
        var d = ImmutableDictionary.CreateBuilder<string, NodeIdentity>();
        foreach (var m in _known.Values)
            if (m.Status is MemberStatus.Up or MemberStatus.Joining or MemberStatus.WeaklyUp or MemberStatus.Leaving
                && NodeIdentity.Of(m) is { } id)
                d[id.Name] = id;
        _members = d.ToImmutable();
        var msg = new MembersUpdated(_members);
        foreach (var v in _vteps.Values) v.Tell(msg);
    }

    private ImmutableDictionary<string, PortState> PortsOf(int vni)
        => _portsByVni.GetValueOrDefault(vni) ?? ImmutableDictionary<string, PortState>.Empty;

    /// <summary>Keeps the per-VNI port maps from the ports that changed, and tells only the VTEP actors of those VNIs.</summary>
    private void OnPorts(LocalPortsChanged p)
    {
        _portManager = Sender;
        var touched = new HashSet<int>();
        foreach (var id in p.Changed ?? Differing(_ports, p.Ports))
        {
            if (_ports.TryGetValue(id, out var old)) { Set(old.Vni, PortsOf(old.Vni).Remove(id)); touched.Add(old.Vni); }
            if (p.Ports.TryGetValue(id, out var now)) { Set(now.Vni, PortsOf(now.Vni).SetItem(id, now)); touched.Add(now.Vni); }
        }
        _ports = p.Ports;
        foreach (var vni in touched)
        {
            if (!_vteps.TryGetValue(vni, out var vtep)) continue;
            if (_lingering.Contains(vni) && PortsOf(vni).IsEmpty) Stop(vni);
            else vtep.Tell(new LocalPortsChanged(PortsOf(vni)));
        }

        void Set(int vni, ImmutableDictionary<string, PortState> ports)
        {
            if (ports.IsEmpty) _portsByVni.Remove(vni);
            else _portsByVni[vni] = ports;
        }
    }

    /// <summary>A sender that did not say what changed: compare (O(local ports), by reference first).</summary>
    private static IEnumerable<string> Differing(ImmutableDictionary<string, PortState> before, ImmutableDictionary<string, PortState> after)
    {
        foreach (var (id, p) in after)
            if (!before.TryGetValue(id, out var had) || !ReferenceEquals(had, p) && had != p) yield return id;
        foreach (var id in before.Keys)
            if (!after.ContainsKey(id)) yield return id;
    }

    private void OnConfiguration(ConfigurationUpdated u)
    {
        var state = u.State;
        if (u.Reset)
        {
            foreach (var n in state.Networks.Values) Configure(n, state);
            foreach (var gone in _vniOfNetwork.Keys.Where(id => !state.Networks.ContainsKey(id)).ToArray()) Release(gone, null);
        }
        else
        {
            // Per touched network, the endpoints that changed (null: look at all of them, e.g. the network is new here).
            var touched = new Dictionary<string, HashSet<string>?>(StringComparer.Ordinal);
            Dictionary<string, string>? created = null;
            var releasing = false;
            foreach (var e in u.Events)
            {
                if (e is EndpointCreated c) (created ??= new(StringComparer.Ordinal))[c.Endpoint.Id] = c.Endpoint.Network;
                if (e is NetworkReleased or NetworkDeleted) releasing = true;
                if (e is EndpointDeleted d) WithdrawIfHostedHere(d.EndpointId);
                if (NetworkOf(e, state, created) is not { } id) continue;
                var endpoint = e switch { EndpointCreated x => x.Endpoint.Id, EndpointMoved x => x.EndpointId, EndpointDeleted x => x.EndpointId, _ => null };
                if (e is NetworkCreated) touched[id] = null;
                else if (!touched.TryGetValue(id, out var ids)) touched[id] = endpoint is null ? [] : new(StringComparer.Ordinal) { endpoint };
                else if (endpoint is not null) ids?.Add(endpoint);
            }
            var frozen = releasing ? LastStatesOfReleased(u.Events) : null;
            foreach (var (id, changed) in touched)
            {
                if (state.Networks.TryGetValue(id, out var n)) Configure(n, state, changed);
                else Release(id, frozen?.GetValueOrDefault(id));
            }
        }
        _state = state;
    }

    /// <summary>
    /// An endpoint this node hosted was deleted: its location goes from the VNI's directory (which keeps an entry until
    /// its owner withdraws it or leaves the cluster; other nodes would otherwise keep steering its MAC here).
    /// </summary>
    private void WithdrawIfHostedHere(string endpointId)
    {
        if (_state is not null && _state.Endpoints.TryGetValue(endpointId, out var gone) && gone.Node == _self.Name
            && _state.Networks.TryGetValue(gone.Network, out var network))
            _locations.Tell(new Locations.WithdrawLocation(network.Network.Vni, gone.Mac));
    }

    /// <summary>The network an event concerns; an endpoint deleted or moved is looked up now, before, or in this batch.</summary>
    private string? NetworkOf(ConfigurationEvent e, FabricConfiguration state, Dictionary<string, string>? created)
        => ConfigurationEvent.NetworkOf(e, id => EndpointNetwork(id, state, created));

    private string? EndpointNetwork(string id, FabricConfiguration state, Dictionary<string, string>? created)
        => state.Endpoints.TryGetValue(id, out var e) ? e.Network
            : _state is not null && _state.Endpoints.TryGetValue(id, out var before) ? before.Network
            : created?.GetValueOrDefault(id);

    /// <summary>
    /// For networks released in this batch that still have a port here: the projection just before their release
    /// (the previous state with the batch's earlier events applied), so their lingering VTEP actor sees the move that
    /// made the port leave and can let it go once the new node announces it. Only runs when such a network exists.
    /// </summary>
    private Dictionary<string, FabricConfiguration>? LastStatesOfReleased(IReadOnlyList<ConfigurationEvent> events)
    {
        if (_state is null) return null;
        bool Keeps(string id) => _vniOfNetwork.TryGetValue(id, out var vni) && _portsByVni.ContainsKey(vni);
        var any = false;
        foreach (var e in events) if (e is NetworkReleased r && Keeps(r.NetworkId)) { any = true; break; }
        if (!any) return null;
        var result = new Dictionary<string, FabricConfiguration>(StringComparer.Ordinal);
        var s = _state;
        try
        {
            foreach (var e in events)
            {
                if (e is NetworkReleased r && Keeps(r.NetworkId)) result[r.NetworkId] = s;
                s = s.Apply(e);
            }
        }
        catch (Exception)
        {
            // The batch does not follow from what we had (should not happen): the VTEP keeps its last configuration.
        }
        return result;
    }

    private void Configure(IntentNetworkState n, FabricConfiguration state, IReadOnlyCollection<string>? changedEndpoints = null)
    {
        var vni = n.Network.Vni;
        _vniOfNetwork[n.Network.Id] = vni;
        _lingering.Remove(vni);
        if (!_vteps.TryGetValue(vni, out var vtep))
        {
            // A VTEP actor of this VNI stopped a moment ago may still hold the name until it has terminated.
            var name = Context.Child($"vtep-{vni}").IsNobody() ? $"vtep-{vni}" : $"vtep-{vni}-{++_incarnation}";
            vtep = Context.ActorOf(VtepActor.Props(vni, _self, _publisher, _locations, _vrfRegion, _fdbCapacity), name);
            _vteps[vni] = vtep;
            vtep.Tell(new MembersUpdated(_members));
            vtep.Tell(new LocalPortsChanged(PortsOf(vni)));
            changedEndpoints = null; // a new actor takes all of them
        }
        Tell(vni, vtep, new VtepConfiguration(n, state, changedEndpoints));
    }

    private void Tell(int vni, IActorRef vtep, VtepConfiguration c)
    {
        // Kept to tell a restarted actor everything again: that one must look at all endpoints.
        _configs[vni] = c.ChangedEndpoints is null ? c : c with { ChangedEndpoints = null };
        vtep.Tell(c);
    }

    private void Release(string networkId, FabricConfiguration? lastState)
    {
        if (!_vniOfNetwork.Remove(networkId, out var vni) || !_vteps.TryGetValue(vni, out var vtep)) return;
        if (_portsByVni.ContainsKey(vni))
        {
            // Make-before-break: a port of the VNI is still here (leaving); the VTEP actor keeps delivering to it.
            _lingering.Add(vni);
            if (lastState is not null && lastState.Networks.TryGetValue(networkId, out var last)) Tell(vni, vtep, new VtepConfiguration(last, lastState));
            return;
        }
        Stop(vni);
    }

    private void Stop(int vni)
    {
        if (!_vteps.Remove(vni, out var vtep)) return;
        _lingering.Remove(vni);
        _configs.Remove(vni);
        Context.Stop(vtep);
        // Said here, not by the stopping actor: a new VTEP actor of the VNI may build before that one has stopped. It is
        // named: a state it was building as the stop came may reach the publisher after this, and must be ignored.
        _publisher.Tell(new NetworkStateRemoved(vni, vtep));
    }
}

public sealed record GetVtep(int Vni) : IFabricMessage;

/// <summary>A VTEP actor restarted after a failure and needs its configuration, members and ports again.</summary>
public sealed record VtepRestarted(int Vni);
