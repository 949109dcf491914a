using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster;
using Akka.DistributedData;
using Akka.Event;
using Fabric.Dataplane.Packets;

namespace Fabric.Actors.Locations;

/// <summary>A local VTEP actor tells where an endpoint now is (config, learning, or a gratuitous ARP move).</summary>
public sealed record AnnounceLocation(EndpointLocation Location) : IFabricMessage;

/// <summary>The endpoint is gone (deleted, aged out): remove its location everywhere.</summary>
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
/// Endpoint locations by gossip: one <see cref="LWWDictionary{TKey,TValue}"/> per VNI (<c>loc-5001</c>) replicated with
/// Akka.DistributedData, keyed by (VNI, MAC), where the mobility sequence number is the clock, so the highest sequence
/// wins on every node. A node follows (subscribes to the replicator for) only the VNIs a local actor subscribed to, so
/// a change in one VNI costs work only on the nodes that serve it, and only that VNI's map. Writes go to all reachable
/// replicas at once (no waiting for the gossip tick); gossip repairs what a write missed. This actor also runs EVPN
/// duplicate detection on the moves it observes, and withdraws the locations of nodes that leave or are downed. One
/// per node, named <c>locations</c>.
/// </summary>
public sealed class LocationDirectoryActor : ReceiveActor
{
    public const string KeyPrefix = "loc-";

    public static LWWDictionaryKey<string, EndpointLocation> KeyOf(int vni) => new($"{KeyPrefix}{vni}");

    /// <summary>What this node knows of one followed VNI.</summary>
    private sealed class Followed(LWWDictionaryKey<string, EndpointLocation> key)
    {
        public readonly LWWDictionaryKey<string, EndpointLocation> Key = key;
        public readonly HashSet<IActorRef> Subscribers = new();
        public ImmutableDictionary<string, EndpointLocation> Current = ImmutableDictionary<string, EndpointLocation>.Empty;
        // What the replicator last said, before local pins: moves are detected against this, not the optimistic view.
        public ImmutableDictionary<string, EndpointLocation> Replicated = ImmutableDictionary<string, EndpointLocation>.Empty;
    }

    private sealed record Read(int Vni, IActorRef ReplyTo, ImmutableDictionary<string, EndpointLocation> Locations);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly IActorRef _replicator = DistributedData.Get(Context.System).Replicator;
    private readonly MobilityTracker _mobility;
    private readonly IWriteConsistency _write;
    private readonly Dictionary<int, Followed> _vnis = new();
    private readonly Dictionary<string, int> _vniOfKey = new(StringComparer.Ordinal);
    private readonly List<DuplicateMacAlarm> _alarms = new();
    // Where each frozen MAC was when it froze (the replicated value before the offending move, the same on every node),
    // by VNI: kept here, not with the followed VNI, so a VTEP actor's restart (unfollow, follow) does not lose them.
    private readonly Dictionary<int, Dictionary<string, EndpointLocation>> _pins = new();

    public LocationDirectoryActor(MobilityTracker? mobility = null, TimeSpan? writeTimeout = null)
    {
        _mobility = mobility ?? new MobilityTracker();
        _write = new WriteAll(writeTimeout ?? TimeSpan.FromMilliseconds(500));

        Receive<AnnounceLocation>(a => Announce(a.Location));
        Receive<WithdrawLocation>(w => Modify(w.Vni, map => map.Remove(_cluster, EndpointLocation.KeyOf(w.Vni, w.Mac))));
        Receive<WithdrawNode>(w => WithdrawNodeEntries(w.Node));
        Receive<SubscribeLocations>(s => Subscribe(s.Vni, s.Subscriber));
        Receive<UnsubscribeLocations>(u => Unsubscribe(u.Vni, u.Subscriber));
        Receive<Terminated>(t =>
        {
            foreach (var vni in _vnis.Where(v => v.Value.Subscribers.Contains(t.ActorRef)).Select(v => v.Key).ToArray())
                Unsubscribe(vni, t.ActorRef);
        });
        Receive<GetLocations>(g => AnswerGet(g.Vni));
        Receive<Read>(r => r.ReplyTo.Tell(new LocationsChanged(r.Vni, r.Locations)));
        Receive<GetMobilityAlarms>(_ => Sender.Tell(_alarms.ToArray()));
        Receive<ClearMobilityFreeze>(c =>
        {
            var key = EndpointLocation.KeyOf(c.Vni, c.Mac);
            _mobility.Clear(key);
            Unpin(c.Vni, key);
        });
        Receive<Changed>(c =>
        {
            if (_vniOfKey.TryGetValue(c.Key.Id, out var vni) && _vnis.TryGetValue(vni, out var f))
                OnChanged(vni, f, c.Get(f.Key));
        });
        Receive<UpdateSuccess>(_ => { });
        Receive<UpdateTimeout>(_ => { }); // applied locally; gossip carries it to the replicas that did not answer
        Receive<ModifyFailure>(f => _log.Warning("location update failed: {0}", f.ErrorMessage));
        Receive<ClusterEvent.MemberRemoved>(m =>
        {
            if (NodeName(m.Member) is { } node) WithdrawNodeEntries(node);
        });
        Receive<ClusterEvent.IMemberEvent>(_ => { });
        Receive<ClusterEvent.CurrentClusterState>(_ => { });
    }

