using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Fabric.Dataplane.Packets;

namespace Fabric.Actors.Locations;

/// <summary>A local VTEP actor tells where an endpoint now is (config, learning, or a gratuitous ARP move).</summary>
public sealed record AnnounceLocation(EndpointLocation Location) : IFabricMessage;

/// <summary>
/// The endpoint this node announced is gone (deleted): remove its location everywhere, unless another node has
/// announced it since (the directory withdraws only this node's entry).
/// </summary>
public sealed record WithdrawLocation(int Vni, MacAddress Mac) : IFabricMessage;

/// <summary>A node left or was downed: remove every location it announced (in the VNIs this node follows).</summary>
public sealed record WithdrawNode(string Node) : IFabricMessage;

/// <summary>
/// <paramref name="Subscriber"/> wants VNI <paramref name="Vni"/>'s locations: the current map at once, then every change.
/// The directory follows a VNI's replicated map only while it has a subscriber for it.
/// </summary>
public sealed record SubscribeLocations(int Vni, IActorRef Subscriber) : IFabricMessage;

public sealed record UnsubscribeLocations(int Vni, IActorRef Subscriber) : IFabricMessage;

/// <summary>One VNI's current locations (keyed by <see cref="EndpointLocation.KeyOf"/>), sent to that VNI's subscribers only.</summary>
public sealed record LocationsChanged(int Vni, ImmutableDictionary<string, EndpointLocation> Locations) : IFabricMessage;

/// <summary>The announce was not applied because the MAC is frozen by duplicate detection.</summary>
public sealed record LocationRefused(EndpointLocation Location, string Reason) : IFabricMessage;

/// <summary>
/// Asks for one VNI's locations (answered with <see cref="LocationsChanged"/>; a VNI nobody here follows is read from the
/// local replica), or, with no VNI, those of every VNI this node follows, merged (Vni 0 in the answer).
/// </summary>
public sealed record GetLocations(int? Vni) : IFabricMessage { public static readonly GetLocations Followed = new((int?)null); }
public sealed record GetMobilityAlarms : IFabricMessage { public static readonly GetMobilityAlarms Instance = new(); }
public sealed record ClearMobilityFreeze(int Vni, MacAddress Mac) : IFabricMessage;

/// <summary>
/// This node's window on endpoint locations: for every VNI a local actor subscribed to, it follows that VNI's sharded
/// directory (<see cref="VniLocationsActor"/>, one entity per VNI somewhere in the cluster), keeps the VNI's map from
/// its snapshot and numbered deltas, and hands the map to the local subscribers, coalesced per mailbox drain. Announces
/// and withdrawals go to the VNI's entity, which decides sequences and duplicate MACs once for the whole fabric.
/// One per node, named <c>locations</c>.
/// </summary>
/// <remarks>
/// Cost per change at 100,000 endpoints on 1,000 nodes: a node that follows the VNI applies one delta, O(changed
/// entries × log n), and rebuilds the VNI's map reference for its local subscribers; a node that does not follow the
/// VNI receives nothing. Recovery: a delta out of order (a lost message) or the entity's termination (its host died,
/// sharding moved it) makes this node subscribe again, re-sending the entries it owns, and take a fresh snapshot; after
/// a new incarnation's snapshot, entries it lacks are kept for a grace period (5 s) while their owners re-send them.
/// A member that becomes reachable again may have missed deltas: the VNIs whose entity it hosts are re-subscribed.
/// </remarks>
public sealed class LocationDirectoryActor : ReceiveActor, IWithTimers
{
    public static readonly TimeSpan DefaultStaleGrace = TimeSpan.FromSeconds(5);

    /// <summary>What this node knows of one followed VNI.</summary>
    private sealed class Followed
    {
        public readonly HashSet<IActorRef> Subscribers = new();
        public ImmutableDictionary<string, EndpointLocation> Current = ImmutableDictionary.Create<string, EndpointLocation>(StringComparer.Ordinal);
        public long Epoch;
        public long Seq;
        public IActorRef? Entity;
        public HashSet<string>? Stale;
    }

    private sealed record Read(int Vni, IActorRef ReplyTo, ImmutableDictionary<string, EndpointLocation> Locations);
    private sealed record FlushSubscribers { public static readonly FlushSubscribers Instance = new(); }
    private sealed record DropStale(int Vni, long Epoch);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly IActorRef _shards;
    private readonly long _uid;
    private readonly TimeSpan _staleGrace;
    private readonly Dictionary<int, Followed> _vnis = new();
    private readonly Dictionary<IActorRef, int> _vniOfEntity = new();
    // The entries this node announced and still owns, by VNI: what a new incarnation of a VNI's entity is rebuilt from.
    private readonly Dictionary<int, Dictionary<string, EndpointLocation>> _locals = new();
    private readonly HashSet<int> _dirty = new();
    private readonly List<DuplicateMacAlarm> _alarms = new();

    public ITimerScheduler Timers { get; set; } = null!;

