using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Event;
using Fabric.Dataplane.Packets;

namespace Fabric.Actors.Locations;

/// <summary>A message for one VNI's location directory (the sharded entity of that VNI).</summary>
public interface IVniLocationsMessage : IFabricMessage { int Vni { get; } }

/// <summary>
/// A node's directory follows the VNI: it wants the VNI's map now (<see cref="VniLocationsSnapshot"/>) and every change
/// after it (<see cref="VniLocationsDelta"/>, numbered). <paramref name="Locals"/> are the entries this node announced
/// and still owns: a new incarnation of the entity (its host died, or sharding moved it) rebuilds from them.
/// </summary>
public sealed record VniSubscribe(int Vni, IActorRef Directory, long NodeUid, EndpointLocation[] Locals) : IVniLocationsMessage;

public sealed record VniUnsubscribe(int Vni, IActorRef Directory) : IVniLocationsMessage;

/// <summary>An endpoint is at <paramref name="Location"/>; a refusal (frozen MAC) goes to <paramref name="ReplyTo"/>.</summary>
public sealed record VniAnnounce(int Vni, EndpointLocation Location, long NodeUid, IActorRef ReplyTo) : IVniLocationsMessage;

/// <summary>
/// The endpoint is gone: remove its entry. With <paramref name="OwnerUid"/>, only while that node (incarnation) owns it:
/// a node withdrawing what it hosted must not take away the entry of a node that announced it since.
/// </summary>
public sealed record VniWithdraw(int Vni, MacAddress Mac, long? OwnerUid = null) : IVniLocationsMessage;

/// <summary>Withdraws every entry announced by the node named <paramref name="Node"/> (an operator's or a test's request).</summary>
public sealed record VniWithdrawNode(int Vni, string Node) : IVniLocationsMessage;

public sealed record VniClearFreeze(int Vni, MacAddress Mac) : IVniLocationsMessage;

/// <summary>Asks for the VNI's map once, without following it (answered with <see cref="LocationsChanged"/>).</summary>
public sealed record VniGet(int Vni) : IVniLocationsMessage;

/// <summary>The whole map of the VNI for one subscriber; <paramref name="Epoch"/> names the entity's incarnation.</summary>
public sealed record VniLocationsSnapshot(int Vni, long Epoch, EndpointLocation[] Entries) : IFabricMessage;

/// <summary>
/// What changed since the subscriber's previous message (<paramref name="Seq"/> = previous + 1 within an epoch; the
/// snapshot is 0): entries set, keys removed, and a duplicate-MAC alarm raised by this change, if any.
/// </summary>
public sealed record VniLocationsDelta(int Vni, long Epoch, long Seq, EndpointLocation[] Set, string[] Removed, DuplicateMacAlarm[] Alarms)
    : IFabricMessage;

/// <summary>Routes a VNI's messages to its entity; 64 shards spread the VNIs over the nodes.</summary>
public sealed class VniLocationsExtractor() : HashCodeMessageExtractor(maxNumberOfShards: 64)
{
    public override string? EntityId(object message) => message is IVniLocationsMessage m ? m.Vni.ToString(System.Globalization.CultureInfo.InvariantCulture) : null;
}

/// <summary>
/// The location directory of one VNI: a sharded entity (cluster sharding places it on one node) that holds where each
/// endpoint of the VNI is, decides the mobility sequence of every move, runs EVPN duplicate detection once for the
/// VNI, and pushes each change to the nodes that follow the VNI, and only to them.
/// </summary>
/// <remarks>
/// Cost per change at 100,000 endpoints on 1,000 nodes: one message from the announcing node to this entity, O(log n)
/// work on this VNI's map (n = its entries), and one delta per node that follows the VNI, coalesced per mailbox drain;
/// nothing for any other node or VNI. State is soft: a new incarnation starts empty and is rebuilt from the entries its
/// subscribers re-send (<see cref="VniSubscribe.Locals"/>) when they see the old one terminate. A removed member's
/// entries are withdrawn here by its unique address, so a restarted node's new entries are never taken for the old ones.
/// </remarks>
public sealed class VniLocationsActor : ReceiveActor
{
    public const string TypeName = "locations";

    private sealed class Subscriber(long uid)
    {
        public readonly long Uid = uid;
        public long Seq;
    }

