using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using Fabric.Actors.Intent;

namespace Fabric.Actors.Node;

/// <summary>An actor of this node (a VRF entity) wants every new configuration revision.</summary>
public sealed record SubscribeConfiguration(IActorRef Subscriber);

/// <summary>Published cluster-wide after every accepted write to the configuration.</summary>
public sealed record ConfigurationChanged(long Revision) : IFabricMessage;

/// <summary>
/// This node's read-only copy of the intended configuration. The configuration singleton announces every new
/// revision on a pub-sub topic; the replica then fetches the listing from the singleton and hands it to the node's
/// actors. A periodic check repairs anything a lost announcement missed. Named <c>config-replica</c>.
/// </summary>
public sealed class ConfigurationReplicaActor : ReceiveActor, IWithTimers
{
    public const string Topic = "fabric-configuration-changes";
    private sealed record Poll { public static readonly Poll Instance = new(); }

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRef _singleton;
    private readonly List<IActorRef> _subscribers;
    private ConfigurationListing? _current;
    private bool _fetching;
    private long _wanted;

    public ConfigurationReplicaActor(IActorRef singletonProxy, IReadOnlyList<IActorRef> subscribers, TimeSpan pollInterval)
    {
        _singleton = singletonProxy;
        _subscribers = subscribers.ToList();
        Receive<ConfigurationChanged>(c => { _wanted = Math.Max(_wanted, c.Revision); Fetch(); });
        Receive<Poll>(_ => Fetch(force: true));
        Receive<ConfigurationListing>(l =>
        {
            _fetching = false;
            if (_current is not null && l.Revision <= _current.Revision) return;
            _current = l;
            var msg = ConfigurationUpdated.Whole(l);
            foreach (var s in _subscribers) s.Tell(msg);
            if (_wanted > l.Revision) Fetch();
        });
        Receive<Status.Failure>(f =>
        {
            _fetching = false;
            _log.Debug("configuration fetch failed: {0}", f.Cause.Message);
        });
        Receive<GetConfiguration>(_ => Sender.Tell(_current ?? (object)new Status.Failure(new InvalidOperationException("no configuration yet"))));
        Receive<SubscribeAck>(_ => { });
        Receive<SubscribeConfiguration>(s =>
        {
            _subscribers.Add(s.Subscriber);
            Context.Watch(s.Subscriber);
            if (_current is not null) s.Subscriber.Tell(ConfigurationUpdated.Whole(_current));
        });
        Receive<Terminated>(t => _subscribers.Remove(t.ActorRef));
        Timers!.StartPeriodicTimer("poll", Poll.Instance, TimeSpan.FromMilliseconds(100), pollInterval);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef singletonProxy, IReadOnlyList<IActorRef> subscribers, TimeSpan? pollInterval = null)
        => Akka.Actor.Props.Create(() => new ConfigurationReplicaActor(singletonProxy, subscribers, pollInterval ?? TimeSpan.FromSeconds(2)));

    protected override void PreStart() => DistributedPubSub.Get(Context.System).Mediator.Tell(new Subscribe(Topic, Self));

    private void Fetch(bool force = false)
    {
        if (_fetching) return;
        if (!force && _current is not null && _current.Revision >= _wanted) return;
        _fetching = true;
        _singleton.Ask<ConfigurationListing>(GetConfiguration.Instance, TimeSpan.FromSeconds(3)).PipeTo(Self);
    }
}

/// <summary>
/// Runs beside the configuration singleton: turns its local "changed" notices into the cluster-wide announcement.
/// </summary>
public sealed class ConfigurationAnnouncerActor : ReceiveActor
{
    public ConfigurationAnnouncerActor()
    {
        var mediator = DistributedPubSub.Get(Context.System).Mediator;
        Receive<ConfigurationChanged>(c => mediator.Tell(new Publish(ConfigurationReplicaActor.Topic, c)));
    }

    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(ConfigurationChanged));
    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);
}