    public static Props Props(MobilityTracker? mobility = null) => Akka.Actor.Props.Create(() => new LocationDirectoryActor(mobility, null));

    /// <summary>The role that carries a member's node name (set by the node bootstrap).</summary>
    public const string NodeRolePrefix = "node:";

    public static string? NodeName(Member m)
    {
        foreach (var r in m.Roles)
            if (r.StartsWith(NodeRolePrefix, StringComparison.Ordinal)) return r[NodeRolePrefix.Length..];
        return null;
    }

    protected override void PreStart()
        => _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot, typeof(ClusterEvent.MemberRemoved));

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    private void Subscribe(int vni, IActorRef subscriber)
    {
        if (!_vnis.TryGetValue(vni, out var f))
        {
            _vnis[vni] = f = new Followed(KeyOf(vni));
            _vniOfKey[f.Key.Id] = vni;
            // The replicator answers a new subscription with the current value (when it has one), then every change.
            _replicator.Tell(Dsl.Subscribe(f.Key, Self));
        }
        if (f.Subscribers.Add(subscriber)) Context.Watch(subscriber);
        subscriber.Tell(new LocationsChanged(vni, f.Current));
    }

    private void Unsubscribe(int vni, IActorRef subscriber)
    {
        if (!_vnis.TryGetValue(vni, out var f) || !f.Subscribers.Remove(subscriber)) return;
        if (!_vnis.Values.Any(v => v.Subscribers.Contains(subscriber))) Context.Unwatch(subscriber);
        if (f.Subscribers.Count > 0) return;
        // Nobody here serves the VNI any more: stop following it (its replica stays in the replicator, unread).
        _replicator.Tell(Dsl.Unsubscribe(f.Key, Self));
        _vnis.Remove(vni);
        _vniOfKey.Remove(f.Key.Id);
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
        // Not followed here: read the local replica (what gossip brought), off the actor.
        var v = vni.Value;
        var replyTo = Sender;
        var key = KeyOf(v);
        _replicator.Ask<IGetResponse>(Dsl.Get(key, ReadLocal.Instance), TimeSpan.FromSeconds(3)).ContinueWith(t =>
            new Read(v, replyTo, t.IsCompletedSuccessfully && t.Result is GetSuccess s
                ? s.Get(key).Entries.ToImmutableDictionary()
                : ImmutableDictionary<string, EndpointLocation>.Empty)).PipeTo(Self);
    }

    private void Announce(EndpointLocation proposed)
    {
        var now = DateTimeOffset.UtcNow;
        if (_mobility.IsFrozen(proposed.Key, now))
        {
            Sender.Tell(new LocationRefused(proposed, "frozen by duplicate MAC detection"));
            return;
        }
        if (!_vnis.TryGetValue(proposed.Vni, out var f))
        {
            // A VNI nobody here follows (no local view): decide the sequence against the local replica's entry.
            Modify(proposed.Vni, map => map.SetItem(_cluster, proposed.Key, Raised(map.TryGetValue(proposed.Key, out var had) ? had : null, proposed),
                static (_, v) => v.Seq));
            return;
        }
        f.Current.TryGetValue(proposed.Key, out var existing);
        if (existing is not null && existing.Vtep == proposed.Vtep && existing.Ip == proposed.Ip && existing.Seq >= proposed.Seq) return;
        var value = Raised(existing, proposed);
        // Optimistically apply here so that a burst of announces sees its own writes before the Changed arrives.
        f.Current = f.Current.SetItem(value.Key, value);
        Modify(proposed.Vni, map => map.SetItem(_cluster, value.Key, value, static (_, v) => v.Seq));
    }

    /// <summary>A move (another VTEP) raises the sequence above the existing entry's; anything else keeps the highest.</summary>
    private static EndpointLocation Raised(EndpointLocation? existing, EndpointLocation proposed)
    {
        var moved = existing is not null && existing.Vtep != proposed.Vtep;
        var seq = Math.Max(proposed.Seq, existing is null ? proposed.Seq : existing.Seq + (moved ? 1 : 0));
        return proposed with { Seq = seq };
    }

    /// <summary>
    /// Withdraws the node's entries in the VNIs this node follows, O(entries of those VNIs) once per removed node.
    /// Entries in VNIs nobody here follows are left to the nodes that follow them (every node that follows a VNI does
    /// this for it); were none left, they are harmless: a VTEP actor installs gossip only from cluster members.
    /// </summary>
    private void WithdrawNodeEntries(string node)
    {
        foreach (var (vni, f) in _vnis)
        {
            var gone = f.Current.Values.Where(l => l.Node == node).Select(l => l.Key).ToArray();
            if (gone.Length == 0) continue;
            _log.Info("withdrawing {0} locations of node {1} in VNI {2}", gone.Length, node, vni);
            Modify(vni, map =>
            {
                foreach (var k in gone) map = map.Remove(_cluster, k);
                return map;
            });
        }
    }

    private void Unpin(int vni, string key)
    {
        if (_pins.TryGetValue(vni, out var pins) && pins.Remove(key) && pins.Count == 0) _pins.Remove(vni);
    }

    private void Modify(int vni, Func<LWWDictionary<string, EndpointLocation>, LWWDictionary<string, EndpointLocation>> f)
        => _replicator.Tell(Dsl.Update(KeyOf(vni), LWWDictionary<string, EndpointLocation>.Empty, _write, f));

    /// <summary>
    /// Moves are counted between consecutive replicated snapshots of the VNI (notified every 10 ms) by how far the
    /// mobility sequence rose: only a move raises it (an in-place gratuitous ARP keeps it), so a MAC that moved and moved
    /// back between two notifications counts twice, not zero times, and every node counts the same moves however its
    /// notifications were batched. (A freeze inside such a batch pins the place before the batch.) Cost: one pass over
    /// this VNI's map (an entry compare each; the tracker only sees entries whose sequence rose), nothing for other VNIs.
    /// </summary>
    private void OnChanged(int vni, Followed f, LWWDictionary<string, EndpointLocation> map)
    {
        var next = map.Entries.ToImmutableDictionary();
        var now = DateTimeOffset.UtcNow;
        foreach (var (key, loc) in next)
        {
            if (!f.Replicated.TryGetValue(key, out var before) || before.Seq >= loc.Seq) continue;
            // A move the operator made (the configuration placed the endpoint there) is a live migration, not a
            // symptom: it does not count, and it lifts a freeze, as the RFC's "operator intervention" does.
            if (loc.Origin == LocationOrigin.Config)
            {
                _mobility.Clear(key);
                Unpin(vni, key);
                continue;
            }
            var verdict = MoveVerdict.Allowed;
            for (var moves = Math.Min(loc.Seq - before.Seq, 64); moves > 0 && verdict == MoveVerdict.Allowed; moves--)
                verdict = _mobility.Observe(key, now);
            switch (verdict)
            {
                case MoveVerdict.FreezesNow:
                    if (!_pins.TryGetValue(vni, out var pins)) _pins[vni] = pins = new();
                    pins[key] = before;
                    var alarm = new DuplicateMacAlarm(loc.Vni, loc.Mac, _mobility.MovesInWindow(key, now), _mobility.Window, now, loc.Node);
                    _alarms.Add(alarm);
                    Context.System.EventStream.Publish(alarm);
                    _log.Warning("duplicate MAC {0} in VNI {1}: {2} moves within {3}; frozen", loc.Mac, loc.Vni, alarm.Moves, _mobility.Window);
                    break;
            }
        }
        f.Replicated = next;
        // A frozen MAC stays where it was when it froze, whatever later gossip says.
        if (_pins.TryGetValue(vni, out var frozen))
            foreach (var (key, pinned) in frozen.ToArray())
            {
                if (_mobility.IsFrozen(key, now)) next = next.SetItem(key, pinned);
                else Unpin(vni, key);
            }
        f.Current = next;
        var msg = new LocationsChanged(vni, next);
        foreach (var s in f.Subscribers) s.Tell(msg);
    }
}