    private sealed record Flush
    {
        public static readonly Flush Instance = new();
    }

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly int _vni;
    private readonly long _epoch = Random.Shared.NextInt64(1, long.MaxValue);
    private readonly MobilityTracker _mobility;
    private readonly Dictionary<string, EndpointLocation> _entries = new(StringComparer.Ordinal);
    // Per entry: the node incarnation that announced it, and the highest mobility sequence the configuration gave the
    // endpoint in an announcement (-1: none), which orders configured placements whatever GARP moves raised since.
    private readonly Dictionary<string, (long Uid, long ConfigSeq)> _owner = new(StringComparer.Ordinal);
    private readonly Dictionary<IActorRef, Subscriber> _subscribers = new();
    // Changes not yet pushed: coalesced until the mailbox is drained (a burst of announces is one delta per subscriber).
    private readonly Dictionary<string, EndpointLocation?> _pending = new(StringComparer.Ordinal);
    private readonly List<DuplicateMacAlarm> _pendingAlarms = new();
    private bool _flushScheduled;

    public VniLocationsActor(int vni, MobilityTracker? mobility = null)
    {
        _vni = vni;
        _mobility = mobility ?? new MobilityTracker();
        Receive<VniSubscribe>(OnSubscribe);
        Receive<VniUnsubscribe>(u =>
        {
            if (_subscribers.Remove(u.Directory)) Context.Unwatch(u.Directory);
        });
        Receive<VniAnnounce>(a => Announce(a.Location, a.NodeUid, a.ReplyTo));
        Receive<VniWithdraw>(w =>
        {
            var key = EndpointLocation.KeyOf(_vni, w.Mac);
            if (w.OwnerUid is { } uid && (!_owner.TryGetValue(key, out var owner) || owner.Uid != uid)) return;
            Remove(key);
        });
        Receive<VniWithdrawNode>(w =>
        {
            foreach (var (key, loc) in _entries.ToArray())
                if (loc.Node == w.Node) Remove(key);
        });
        Receive<VniClearFreeze>(c => _mobility.Clear(EndpointLocation.KeyOf(_vni, c.Mac)));
        Receive<VniGet>(_ => Sender.Tell(new LocationsChanged(_vni, System.Collections.Immutable.ImmutableDictionary.CreateRange(StringComparer.Ordinal, _entries))));
        Receive<Flush>(_ => OnFlush());
        Receive<Terminated>(t => _subscribers.Remove(t.ActorRef));
        Receive<ClusterEvent.MemberRemoved>(m => WithdrawMember(m.Member.UniqueAddress.Uid));
        Receive<ClusterEvent.CurrentClusterState>(_ => { });
    }

    public static Props Props(int vni) => Akka.Actor.Props.Create(() => new VniLocationsActor(vni, null));

    /// <summary>Starts (or finds) this node's shard region of the VNI directories.</summary>
    public static IActorRef StartRegion(ActorSystem system)
        // Never passivated: the state is soft, and an idle VNI's map must stay where its subscribers read it.
        => ClusterSharding.Get(system).Start(TypeName,
            id => Props(int.Parse(id, System.Globalization.CultureInfo.InvariantCulture)),
            ClusterShardingSettings.Create(system).WithPassivateIdleAfter(TimeSpan.Zero), new VniLocationsExtractor());

