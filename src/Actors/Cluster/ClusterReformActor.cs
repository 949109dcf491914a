using Akka.Actor;
using Akka.Coordination;
using Akka.Event;
using AkkaCluster = Akka.Cluster.Cluster;

namespace Fabric.Actors.Cluster;

/// <summary>
/// Forms the cluster again when every node has died. A node that restarts does not list itself as a seed (cut off
/// by a partition it would otherwise form a second cluster beside the running one), so when every node restarts
/// nobody would form it. This actor, on such a node, waits <see cref="ReformSettings.After"/> for the seeds; then,
/// every <see cref="ReformSettings.Interval"/> until the node is a member, it asks the configuration lease
/// (<see cref="StoreLease"/>) whether any configuration writer has run anywhere during the last
/// <see cref="ReformSettings.IdleFor"/>. Only when none has, and the lease is now this node's, does the node join
/// itself: one node wins the store's atomic update, the others join it through their seed lists, and its
/// singleton already holds the lease. A running cluster keeps the lease renewed, so a cut-off node never forms one.
/// </summary>
public sealed class ClusterReformActor : ReceiveActor, IWithTimers
{
    private sealed record Tick;
    private sealed record Answer(bool Taken, Exception? Failure);

    private readonly AkkaCluster _cluster = AkkaCluster.Get(Context.System);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly StoreLease _lease;
    private readonly ReformSettings _settings;
    private readonly DateTime _startedAt = DateTime.UtcNow;
    private bool _asking;

    public ITimerScheduler Timers { get; set; } = null!;

    public ClusterReformActor(ReformSettings settings, Lease lease)
    {
        _settings = settings;
        _lease = lease as StoreLease
            ?? throw new ArgumentException($"reforming needs the store lease, not {lease.GetType().Name}", nameof(lease));

        Receive<Tick>(_ =>
        {
            if (IsMember()) { Context.Stop(Self); return; }
            if (_asking || DateTime.UtcNow - _startedAt < _settings.After) return;
            _asking = true;
            _lease.AcquireIfIdle(_settings.IdleFor).ContinueWith(t => t.IsCompletedSuccessfully
                ? new Answer(t.Result, null)
                : new Answer(false, t.Exception?.GetBaseException())).PipeTo(Self);
        });
        Receive<Answer>(a =>
        {
            _asking = false;
            if (a.Failure is not null) _log.Warning("No cluster answered and the configuration lease could not be asked: {0}", a.Failure.Message);
            if (!a.Taken || IsMember()) return; // if we joined meanwhile, the singleton will use the lease we hold
            _log.Warning("No seed answered within {0} s and no configuration writer has run for {1} s: this node forms the cluster again (it holds the lease)",
                (DateTime.UtcNow - _startedAt).TotalSeconds.ToString("0", System.Globalization.CultureInfo.InvariantCulture),
                _settings.IdleFor.TotalSeconds.ToString("0", System.Globalization.CultureInfo.InvariantCulture));
            _cluster.Join(_cluster.SelfAddress);
            Context.Stop(Self);
        });
    }

    protected override void PreStart() => Timers.StartPeriodicTimer("tick", new Tick(), _settings.Interval);

    /// <summary>Joining or further: the seed process (or an earlier join) got us in.</summary>
    private bool IsMember() => _cluster.State.Members.Any(m => m.UniqueAddress.Equals(_cluster.SelfUniqueAddress));

    public static Props Props(ReformSettings settings, Lease lease) => Akka.Actor.Props.Create(() => new ClusterReformActor(settings, lease));
}

/// <summary><c>fabric.cluster.reform</c>: when a node that finds no cluster may form it again.</summary>
public sealed record ReformSettings(TimeSpan After, TimeSpan IdleFor, TimeSpan Interval)
{
    public static ReformSettings From(Akka.Configuration.Config config)
    {
        var c = config.GetConfig("fabric.cluster.reform");
        return new ReformSettings(
            c?.GetTimeSpan("after", TimeSpan.FromSeconds(5)) ?? TimeSpan.FromSeconds(5),
            c?.GetTimeSpan("idle-for", TimeSpan.FromSeconds(3)) ?? TimeSpan.FromSeconds(3),
            c?.GetTimeSpan("interval", TimeSpan.FromSeconds(1)) ?? TimeSpan.FromSeconds(1));
    }
}