    public LocationDirectoryActor(IActorRef shards, TimeSpan? staleGrace = null)
    {
        _shards = shards;
        _staleGrace = staleGrace ?? DefaultStaleGrace;
        _uid = _cluster.SelfUniqueAddress.Uid;

        Receive<AnnounceLocation>(a => Announce(a.Location));
        Receive<WithdrawLocation>(w =>
        {
            var key = EndpointLocation.KeyOf(w.Vni, w.Mac);
            if (_locals.TryGetValue(w.Vni, out var mine) && mine.Remove(key) && mine.Count == 0) _locals.Remove(w.Vni);
            _shards.Tell(new VniWithdraw(w.Vni, w.Mac, _uid));
        });
        Receive<WithdrawNode>(w =>
        {
            foreach (var vni in _vnis.Keys) _shards.Tell(new VniWithdrawNode(vni, w.Node));
        });
        Receive<SubscribeLocations>(s => Subscribe(s.Vni, s.Subscriber));
        Receive<UnsubscribeLocations>(u => Unsubscribe(u.Vni, u.Subscriber));
        Receive<VniLocationsSnapshot>(OnSnapshot);
        Receive<VniLocationsDelta>(OnDelta);
        Receive<FlushSubscribers>(_ => Flush());
        Receive<DropStale>(OnDropStale);
        Receive<Terminated>(OnTerminated);
        Receive<GetLocations>(g => AnswerGet(g.Vni));
        Receive<Read>(r => r.ReplyTo.Tell(new LocationsChanged(r.Vni, r.Locations)));
        Receive<GetMobilityAlarms>(_ => Sender.Tell(_alarms.ToArray()));
        Receive<ClearMobilityFreeze>(c => _shards.Tell(new VniClearFreeze(c.Vni, c.Mac)));
        Receive<ClusterEvent.ReachableMember>(r => ResubscribeHostedBy(r.Member.Address));
        Receive<ClusterEvent.IMemberEvent>(_ => { });
        Receive<ClusterEvent.CurrentClusterState>(_ => { });
    }

    public static Props Props(IActorRef shards, TimeSpan? staleGrace = null) => Akka.Actor.Props.Create(() => new LocationDirectoryActor(shards, staleGrace));

    /// <summary>The role that carries a member's node name (set by the node bootstrap).</summary>
    public const string NodeRolePrefix = "node:";

    public static string? NodeName(Member m)
    {
        foreach (var r in m.Roles)
            if (r.StartsWith(NodeRolePrefix, StringComparison.Ordinal)) return r[NodeRolePrefix.Length..];
        return null;
    }

