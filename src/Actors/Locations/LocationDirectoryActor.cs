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

/// <summary>A node left or was downed: remove every location it announced.</summary>
public sealed record WithdrawNode(string Node) : IFabricMessage;

public sealed record SubscribeLocations(IActorRef Subscriber) : IFabricMessage;

/// <summary>Sent to subscribers on every change: the whole current table (small: one entry per endpoint MAC).</summary>
public sealed record LocationsChanged(ImmutableDictionary<string, EndpointLocation> Locations) : IFabricMessage;

/// <summary>The announce was not applied because the MAC is frozen by duplicate detection.</summary>
public sealed record LocationRefused(EndpointLocation Location, string Reason) : IFabricMessage;

public sealed record GetLocations : IFabricMessage { public static readonly GetLocations Instance = new(); }
public sealed record GetMobilityAlarms : IFabricMessage { public static readonly GetMobilityAlarms Instance = new(); }
public sealed record ClearMobilityFreeze(int Vni, MacAddress Mac) : IFabricMessage;

/// <summary>
/// Endpoint locations by gossip: one <see cref="LWWDictionary{TKey,TValue}"/> replicated with Akka.DistributedData,
/// keyed by (VNI, MAC), where the mobility sequence number is the clock, so the highest sequence wins on every node.
/// Writes go to all reachable replicas at once (no waiting for the gossip tick); gossip repairs what a write missed.
/// This actor also runs EVPN duplicate detection on the moves it observes, and withdraws the locations of nodes
/// that leave or are downed. One per node, named <c>locations</c>.
/// </summary>
public sealed class LocationDirectoryActor : ReceiveActor
{
    public static readonly LWWDictionaryKey<string, EndpointLocation> Key = new("endpoint-locations");

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly IActorRef _replicator = DistributedData.Get(Context.System).Replicator;
    private readonly MobilityTracker _mobility;
    private readonly IWriteConsistency _write;
    private readonly HashSet<IActorRef> _subscribers = new();
    private readonly List<DuplicateMacAlarm> _alarms = new();
    // Where each frozen MAC was when it froze: the replicated value before the offending move, the same on every node.
    private readonly Dictionary<string, EndpointLocation> _pins = new();
    private ImmutableDictionary<string, EndpointLocation> _current = ImmutableDictionary<string, EndpointLocation>.Empty;
    // What the replicator last said, before local pins: moves are detected against this, not the optimistic view.
    private ImmutableDictionary<string, EndpointLocation> _replicated = ImmutableDictionary<string, EndpointLocation>.Empty;

    public LocationDirectoryActor(MobilityTracker? mobility = null, TimeSpan? writeTimeout = null)
    {
        _mobility = mobility ?? new MobilityTracker();
        _write = new WriteAll(writeTimeout ?? TimeSpan.FromMilliseconds(500));

        Receive<AnnounceLocation>(a => Announce(a.Location));
        Receive<WithdrawLocation>(w => Modify(map => map.Remove(_cluster, EndpointLocation.KeyOf(w.Vni, w.Mac))));
        Receive<WithdrawNode>(w => WithdrawNodeEntries(w.Node));
        Receive<SubscribeLocations>(s =>
        {
            _subscribers.Add(s.Subscriber);
            Context.Watch(s.Subscriber);
            s.Subscriber.Tell(new LocationsChanged(_current));
        });
        Receive<Terminated>(t => _subscribers.Remove(t.ActorRef));
        Receive<GetLocations>(_ => Sender.Tell(new LocationsChanged(_current)));
        Receive<GetMobilityAlarms>(_ => Sender.Tell(_alarms.ToArray()));
        Receive<ClearMobilityFreeze>(c =>
        {
            var key = EndpointLocation.KeyOf(c.Vni, c.Mac);
            _mobility.Clear(key);
            _pins.Remove(key);
        });
        Receive<Changed>(c => c.Key.Equals(Key), c => OnChanged(c.Get(Key)));
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
    {
        _replicator.Tell(Dsl.Subscribe(Key, Self));
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot, typeof(ClusterEvent.MemberRemoved));
    }

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    private void Announce(EndpointLocation proposed)
    {
        var now = DateTimeOffset.UtcNow;
        if (_mobility.IsFrozen(proposed.Key, now))
        {
            Sender.Tell(new LocationRefused(proposed, "frozen by duplicate MAC detection"));
            return;
        }
        _current.TryGetValue(proposed.Key, out var existing);
        if (existing is not null && existing.Vtep == proposed.Vtep && existing.Ip == proposed.Ip && existing.Seq >= proposed.Seq) return;
        var moved = existing is not null && existing.Vtep != proposed.Vtep;
        var seq = Math.Max(proposed.Seq, existing is null ? proposed.Seq : existing.Seq + (moved ? 1 : 0));
        var value = proposed with { Seq = seq };
        // Optimistically apply here so that a burst of announces sees its own writes before the Changed arrives.
        _current = _current.SetItem(value.Key, value);
        Modify(map => map.SetItem(_cluster, value.Key, value, static (_, v) => v.Seq));
    }

