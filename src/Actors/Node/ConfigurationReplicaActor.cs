using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using Fabric.Actors.Intent;
using Fabric.Actors.Replication;

namespace Fabric.Actors.Node;

/// <summary>An actor of this node (a VRF entity) wants every new configuration revision.</summary>
public sealed record SubscribeConfiguration(IActorRef Subscriber);

/// <summary>Published on the node's event stream after every write the configuration journaled (local notice).</summary>
public sealed record ConfigurationChanged(long Revision) : IFabricMessage;

/// <summary>Asks the replica for its projection; the answer is a <see cref="ReplicaStateAnswer"/> (null state before the first snapshot).</summary>
public sealed record GetReplicaState
{
    public static readonly GetReplicaState Instance = new();
}

public sealed record ReplicaStateAnswer(FabricConfiguration? State, long Revision);

/// <summary>
/// This node's read-only projection of the intended configuration: the networks it holds (<see cref="Interest"/>).
/// It registers with the configuration's replication hub, applies the hub's numbered deltas in order, and on any gap,
/// duplicate-free reordering or new epoch registers again and gets its projection as a chunked snapshot, swapped in
/// whole. Local subscribers get <see cref="ConfigurationUpdated"/> with the events of each delta. No periodic fetch:
/// the hub's tick (a few bytes every 2 s) is how a lost tail is found. Named <c>config-replica</c>.
/// </summary>
public sealed class ConfigurationReplicaActor : ReceiveActor, IWithTimers
{
    private sealed record Register { public static readonly Register Instance = new(); }
    private sealed record CheckSilence { public static readonly CheckSilence Instance = new(); }

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRef _singleton;
    private readonly string _node;
    private readonly ReplicationSettings _settings;
    private readonly List<IActorRef> _subscribers;
    private readonly ReplicaState _replica = new();
    private readonly Dictionary<string, string[]> _holds = new(StringComparer.Ordinal);
    private DateTime _lastHeard = DateTime.UtcNow;
    private DateTime _lastRegister = DateTime.MinValue;
    private long _resyncs;

    public ConfigurationReplicaActor(IActorRef singletonProxy, string node, IReadOnlyList<IActorRef> subscribers, ReplicationSettings settings)
    {
        _singleton = singletonProxy;
        _node = node;
        _settings = settings;
        _subscribers = subscribers.ToList();

        Receive<IReplicaMessage>(OnMessage);
        Receive<HubStarted>(h => { if (h.Epoch != _replica.Epoch) SendRegister(force: true); });
        Receive<Register>(_ => SendRegister(force: true));
        Receive<CheckSilence>(_ =>
        {
            // Registered nowhere yet, or the hub has gone quiet (its node died and the new one's HubStarted was missed).
            if (!_replica.HasState || DateTime.UtcNow - _lastHeard > _settings.SilenceBeforeRegister) SendRegister(force: false);
        });
        Receive<HoldNetworks>(h =>
        {
            var before = Holds();
            if (h.NetworkIds.Count == 0) _holds.Remove(h.Owner);
            else _holds[h.Owner] = h.NetworkIds.ToArray();
            var after = Holds();
            if (!before.SequenceEqual(after)) _singleton.Tell(new UpdateHolds(_node, after));
        });
        Receive<GetReplicaState>(_ => Sender.Tell(new ReplicaStateAnswer(_replica.HasState ? _replica.State : null, _replica.Revision)));
        Receive<GetConfiguration>(_ => Sender.Tell(_replica.HasState
            ? ConfigurationListing.Of(_replica.State, _replica.Revision)
            : new Status.Failure(new InvalidOperationException("no configuration yet"))));
        Receive<SubscribeAck>(_ => { });
        Receive<StoreUnavailable>(_ => { }); // a registration during a store outage: the silence check retries
        Receive<SubscribeConfiguration>(s =>
        {
            _subscribers.Add(s.Subscriber);
            Context.Watch(s.Subscriber);
            if (_replica.HasState) s.Subscriber.Tell(new ConfigurationUpdated(_replica.State, _replica.Revision, [], true));
        });
        Receive<Terminated>(t => _subscribers.Remove(t.ActorRef));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef singletonProxy, string node, IReadOnlyList<IActorRef> subscribers, ReplicationSettings? settings = null)
        => Akka.Actor.Props.Create(() => new ConfigurationReplicaActor(singletonProxy, node, subscribers, settings ?? ReplicationSettings.Default));

    protected override void PreStart()
    {
        DistributedPubSub.Get(Context.System).Mediator.Tell(new Subscribe(ReplicationHubActor.Topic, Self));
        Self.Tell(Register.Instance);
        Timers.StartPeriodicTimer("silence", CheckSilence.Instance, TimeSpan.FromSeconds(1));
    }

    private string[] Holds() => _holds.Values.SelectMany(h => h).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();

    private void SendRegister(bool force)
    {
        // One outstanding registration at a time: its snapshot answers every gap found meanwhile.
        var now = DateTime.UtcNow;
        var wait = _lastRegister + _settings.TickInterval * 1.5 - now;
        if (!force && wait > TimeSpan.Zero)
        {
            // Not dropped: sent once the last one had time to be answered, unless its snapshot mends the stream first.
            if (!Timers.IsTimerActive("register")) Timers.StartSingleTimer("register", Register.Instance, wait);
            return;
        }
        Timers.Cancel("register");
        _lastRegister = now;
        _singleton.Tell(new RegisterReplica(_node, Self, Holds()));
    }

    private void OnMessage(IReplicaMessage message)
    {
        _lastHeard = DateTime.UtcNow;
        var outcome = _replica.Offer(message);
        switch (outcome.Kind)
        {
            case ReplicaOutcomeKind.Applied:
                Publish(new ConfigurationUpdated(_replica.State, _replica.Revision, outcome.Events, false));
                break;
            case ReplicaOutcomeKind.Reset:
                Timers.Cancel("register");
                _log.Debug("configuration snapshot installed at revision {0}", _replica.Revision);
                Publish(new ConfigurationUpdated(_replica.State, _replica.Revision, [], true));
                break;
            case ReplicaOutcomeKind.Resync:
                _resyncs++;
                _log.Info("replica stream broken at seq {0} ({1}); registering again ({2} so far)", _replica.Next, message.GetType().Name, _resyncs);
                SendRegister(force: false);
                break;
        }
    }

    private void Publish(ConfigurationUpdated update)
    {
        foreach (var s in _subscribers) s.Tell(update);
    }
}