    protected override void PreStart()
        => Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot,
            typeof(ClusterEvent.MemberRemoved));

    protected override void PostStop() => Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);

    private void OnSubscribe(VniSubscribe s)
    {
        // Entries the node re-asserts (after this incarnation started, or on its own re-subscription) are taken as they
        // are: the highest sequence wins, a tie keeps what is here, and none of them counts as a move.
        foreach (var l in s.Locals)
        {
            if (l.Vni != _vni) continue;
            if (_entries.TryGetValue(l.Key, out var had) && had.Seq >= l.Seq) continue;
            Set(l, s.NodeUid, l.Origin == LocationOrigin.Config ? l.Seq : -1);
        }
        if (!_subscribers.ContainsKey(s.Directory)) Context.Watch(s.Directory);
        // A (re-)subscription restarts the subscriber's numbering at the snapshot; what is pending for others is in it.
        _subscribers[s.Directory] = new Subscriber(s.NodeUid);
        var entries = new EndpointLocation[_entries.Count];
        _entries.Values.CopyTo(entries, 0);
        s.Directory.Tell(new VniLocationsSnapshot(_vni, _epoch, entries));
    }

    private void Announce(EndpointLocation proposed, long uid, IActorRef replyTo)
    {
        var key = proposed.Key;
        var now = DateTimeOffset.UtcNow;
        var operatorMove = proposed.Origin == LocationOrigin.Config;
        // A configured placement older than one already announced is stale, whatever it arrives after: the node the
        // endpoint left re-announced it (it does on every change of the VNI) just before the move, and that message,
        // from another node than the new host's, can arrive second. Taken as a move it would win with a raised sequence
        // and steer every node back to the old host for good (ThreeNodeClusterTests' move, 1 run in 3 on a busy machine).
        if (operatorMove && _owner.TryGetValue(key, out var known) && proposed.Seq < known.ConfigSeq) return;
        if (!operatorMove && _mobility.IsFrozen(key, now))
        {
            if (!replyTo.IsNobody()) replyTo.Tell(new LocationRefused(proposed, "frozen by duplicate MAC detection"));
            return;
        }
        _entries.TryGetValue(key, out var existing);
        if (existing is not null && existing.Vtep == proposed.Vtep && existing.Ip == proposed.Ip && existing.Seq >= proposed.Seq)
            return;
        var value = Raised(existing, proposed);
        if (existing is not null && value.Seq > existing.Seq)
        {
            if (operatorMove)
                // A move the operator made (the configuration placed it there) is a migration, not a symptom: it does
                // not count, and it lifts a freeze, as RFC 7432's "operator intervention" does.
                _mobility.Clear(key);
            else
            {
                var verdict = MoveVerdict.Allowed;
                for (var moves = Math.Min(value.Seq - existing.Seq, 64); moves > 0 && verdict == MoveVerdict.Allowed; moves--)
                    verdict = _mobility.Observe(key, now);
                if (verdict != MoveVerdict.Allowed)
                {
                    // Frozen where it was before this move, on every node at once (they all hear it from here).
                    var alarm = new DuplicateMacAlarm(_vni, proposed.Mac, _mobility.MovesInWindow(key, now), _mobility.Window, now, proposed.Node);
                    _log.Warning("duplicate MAC {0} in VNI {1}: {2} moves within {3}; frozen", proposed.Mac, _vni, alarm.Moves, _mobility.Window);
                    _pendingAlarms.Add(alarm);
                    ScheduleFlush();
                    if (!replyTo.IsNobody()) replyTo.Tell(new LocationRefused(proposed, "frozen by duplicate MAC detection"));
                    return;
                }
            }
        }
        Set(value, uid, operatorMove ? proposed.Seq : -1);
    }

    /// <summary>A move (another VTEP) raises the sequence above the existing entry's; anything else keeps the highest.</summary>
    internal static EndpointLocation Raised(EndpointLocation? existing, EndpointLocation proposed)
    {
        var moved = existing is not null && existing.Vtep != proposed.Vtep;
        var seq = Math.Max(proposed.Seq, existing is null ? proposed.Seq : existing.Seq + (moved ? 1 : 0));
        return proposed with { Seq = seq };
    }

    private void Set(EndpointLocation value, long uid, long configSeq)
    {
        _entries[value.Key] = value;
        _owner[value.Key] = (uid, _owner.TryGetValue(value.Key, out var had) ? Math.Max(had.ConfigSeq, configSeq) : configSeq);
        _pending[value.Key] = value;
        ScheduleFlush();
    }

    private void Remove(string key)
    {
        if (!_entries.Remove(key)) return;
        _owner.Remove(key);
        _pending[key] = null;
        ScheduleFlush();
    }

    /// <summary>O(entries of this VNI), once per removed member.</summary>
    private void WithdrawMember(long uid)
    {
        var gone = 0;
        foreach (var (key, owner) in _owner.ToArray())
            if (owner.Uid == uid) { Remove(key); gone++; }
        if (gone > 0) _log.Info("VNI {0}: withdrew {1} locations of a removed node", _vni, gone);
        foreach (var (directory, sub) in _subscribers.ToArray())
            if (sub.Uid == uid) { _subscribers.Remove(directory); Context.Unwatch(directory); }
    }

    private void ScheduleFlush()
    {
        if (_flushScheduled) return;
        _flushScheduled = true;
        Self.Tell(Flush.Instance);
    }

    private void OnFlush()
    {
        _flushScheduled = false;
        if (_pending.Count == 0 && _pendingAlarms.Count == 0) return;
        var set = new List<EndpointLocation>(_pending.Count);
        var removed = new List<string>();
        foreach (var (key, value) in _pending)
            if (value is null) removed.Add(key); else set.Add(value);
        _pending.Clear();
        var setArray = set.ToArray();
        var removedArray = removed.ToArray();
        var alarms = _pendingAlarms.ToArray();
        _pendingAlarms.Clear();
        foreach (var (directory, sub) in _subscribers)
            directory.Tell(new VniLocationsDelta(_vni, _epoch, ++sub.Seq, setArray, removedArray, alarms));
    }
}