    private void WithdrawNodeEntries(string node)
    {
        var gone = _current.Values.Where(l => l.Node == node).Select(l => l.Key).ToArray();
        if (gone.Length == 0) return;
        _log.Info("withdrawing {0} locations of node {1}", gone.Length, node);
        Modify(map =>
        {
            foreach (var k in gone) map = map.Remove(_cluster, k);
            return map;
        });
    }

    private void Modify(Func<LWWDictionary<string, EndpointLocation>, LWWDictionary<string, EndpointLocation>> f)
        => _replicator.Tell(Dsl.Update(Key, LWWDictionary<string, EndpointLocation>.Empty, _write, f));

    /// <summary>
    /// Moves are counted between consecutive replicated snapshots (notified every 10 ms) by how far the mobility
    /// sequence rose: only a move raises it (an in-place gratuitous ARP keeps it), so a MAC that moved and moved back
    /// between two notifications counts twice, not zero times, and every node counts the same moves however its
    /// notifications were batched. (A freeze inside such a batch pins the place before the batch.)
    /// </summary>
    private void OnChanged(LWWDictionary<string, EndpointLocation> map)
    {
        var next = map.Entries.ToImmutableDictionary();
        var now = DateTimeOffset.UtcNow;
        foreach (var (key, loc) in next)
        {
            if (!_replicated.TryGetValue(key, out var before) || before.Seq >= loc.Seq) continue;
            // A move the operator made (the configuration placed the endpoint there) is a live migration, not a
            // symptom: it does not count, and it lifts a freeze, as the RFC's "operator intervention" does.
            if (loc.Origin == LocationOrigin.Config)
            {
                _mobility.Clear(key);
                _pins.Remove(key);
                continue;
            }
            var verdict = MoveVerdict.Allowed;
            for (var moves = Math.Min(loc.Seq - before.Seq, 64); moves > 0 && verdict == MoveVerdict.Allowed; moves--)
                verdict = _mobility.Observe(key, now);
            switch (verdict)
            {
                case MoveVerdict.FreezesNow:
                    _pins[key] = before;
                    var alarm = new DuplicateMacAlarm(loc.Vni, loc.Mac, _mobility.MovesInWindow(key, now), _mobility.Window, now, loc.Node);
                    _alarms.Add(alarm);
                    Context.System.EventStream.Publish(alarm);
                    _log.Warning("duplicate MAC {0} in VNI {1}: {2} moves within {3}; frozen", loc.Mac, loc.Vni, alarm.Moves, _mobility.Window);
                    break;
            }
        }
        _replicated = next;
        // A frozen MAC stays where it was when it froze, whatever later gossip says.
        foreach (var (key, pinned) in _pins)
        {
            if (_mobility.IsFrozen(key, now)) next = next.SetItem(key, pinned);
            else _pins.Remove(key);
        }
        _current = next;
        var msg = new LocationsChanged(_current);
        foreach (var s in _subscribers) s.Tell(msg);
    }
}