    protected override void PreStart()
        => _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot, typeof(ClusterEvent.ReachableMember));

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    private void Announce(EndpointLocation l)
    {
        if (!_locals.TryGetValue(l.Vni, out var mine)) _locals[l.Vni] = mine = new(StringComparer.Ordinal);
        mine[l.Key] = l;
        _shards.Tell(new VniAnnounce(l.Vni, l, _uid, Sender));
    }

    private void Subscribe(int vni, IActorRef subscriber)
    {
        if (!_vnis.TryGetValue(vni, out var f))
        {
            // The VNI's snapshot, when it comes, goes to every subscriber: nothing to tell before it.
            _vnis[vni] = f = new Followed();
            SendSubscribe(vni);
            f.Subscribers.Add(subscriber);
            Context.Watch(subscriber);
            return;
        }
        if (f.Subscribers.Add(subscriber)) Context.Watch(subscriber);
        subscriber.Tell(new LocationsChanged(vni, f.Current));
    }

    private void SendSubscribe(int vni)
    {
        var locals = _locals.TryGetValue(vni, out var mine) ? mine.Values.ToArray() : [];
        _shards.Tell(new VniSubscribe(vni, Self, _uid, locals));
    }

    private void Unsubscribe(int vni, IActorRef subscriber)
    {
        if (!_vnis.TryGetValue(vni, out var f) || !f.Subscribers.Remove(subscriber)) return;
        if (!_vnis.Values.Any(v => v.Subscribers.Contains(subscriber))) Context.Unwatch(subscriber);
        if (f.Subscribers.Count > 0) return;
        // Nobody here serves the VNI any more: stop following it.
        _shards.Tell(new VniUnsubscribe(vni, Self));
        Forget(vni, f);
    }

    private void Forget(int vni, Followed f)
    {
        _vnis.Remove(vni);
        _dirty.Remove(vni);
        if (f.Entity is not null && _vniOfEntity.Remove(f.Entity)) Context.Unwatch(f.Entity);
    }

    private void OnTerminated(Terminated t)
    {
        if (_vniOfEntity.Remove(t.ActorRef, out var vni))
        {
            // The VNI's directory stopped (its node left, or sharding moved it): its next incarnation is rebuilt from
            // the entries every follower re-sends.
            if (_vnis.TryGetValue(vni, out var f))
            {
                f.Entity = null;
                SendSubscribe(vni);
            }
            return;
        }
        foreach (var vni2 in _vnis.Where(v => v.Value.Subscribers.Contains(t.ActorRef)).Select(v => v.Key).ToArray())
            Unsubscribe(vni2, t.ActorRef);
    }

    private void OnSnapshot(VniLocationsSnapshot s)
    {
        if (!_vnis.TryGetValue(s.Vni, out var f)) return;
        var next = ImmutableDictionary.CreateBuilder<string, EndpointLocation>(StringComparer.Ordinal);
        foreach (var l in s.Entries) next[l.Key] = l;
        if (f.Epoch != 0 && f.Epoch != s.Epoch)
        {
            // A new incarnation: what it lacks may still be on its way from the nodes that own it; keep it a while.
            f.Stale = null;
            foreach (var (key, l) in f.Current)
            {
                if (next.ContainsKey(key)) continue;
                next[key] = l;
                (f.Stale ??= new(StringComparer.Ordinal)).Add(key);
            }
            if (f.Stale is not null) Timers.StartSingleTimer($"stale-{s.Vni}", new DropStale(s.Vni, s.Epoch), _staleGrace);
        }
        f.Epoch = s.Epoch;
        f.Seq = 0;
        if (!Sender.Equals(f.Entity))
        {
            if (f.Entity is not null && _vniOfEntity.Remove(f.Entity)) Context.Unwatch(f.Entity);
            f.Entity = Sender;
            _vniOfEntity[Sender] = s.Vni;
            Context.Watch(Sender);
        }
        f.Current = next.ToImmutable();
        ForgetSuperseded(s.Vni, s.Entries);
        MarkDirty(s.Vni);
    }

    private void OnDelta(VniLocationsDelta d)
    {
        if (!_vnis.TryGetValue(d.Vni, out var f) || d.Epoch != f.Epoch || d.Seq <= f.Seq) return; // old incarnation or duplicate
        if (d.Seq != f.Seq + 1)
        {
            // A delta was lost: take the whole map again rather than guess.
            _log.Info("VNI {0}: location delta {1} arrived after {2}; subscribing again", d.Vni, d.Seq, f.Seq);
            f.Seq = long.MaxValue; // ignore the rest of this numbering until the new snapshot
            SendSubscribe(d.Vni);
            return;
        }
        f.Seq = d.Seq;
        var current = f.Current;
        foreach (var l in d.Set)
        {
            current = current.SetItem(l.Key, l);
            f.Stale?.Remove(l.Key);
        }
        foreach (var key in d.Removed)
        {
            current = current.Remove(key);
            f.Stale?.Remove(key);
        }
        f.Current = current;
        ForgetSuperseded(d.Vni, d.Set);
        foreach (var alarm in d.Alarms)
        {
            if (_alarms.Count >= 1000) _alarms.RemoveAt(0);
            _alarms.Add(alarm);
            Context.System.EventStream.Publish(alarm);
        }
        MarkDirty(d.Vni);
    }

    /// <summary>An entry of ours that another node now holds (it moved there) is no longer ours to re-send.</summary>
    private void ForgetSuperseded(int vni, EndpointLocation[] entries)
    {
        if (!_locals.TryGetValue(vni, out var mine)) return;
        foreach (var l in entries)
            if (mine.TryGetValue(l.Key, out var had) && had.Vtep != l.Vtep) mine.Remove(l.Key);
        if (mine.Count == 0) _locals.Remove(vni);
    }

    private void OnDropStale(DropStale d)
    {
        if (!_vnis.TryGetValue(d.Vni, out var f) || f.Epoch != d.Epoch || f.Stale is null) return;
        f.Current = f.Current.RemoveRange(f.Stale);
        f.Stale = null;
        MarkDirty(d.Vni);
    }

    private void ResubscribeHostedBy(Address member)
    {
        foreach (var (vni, f) in _vnis)
            if (f.Entity is not null && f.Entity.Path.Address.Equals(member)) SendSubscribe(vni);
    }

    private void MarkDirty(int vni)
    {
        if (_dirty.Count == 0) Self.Tell(FlushSubscribers.Instance);
        _dirty.Add(vni);
    }

    private void Flush()
    {
        foreach (var vni in _dirty)
        {
            if (!_vnis.TryGetValue(vni, out var f)) continue;
            var msg = new LocationsChanged(vni, f.Current);
            foreach (var s in f.Subscribers) s.Tell(msg);
        }
        _dirty.Clear();
    }

    private void AnswerGet(int? vni)
    {
        if (vni is null)
        {
            var all = ImmutableDictionary.CreateBuilder<string, EndpointLocation>();
            foreach (var f in _vnis.Values) all.AddRange(f.Current);
            Sender.Tell(new LocationsChanged(0, all.ToImmutable()));
            return;
        }
        if (_vnis.TryGetValue(vni.Value, out var followed))
        {
            Sender.Tell(new LocationsChanged(vni.Value, followed.Current));
            return;
        }
        // Not followed here: ask the VNI's directory once, off this actor.
        var v = vni.Value;
        var replyTo = Sender;
        _shards.Ask<LocationsChanged>(new VniGet(v), TimeSpan.FromSeconds(3)).ContinueWith(t =>
            new Read(v, replyTo, t.IsCompletedSuccessfully ? t.Result.Locations : ImmutableDictionary<string, EndpointLocation>.Empty)).PipeTo(Self);
    }
}
