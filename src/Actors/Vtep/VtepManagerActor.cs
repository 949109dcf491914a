using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster;
using Fabric.Actors.Intent;
using Fabric.Actors.Locations;
using Fabric.Actors.Node;
using Fabric.Dataplane.Packets;

namespace Fabric.Actors.Vtep;

/// <summary>
/// Parent of this node's VTEP actors (<c>vteps/vtep-5001</c>, one per VNI of the configuration). It cuts the
/// configuration into per-VNI slices, follows cluster membership, and fans gossip, ports and dataplane events out
/// to the VNI they concern. A VTEP actor that fails is restarted (its learned table is soft state).
/// </summary>
public sealed class VtepManagerActor : ReceiveActor
{
    private readonly NodeIdentity _self;
    private readonly IActorRef _publisher;
    private readonly IActorRef _locations;
    private readonly IActorRef _vrfRegion;
    private readonly int _fdbCapacity;
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly Dictionary<int, IActorRef> _vteps = new();
    private readonly Dictionary<UniqueAddress, Member> _known = new();
    private ImmutableDictionary<string, NodeIdentity> _members = ImmutableDictionary<string, NodeIdentity>.Empty;
    private ImmutableDictionary<string, Dataplane.Tables.PortState> _ports = ImmutableDictionary<string, Dataplane.Tables.PortState>.Empty;
    private ImmutableDictionary<string, int> _vniOfEndpoint = ImmutableDictionary<string, int>.Empty;
    private LocationsChanged? _locationsMsg;
    private IActorRef _portManager = ActorRefs.Nobody;

    public VtepManagerActor(NodeIdentity self, IActorRef publisher, IActorRef locations, IActorRef vrfRegion, int fdbCapacity)
    {
        _self = self;
        _publisher = publisher;
        _locations = locations;
        _vrfRegion = vrfRegion;
        _fdbCapacity = fdbCapacity;

        Receive<ConfigurationUpdated>(OnConfiguration);
        Receive<LocalPortsChanged>(p =>
        {
            _portManager = Sender;
            _ports = p.Ports;
            foreach (var (vni, vtep) in _vteps) vtep.Tell(PortsOf(vni));
        });
        Receive<LocationsChanged>(l =>
        {
            _locationsMsg = l;
            foreach (var v in _vteps.Values) v.Tell(l);
        });
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
        Receive<GetVtep>(g => Sender.Tell(_vteps.TryGetValue(g.Vni, out var v) ? v : ActorRefs.Nobody));
    }

    public static Props Props(NodeIdentity self, IActorRef publisher, IActorRef locations, IActorRef vrfRegion, int fdbCapacity = 16384)
        => Akka.Actor.Props.Create(() => new VtepManagerActor(self, publisher, locations, vrfRegion, fdbCapacity));

    protected override void PreStart()
    {
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot, typeof(ClusterEvent.IMemberEvent));
        _locations.Tell(new SubscribeLocations(Self));
    }

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

    private LocalPortsChanged PortsOf(int vni)
        => new(_ports.Where(p => p.Value.Vni == vni).ToImmutableDictionary());

    private void OnConfiguration(ConfigurationUpdated u)
    {
        var l = u.Listing;
        var vniByNetwork = l.Networks.ToImmutableDictionary(n => n.Id, n => n.Vni);
        var macByEndpoint = l.Endpoints.ToImmutableDictionary(e => e.Id, e => e.Mac);
        var byNetwork = l.Endpoints.GroupBy(e => e.Network).ToDictionary(g => g.Key, g => g.ToImmutableArray());
        _vniOfEndpoint = l.Endpoints.Where(e => vniByNetwork.ContainsKey(e.Network)).ToImmutableDictionary(e => e.Id, e => vniByNetwork[e.Network]);
        var present = new HashSet<int>();
        foreach (var n in l.Networks)
        {
            present.Add(n.Vni);
            if (!_vteps.TryGetValue(n.Vni, out var vtep))
            {
                vtep = Context.ActorOf(VtepActor.Props(n.Vni, _self, _publisher, _locations, _vrfRegion, _fdbCapacity), $"vtep-{n.Vni}");
                _vteps[n.Vni] = vtep;
                vtep.Tell(new MembersUpdated(_members));
                vtep.Tell(PortsOf(n.Vni));
                if (_locationsMsg is not null) vtep.Tell(_locationsMsg);
            }
            vtep.Tell(new VtepConfiguration(n, byNetwork.GetValueOrDefault(n.Id, ImmutableArray<Endpoint>.Empty), vniByNetwork, macByEndpoint));
        }
        foreach (var gone in _vteps.Keys.Where(v => !present.Contains(v)).ToArray())
        {
            Context.Stop(_vteps[gone]);
            _vteps.Remove(gone);
        }
    }
}

public sealed record GetVtep(int Vni) : IFabricMessage;
