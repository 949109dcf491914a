using System.Threading.Channels;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Tools.PublishSubscribe;
using Fabric.Actors.Alarms;
using Fabric.Actors.Node;

namespace Fabric.Actors.Feed;

/// <summary>One server-sent event: its <c>event:</c> name and the object its <c>data:</c> line carries as JSON.</summary>
public sealed record FeedEvent(string Type, object Data);

/// <summary>A client of the feed: what it is sent goes into <paramref name="Writer"/>, a bounded queue its HTTP response drains.</summary>
public sealed record AddFeedClient(Guid Id, ChannelWriter<FeedEvent> Writer);
public sealed record RemoveFeedClient(Guid Id);

/// <summary>A member as the feed shows it (<c>member</c> events).</summary>
public sealed record MemberChange(string Name, string Address, string Status, string? Vtep, bool Reachable);

/// <summary>
/// The event feed of one node's HTTP endpoint (<c>GET /api/v1/events</c>): membership changes as this node sees them,
/// endpoint changes and alarms from the whole cluster (topics <see cref="ConfigurationFeed.Topic"/> and
/// <see cref="AlarmActor.Topic"/>), and every <see cref="CounterInterval"/> the counters of this node and of the next
/// <see cref="CounterBudget"/> other members round robin. It subscribes to all of it only while it has a client.
/// </summary>
/// <remarks>
/// Each client has a queue of <see cref="ClientQueue"/> events; a client that lets it fill (it reads slower than the
/// fabric changes) is dropped: its queue is closed, its response ends after what was queued, and nothing is kept for
/// it. Cost per event: one write per client (O(clients)); memory: at most ClientQueue events per client. The counters tick
/// asks at most 1 + CounterBudget nodes, whatever the cluster's size (at 1,000 nodes every node's counters come by every
/// 1,000 / 8 × 3 s ≈ 6 min; the page asks a node directly when it wants it now).
/// </remarks>
public sealed class EventFeedActor : ReceiveActor, IWithTimers
{
    public const int ClientQueue = 512;
    public const int CounterBudget = 8;
    public static readonly TimeSpan CounterInterval = TimeSpan.FromSeconds(3);

    private sealed record Tick { public static readonly Tick Instance = new(); }

    private readonly FabricRuntime _runtime;
    private readonly FeedClients _clients = new();
    private readonly TimeSpan _interval;
    private int _cursor;

    public ITimerScheduler Timers { get; set; } = null!;

    public EventFeedActor(FabricRuntime runtime, TimeSpan? interval = null)
    {
        _runtime = runtime;
        _interval = interval ?? CounterInterval;
        Receive<AddFeedClient>(a =>
        {
            if (_clients.Count == 0) Start();
            _clients.Add(a.Id, a.Writer);
            _clients.Send(a.Id, new FeedEvent("hello", new { node = _runtime.Self.Name }));
            if (_clients.Count == 0) Stop();
        });
        Receive<RemoveFeedClient>(r =>
        {
            if (_clients.Remove(r.Id) && _clients.Count == 0) Stop();
        });
        Receive<ClusterEvent.IMemberEvent>(m => Member(m.Member, !Akka.Cluster.Cluster.Get(Context.System).State.Unreachable.Contains(m.Member)));
        Receive<ClusterEvent.UnreachableMember>(u => Member(u.Member, false));
        Receive<ClusterEvent.ReachableMember>(r => Member(r.Member, true));
        Receive<ClusterEvent.CurrentClusterState>(_ => { });
        Receive<ConfigurationChanges>(c =>
        {
            foreach (var e in c.Endpoints) Broadcast(new FeedEvent("endpoint", e));
            if (c.Omitted > 0 || c.NetworksChanged) Broadcast(new FeedEvent("reload", new { c.Revision, c.Omitted, c.NetworksChanged }));
        });
        Receive<AlarmChange>(a => Broadcast(new FeedEvent(a.Raised ? "alarm-raised" : "alarm-cleared", a.Alarm)));
        Receive<CounterListing>(c => Broadcast(new FeedEvent("counters", c)));
        Receive<Tick>(_ => AskCounters());
        Receive<SubscribeAck>(_ => { });
        Receive<UnsubscribeAck>(_ => { });
        Receive<Status.Failure>(_ => { }); // a node that did not answer its counters in time: the next tick asks another
    }

    public static Props Props(FabricRuntime runtime, TimeSpan? interval = null) => Akka.Actor.Props.Create(() => new EventFeedActor(runtime, interval));

    private void Start()
    {
        var mediator = DistributedPubSub.Get(Context.System).Mediator;
        mediator.Tell(new Subscribe(ConfigurationFeed.Topic, Self));
        mediator.Tell(new Subscribe(AlarmActor.Topic, Self));
        Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot,
            typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent));
        Timers.StartPeriodicTimer("counters", Tick.Instance, TimeSpan.FromMilliseconds(200), _interval);
    }

    private void Stop()
    {
        var mediator = DistributedPubSub.Get(Context.System).Mediator;
        mediator.Tell(new Unsubscribe(ConfigurationFeed.Topic, Self));
        mediator.Tell(new Unsubscribe(AlarmActor.Topic, Self));
        Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);
        Timers.Cancel("counters");
    }

    protected override void PostStop()
    {
        if (_clients.Count > 0) Stop();
        _clients.CloseAll();
    }

    private void Member(Member m, bool reachable)
    {
        var id = NodeIdentity.Of(m);
        Broadcast(new FeedEvent("member", new MemberChange(id?.Name ?? m.Address.ToString(), m.Address.ToString(),
            m.Status.ToString().ToLowerInvariant(), id?.Vtep.ToString(), reachable)));
    }

    private void AskCounters()
    {
        var state = Akka.Cluster.Cluster.Get(Context.System).State;
        var self = Akka.Cluster.Cluster.Get(Context.System).SelfAddress;
        var others = state.Members.Where(m => m.Status == MemberStatus.Up && !m.Address.Equals(self))
            .OrderBy(m => m.Address.ToString(), StringComparer.Ordinal).ToArray();
        var asked = new List<Address> { self };
        if (others.Length <= CounterBudget) asked.AddRange(others.Select(m => m.Address));
        else
        {
            var start = (int)((uint)_cursor % (uint)others.Length);
            for (var i = 0; i < CounterBudget; i++) asked.Add(others[(start + i) % others.Length].Address);
            _cursor = (start + CounterBudget) % others.Length;
        }
        foreach (var a in asked)
            Context.ActorSelection($"{a}/user/query").Ask<CounterListing>(GetCounters.Instance, TimeSpan.FromSeconds(2)).PipeTo(Self);
    }

    /// <summary>A client whose queue is full is dropped, never buffered for (<see cref="FeedClients"/>).</summary>
    private void Broadcast(FeedEvent e)
    {
        if (_clients.Broadcast(e) > 0 && _clients.Count == 0) Stop();
    }
}

/// <summary>Closes the queue of a client that fell <see cref="EventFeedActor.ClientQueue"/> events behind.</summary>
public sealed class SlowFeedClientException() : Exception($"the client fell {EventFeedActor.ClientQueue} events behind and was dropped");
