using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using Fabric.Actors.Intent;

namespace Fabric.Actors.Replication;

/// <summary>How the hub and the replicas pace themselves (<c>fabric.configuration.replication</c>).</summary>
public sealed record ReplicationSettings(TimeSpan TickInterval, int ChunkEvents, TimeSpan SilenceBeforeRegister)
{
    public static readonly ReplicationSettings Default = new(TimeSpan.FromSeconds(2), 500, TimeSpan.FromSeconds(7));

    public static ReplicationSettings From(Akka.Configuration.Config? config)
    {
        var c = config?.GetConfig("fabric.configuration.replication");
        if (c is null) return Default;
        return new ReplicationSettings(
            c.GetTimeSpan("tick-interval", Default.TickInterval, allowInfinite: false),
            c.GetInt("chunk-events", Default.ChunkEvents),
            c.GetTimeSpan("silence-before-register", Default.SilenceBeforeRegister, allowInfinite: false));
    }
}

/// <summary>
/// Runs beside the configuration (its child, so wherever the singleton runs): keeps every registered replica's
/// projection current through a <see cref="ReplicationHub"/>. Named <c>replication</c>.
/// </summary>
public sealed class ReplicationHubActor : ReceiveActor, IWithTimers
{
    /// <summary>The pub-sub topic every replica listens on for <see cref="HubStarted"/>.</summary>
    public const string Topic = "fabric-configuration-hub";

    private sealed record Tick { public static readonly Tick Instance = new(); }

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ReplicationHub _hub;
    private readonly ReplicationSettings _settings;
    private readonly Dictionary<string, IActorRef> _replicas = new(StringComparer.Ordinal);
    private readonly Dictionary<IActorRef, string> _nodes = new();

    public ReplicationHubActor(FabricConfiguration state, long revision, ReplicationSettings settings)
    {
        _settings = settings;
        _hub = new ReplicationHub(state, revision, Guid.NewGuid().ToString("N")[..12], settings.ChunkEvents);

        Receive<StateChanged>(c =>
        {
            foreach (var (node, message) in _hub.Apply(c.Before, c.After, c.Events, c.Revision))
                if (_replicas.TryGetValue(node, out var r)) r.Tell(message);
        });
        Receive<RegisterReplica>(r =>
        {
            if (_replicas.TryGetValue(r.Node, out var old) && !old.Equals(r.Replica))
            {
                Context.Unwatch(old);
                _nodes.Remove(old);
            }
            _replicas[r.Node] = r.Replica;
            _nodes[r.Replica] = r.Node;
            Context.Watch(r.Replica);
            var messages = _hub.Register(r.Node, r.Holds);
            _log.Debug("replica of {0} registered: {1} snapshot chunks at revision {2}", r.Node, messages.Count, _hub.Revision);
            foreach (var m in messages) r.Replica.Tell(m);
        });
        Receive<UpdateHolds>(u =>
        {
            if (!_replicas.TryGetValue(u.Node, out var r)) return;
            foreach (var m in _hub.UpdateHolds(u.Node, u.Holds)) r.Tell(m);
        });
        Receive<Terminated>(t =>
        {
            if (!_nodes.Remove(t.ActorRef, out var node)) return;
            if (_replicas.TryGetValue(node, out var current) && current.Equals(t.ActorRef))
            {
                _replicas.Remove(node);
                _hub.Remove(node);
            }
        });
        Receive<Tick>(_ =>
        {
            foreach (var (node, message) in _hub.Tick())
                if (_replicas.TryGetValue(node, out var r)) r.Tell(message);
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(FabricConfiguration state, long revision, ReplicationSettings settings)
        => Akka.Actor.Props.Create(() => new ReplicationHubActor(state, revision, settings));

    protected override void PreStart()
    {
        Timers.StartPeriodicTimer("tick", Tick.Instance, _settings.TickInterval);
        // Replicas registered with the previous singleton's hub: tell them to register here now, not after silence.
        if (((ExtendedActorSystem)Context.System).Provider is Akka.Cluster.ClusterActorRefProvider)
            DistributedPubSub.Get(Context.System).Mediator.Tell(new Publish(Topic, new HubStarted(_hub.Epoch)));
    }
}
