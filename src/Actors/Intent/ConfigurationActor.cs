using Akka.Actor;
using Akka.Event;
using Akka.Persistence;

namespace Fabric.Actors.Intent;

// ---- protocol ---------------------------------------------------------------------------------------

/// <summary>Asks for the whole configuration; the answer is a <see cref="ConfigurationListing"/>.</summary>
public sealed record GetConfiguration : IFabricMessage
{
    public static readonly GetConfiguration Instance = new();
}

/// <summary>
/// The command holds and is durable: its events are in the journal (sent only from the persist callback).
/// No events: nothing needed to change (e.g. deleting what does not exist). <see cref="Revision"/> is the
/// journal sequence number after the command.
/// </summary>
public sealed record CommandAccepted(IReadOnlyList<ConfigurationEvent> Events, long Revision) : IFabricMessage;

/// <summary>The command breaks a rule; nothing was written and nothing changed.</summary>
public sealed record CommandRejected(Rejection Rejection) : IFabricMessage;

/// <summary>
/// The journal did not take the events (the store is down, the disk is full): the command is not
/// applied; retry later. The actor restarts (with back-off) and recovers from the journal.
/// </summary>
public sealed record CommandFailed(string Detail) : IFabricMessage;

/// <summary>
/// A command with the instant after which nobody waits for its answer (UTC, the sender's clock minus its skew
/// allowance, see FabricRuntime.ClockSkewAllowance). Later than that the configuration refuses it unwritten with
/// <see cref="CommandExpired"/>: a write whose caller already heard "unavailable" must not apply behind its back,
/// e.g. one the singleton proxy buffered through a partition or a hand-over.
/// </summary>
public sealed record Deadlined(ConfigurationCommand Command, DateTime NotAfterUtc) : IFabricMessage;

/// <summary>The command arrived after its deadline; nothing was written. (Its sender has normally given up already.)</summary>
public sealed record CommandExpired(string Detail) : IFabricMessage;

/// <summary>
/// The configuration store is down and the configuration is recovering: the request (write or read) was not
/// handled; retry later. Answered at once by <see cref="ConfigurationSupervisor"/> instead of leaving the caller to time out.
/// </summary>
public sealed record StoreUnavailable(string Detail) : IFabricMessage;

/// <summary>
/// The configuration is behind: more command items wait for it than <c>fabric.configuration.max-pending-items</c>, so
/// the command was refused unwritten instead of queued; retry after <see cref="RetryAfter"/> (HTTP: 503 with
/// <c>Retry-After</c>, code <c>configuration-overloaded</c>). Answered at once by <see cref="ConfigurationSupervisor"/>.
/// </summary>
public sealed record ConfigurationOverloaded(string Detail, TimeSpan RetryAfter) : IFabricMessage;

/// <summary>
/// Child to <see cref="ConfigurationSupervisor"/>: a command of this weight (see <see cref="ConfigurationSupervisor.Weight"/>)
/// has been answered; <paramref name="Heavy"/> when it was the bulk the supervisor's heavy lane let through.
/// </summary>
internal sealed record CommandDone(int Weight, bool Heavy);

/// <summary>Published on the local event stream for every command refused as expired (for logs, metrics and tests).</summary>
public sealed record ConfigurationCommandExpired(ConfigurationCommand Command, TimeSpan Late);

/// <summary>Published on the local event stream when the configuration recovered: from which snapshot, and how many events it replayed.</summary>
public sealed record ConfigurationRecovery(long FromSnapshot, long ReplayedEvents, long Revision);

/// <summary>
/// The configuration as a journal snapshot (every <c>fabric.configuration.snapshot-every</c> events): plain arrays of
/// the listing's records plus the id counters, which Hyperion writes field by field. <see cref="Tokens"/> (valid and
/// revoked) came later: a snapshot written before them reads with null there (Hyperion is version tolerant).
/// </summary>
public sealed record ConfigurationSnapshot(long NextNetwork, long NextSubnet, long NextEndpoint, NetworkView[] Networks, Endpoint[] Endpoints,
    AccessToken[]? Tokens = null) : IFabricMessage
{
    public static ConfigurationSnapshot Of(FabricConfiguration state)
    {
        var listing = ConfigurationListing.Of(state, 0);
        return new ConfigurationSnapshot(state.NextNetwork, state.NextSubnet, state.NextEndpoint,
            // The listing's views already hold plain arrays (FabricConfiguration.ViewOf), which Hyperion writes as they are.
            listing.Networks.ToArray(), listing.Endpoints.ToArray(),
            state.ClusterWideEvents().Select(e => e is TokenRevoked r ? r.Token : ((TokenCreated)e).Token).ToArray());
    }

    public FabricConfiguration ToConfiguration()
    {
        var state = FabricConfiguration.FromListing(new ConfigurationListing(0, Networks, Endpoints)) with
        {
            NextNetwork = NextNetwork,
            NextSubnet = NextSubnet,
            NextEndpoint = NextEndpoint,
        };
        foreach (var t in Tokens ?? [])
            state = state.Apply(t.Revoked is null ? new TokenCreated(t) : new TokenRevoked(t));
        return state;
    }
}

/// <summary>Child to <see cref="ConfigurationSupervisor"/>: recovery finished, commands can be handled.</summary>
internal sealed record ConfigurationRecovered
{
    public static readonly ConfigurationRecovered Instance = new();
}

/// <summary>Child to <see cref="ConfigurationSupervisor"/>: the store failed; the child is stopping.</summary>
internal sealed record ConfigurationStoreFailed(string Detail);

// ---- actor ------------------------------------------------------------------------------------------

/// <summary>
/// The intended configuration, event-sourced. Each command is decided by <see cref="FabricConfiguration"/>;
/// a rejection is answered at once and nothing is persisted; accepted events are persisted and the
/// command is acknowledged only in the persist callback, i.e. after the journal confirmed the write.
/// Persist stashes further commands until then, so commands are decided one at a time against the
/// state that includes every earlier acknowledged command.
/// </summary>
/// <remarks>
/// A failed journal write stops the actor (Akka.Persistence's rule: its state may no longer match the
/// journal); the caller gets <see cref="CommandFailed"/> first. Run it under <see cref="PropsWithBackoff"/>
/// so it comes back and recovers. Later this runs as a cluster singleton.
/// </remarks>
public sealed class ConfigurationActor : ReceivePersistentActor, IWithTimers
{
    private sealed record SweepBulk { public static readonly SweepBulk Instance = new(); }
    private sealed record Staged(DateTime Since, List<ConfigurationCommand> Parts)
    {
        /// <summary>A part arrived out of order or twice: the commit writes nothing.</summary>
        public bool Spoiled { get; set; }
    }
    private sealed record Result(DateTime Since, IReadOnlyList<ConfigurationEvent> Events);

    // Bulk transfers in flight (see BulkTransfer): parts staged until their commit, answers until they are fetched.
    private readonly Dictionary<Guid, Staged> _staged = [];
    private readonly Dictionary<Guid, Result> _results = [];

    public const string DefaultPersistenceId = "fabric-configuration";

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private FabricConfiguration _state = FabricConfiguration.Empty;
    private IActorRef? _awaitingWrite;
    private IActorRef _hub = ActorRefs.Nobody;
    private readonly long _snapshotEvery;
    private long _fromSnapshot;
    private long _replayed;
    private long _sinceSnapshot;
    private readonly bool _supervised;
    private long _expired;

    public ConfigurationActor(string persistenceId) : this(persistenceId, supervised: false) { }

    /// <param name="supervised">Runs under <see cref="ConfigurationSupervisor"/>: tells it when recovery finished and when the store failed.</param>
    public ConfigurationActor(string persistenceId, bool supervised)
    {
        PersistenceId = persistenceId;
        _supervised = supervised;

        _snapshotEvery = Context.System.Settings.Config.GetLong("fabric.configuration.snapshot-every", 10_000);
        Recover<SnapshotOffer>(o =>
        {
            if (o.Snapshot is not ConfigurationSnapshot snapshot) return;
            _state = snapshot.ToConfiguration();
            _fromSnapshot = o.Metadata.SequenceNr;
        });
        Recover<ConfigurationEvent>(e => { _state = _state.Apply(e); _replayed++; });
        Recover<RecoveryCompleted>(_ =>
        {
            _sinceSnapshot = _replayed;
            Context.System.EventStream.Publish(new ConfigurationRecovery(_fromSnapshot, _replayed, LastSequenceNr));
            // Replication starts from the recovered state; requests that came during recovery were stashed until now.
            _hub = Context.ActorOf(Replication.ReplicationHubActor.Props(_state, LastSequenceNr,
                Replication.ReplicationSettings.From(Context.System.Settings.Config)), "replication");
            if (_supervised) Context.Parent.Tell(ConfigurationRecovered.Instance);
        });
        Command<Replication.IReplicationRequest>(r => _hub.Forward(r));
        Command<Deadlined>(d =>
        {
            // Checked when the command is decided, i.e. also after waiting behind an earlier write.
            var late = DateTime.UtcNow - d.NotAfterUtc;
            if (late <= TimeSpan.Zero)
            {
                Handle(d.Command);
                return;
            }
            _expired++;
            Done(d.Command);
            _log.Warning("Refused {0} unwritten: it arrived {1:F0} ms after its deadline ({2} expired so far)", d.Command.GetType().Name, late.TotalMilliseconds, _expired);
            Context.System.EventStream.Publish(new ConfigurationCommandExpired(d.Command, late));
            Sender.Tell(new CommandExpired($"the command arrived {late.TotalMilliseconds:F0} ms after its deadline, when its caller had stopped waiting; it was not applied"));
        });
        Command<ConfigurationCommand>(Handle);
        Command<GetConfiguration>(_ => Sender.Tell(ConfigurationListing.Of(_state, LastSequenceNr)));
        Command<SaveSnapshotSuccess>(s =>
            // Only the latest is kept: the journal still holds every event, so an unreadable snapshot costs a longer replay.
            DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1)));
        Command<SaveSnapshotFailure>(f => _log.Warning("could not save a snapshot of the configuration at {0}: {1}", f.Metadata.SequenceNr, f.Cause.Message));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(_ => { });
        Command<IConfigurationQuery>(q => Sender.Tell(_state.Answer(q, LastSequenceNr)));
        Command<StageBulkPart>(Stage);
        Command<FetchBulkResult>(Fetch);
        Command<SweepBulk>(_ => Sweep());
    }

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart()
    {
        base.PreStart();
        Timers.StartPeriodicTimer("sweep-bulk", SweepBulk.Instance, BulkTransfer.Lifetime);
    }

    public override string PersistenceId { get; }

    /// <summary>The bare actor; a journal failure stops it.</summary>
    public static Props Props(string persistenceId = DefaultPersistenceId)
        => Akka.Actor.Props.Create(() => new ConfigurationActor(persistenceId));

    /// <summary>
    /// The actor under <see cref="ConfigurationSupervisor"/>, which starts it again after it stopped on a store
    /// failure (0.2 s, doubling up to <paramref name="maxBackoff"/>, default 2 s) and, until it has recovered,
    /// answers every request at once with <see cref="StoreUnavailable"/>.
    /// </summary>
    /// <param name="mayWrite">The writer's fence, checked before every command (null: none): the configuration lease still held.</param>
    /// <param name="limits">Backpressure (null: <see cref="ConfigurationLimits.Default"/>).</param>
    public static Props PropsWithBackoff(string persistenceId = DefaultPersistenceId, TimeSpan? minBackoff = null, TimeSpan? maxBackoff = null,
        Func<bool>? mayWrite = null, ConfigurationLimits? limits = null)
        => ConfigurationSupervisor.Props(
            Akka.Actor.Props.Create(() => new ConfigurationActor(persistenceId, true)),
            minBackoff ?? TimeSpan.FromMilliseconds(200),
            maxBackoff ?? TimeSpan.FromSeconds(2), mayWrite, limits);

    private void Handle(ConfigurationCommand command)
    {
        Guid? transfer = null;
        var decided = command;
        if (command is CommitBulk commit)
        {
            transfer = commit.Transfer;
            var parts = _staged.Remove(commit.Transfer, out var staged) ? staged.Parts : [];
            parts.Add(commit.LastPart);
            if (staged?.Spoiled == true || parts.Count != commit.Parts || BulkTransfer.Join(parts) is not { } whole || BulkTransfer.ItemsOf(whole) != commit.TotalItems)
            {
                Done(command);
                Sender.Tell(new BulkInterrupted(
                    $"{parts.Count} of the request's {commit.Parts} parts reached the configuration (it may have moved or restarted meanwhile); nothing was written: send it again"));
                return;
            }
            decided = whole;
        }

        switch (_state.Decide(decided))
        {
            case Decision.Reject reject:
                Done(command);
                Sender.Tell(new CommandRejected(reject.Rejection));
                break;

            case Decision.Accept { Events.Count: 0 }:
                Done(command);
                Sender.Tell(new CommandAccepted([], LastSequenceNr));
                break;

            case Decision.Accept accept:
                var replyTo = Sender;
                _awaitingWrite = replyTo;
                var before = _state;
                var remaining = accept.Events.Count;
                // PersistAll writes the events as one atomic write; the handler runs once per event after it.
                PersistAll(accept.Events, e =>
                {
                    _state = _state.Apply(e);
                    if (--remaining > 0) return;
                    _awaitingWrite = null;
                    Done(command);
                    var events = accept.Events.ToArray(); // a plain array: it may cross the wire
                    replyTo.Tell(Accepted(transfer, events));
                    // Every node's replica gets the events of the networks it holds (Replication.ReplicationHub).
                    _hub.Tell(new Replication.StateChanged(before, _state, events, LastSequenceNr));
                    // The event feeds of nodes with clients (GET /api/v1/events): endpoint placed, moved, removed.
                    Feed.ConfigurationFeed.Publish(Context.System, before, _state, events, LastSequenceNr);
                    _sinceSnapshot += events.Length;
                    if (_snapshotEvery > 0 && _sinceSnapshot >= _snapshotEvery)
                    {
                        // Recovery replays from the latest snapshot, not from the first event: a new singleton (its node
                        // crashed) is back in seconds at 100,000 endpoints. O(state) every snapshot-every events.
                        _sinceSnapshot = 0;
                        SaveSnapshot(ConfigurationSnapshot.Of(_state));
                    }
                    // Local notice (logs, tests).
                    Context.System.EventStream.Publish(new Node.ConfigurationChanged(LastSequenceNr));
                });
                break;
        }
    }

    /// <summary>The answer to an accepted command: the events themselves, or, for a large bulk, a note to fetch them in parts.</summary>
    private object Accepted(Guid? transfer, IReadOnlyList<ConfigurationEvent> events)
    {
        if (transfer is not { } t || events.Count <= BulkTransfer.PartItems)
            return new CommandAccepted(events.ToArray(), LastSequenceNr); // a plain array: it may cross the wire
        _results[t] = new Result(DateTime.UtcNow, events);
        return new BulkAccepted(t, LastSequenceNr, events.Count);
    }

    /// <summary>Tells the supervisor (backpressure, and its heavy lane) that a command has been answered.</summary>
    private void Done(ConfigurationCommand command, bool staged = false)
    {
        if (_supervised) Context.Parent.Tell(new CommandDone(ConfigurationSupervisor.Weight(command), !staged && ConfigurationSupervisor.IsHeavy(command)));
    }

    private void Stage(StageBulkPart p)
    {
        if (!_staged.TryGetValue(p.Transfer, out var staged))
            _staged[p.Transfer] = staged = new Staged(DateTime.UtcNow, []);
        // A part out of order or repeated spoils the transfer: its commit will find the wrong count and write nothing.
        if (p.Index == staged.Parts.Count) staged.Parts.Add(p.Part);
        else staged.Spoiled = true;
        Done(p.Part, staged: true);
        Sender.Tell(new BulkPartStaged(p.Transfer, p.Index));
    }

    private void Fetch(FetchBulkResult f)
    {
        if (!_results.TryGetValue(f.Transfer, out var result) || f.Offset < 0 || f.Offset > result.Events.Count)
        {
            Sender.Tell(new BulkResultPart(f.Transfer, f.Offset, null));
            return;
        }
        var count = Math.Min(BulkTransfer.PartItems, result.Events.Count - f.Offset);
        var part = new ConfigurationEvent[count];
        for (var i = 0; i < count; i++) part[i] = result.Events[f.Offset + i];
        if (f.Offset + count >= result.Events.Count) _results.Remove(f.Transfer);
        Sender.Tell(new BulkResultPart(f.Transfer, f.Offset, part));
    }

    private void Sweep()
    {
        var before = DateTime.UtcNow - BulkTransfer.Lifetime;
        foreach (var (t, staged) in _staged.ToArray())
            if (staged.Since < before) _staged.Remove(t);
        foreach (var (t, result) in _results.ToArray())
            if (result.Since < before) _results.Remove(t);
    }

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        _awaitingWrite?.Tell(new CommandFailed($"the configuration store did not take the change: {cause.Message}"));
        _awaitingWrite = null;
        if (_supervised) Context.Parent.Tell(new ConfigurationStoreFailed(cause.Message));
        base.OnPersistFailure(cause, @event, sequenceNr); // logs and stops
    }

    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        _awaitingWrite?.Tell(new CommandFailed($"the configuration store rejected the change: {cause.Message}"));
        _awaitingWrite = null;
        base.OnPersistRejected(cause, @event, sequenceNr);
    }

    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        _log.Error(reason, "Recovery of the intended configuration ({0}) failed", PersistenceId);
        if (_supervised) Context.Parent.Tell(new ConfigurationStoreFailed(reason.Message));
        base.OnRecoveryFailure(reason, message);
    }
}

/// <summary>
/// Keeps a <see cref="ConfigurationActor"/> running: starts it again with back-off after it stopped on a store failure,
/// and, while it is stopped or recovering after such a failure, answers every request itself with
/// <see cref="StoreUnavailable"/> so that callers hear "retry later" at once instead of timing out. Akka's
/// BackoffSupervisor replies while the child is stopped only, not while it replays, and that is where a down store
/// keeps it.
/// </summary>
/// <remarks>
/// Forwarding is on while the child is healthy: its first recovery (requests wait in its stash as usual), and after
/// it reported <see cref="ConfigurationRecovered"/>. A failure turns forwarding off until the next successful
/// recovery. Requests already in the child's stash when the store fails are lost with it; their askers time out.
/// </remarks>
public sealed class ConfigurationSupervisor : ReceiveActor, IWithTimers
{
    private sealed record StartChild
    {
        public static readonly StartChild Instance = new();
    }

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Props _child;
    private readonly TimeSpan _minBackoff;
    private readonly TimeSpan _maxBackoff;
    private IActorRef? _current;
    private bool _healthy = true;
    private int _restarts;
    private string _failure = "";
    private DateTime _failedAt;
    private readonly Func<bool>? _mayWrite;
    private readonly ConfigurationLimits _limits;
    private long _pending;
    private long _overloaded;
    // The heavy lane: bulk writes go to the child one at a time and the others wait here, in order, while every other
    // command (and read) goes straight on. The child decides and persists in mailbox order, so before this a small write
    // sent during a bulk load waited for every bulk queued ahead of it (0.76-0.9 s p50 at 1,000 endpoints/s, docs/scale.md);
    // now it waits for the one bulk being written at most.
    private readonly Queue<(object Message, IActorRef Sender)> _heavy = new();
    private bool _heavyInChild;

    public ConfigurationSupervisor(Props child, TimeSpan minBackoff, TimeSpan maxBackoff, Func<bool>? mayWrite = null, ConfigurationLimits? limits = null)
    {
        _child = child;
        _minBackoff = minBackoff;
        _maxBackoff = maxBackoff;
        _mayWrite = mayWrite;
        _limits = limits ?? ConfigurationLimits.Default;

        Receive<StartChild>(_ => Start());
        Receive<GetPending>(_ => Sender.Tell(_pending));
        Receive<ConfigurationRecovered>(_ =>
        {
            if (!Sender.Equals(_current)) return;
            if (!_healthy)
                _log.Warning("The configuration store is back: recovered after {0:F1} s and {1} restarts", (DateTime.UtcNow - _failedAt).TotalSeconds, _restarts);
            _healthy = true;
            _restarts = 0;
            // A restarted child (an exception, not a stop) lost the bulk it was writing and will not report it: let the
            // next one through rather than hold the lane for ever.
            _heavyInChild = false;
            ReleaseHeavy();
        });
        Receive<ConfigurationStoreFailed>(f =>
        {
            if (!Sender.Equals(_current)) return;
            if (_healthy) _failedAt = DateTime.UtcNow;
            _healthy = false;
            _failure = f.Detail;
        });
        Receive<CommandDone>(d =>
        {
            if (!Sender.Equals(_current)) return;
            _pending = Math.Max(0, _pending - d.Weight);
            if (!d.Heavy) return;
            _heavyInChild = false;
            ReleaseHeavy();
        });
        Receive<Terminated>(t =>
        {
            if (!t.ActorRef.Equals(_current)) return;
            _current = null;
            _pending = 0; // what it held is lost with it; its askers time out
            _heavyInChild = false;
            while (_heavy.TryDequeue(out var waiting)) // what waited here was never sent: its askers hear it at once
                waiting.Sender.Tell(new StoreUnavailable("the configuration stopped (its store failed) before this bulk was written; nothing of it was written"));
            if (_healthy) _failedAt = DateTime.UtcNow;
            _healthy = false;
            var delay = Backoff();
            _restarts++;
            Timers.StartSingleTimer("start", StartChild.Instance, delay);
        });
        ReceiveAny(message =>
        {
            // The fence of every write: the lease (Fabric.Actors.Cluster.StoreLease) renewed lately enough that nobody
            // else can have taken it. While the store cannot be reached it is not, and writes are refused at once.
            if (message is ConfigurationCommand or Deadlined && _mayWrite is not null && !_mayWrite())
                Sender.Tell(new StoreUnavailable(LeaseNotRenewed));
            else if (_current is not null && _healthy)
            {
                if (!Admit(message)) return;
                if (IsHeavy(message))
                {
                    if (_heavyInChild) { _heavy.Enqueue((message, Sender)); return; }
                    _heavyInChild = true;
                }
                _current.Forward(message);
            }
            else
                Sender.Tell(new StoreUnavailable(
                    $"the configuration store is unavailable{(_failure.Length > 0 ? $" ({_failure})" : "")}; the configuration is " +
                    $"recovering and retries every {_maxBackoff.TotalSeconds:0.#} s at most; nothing was written"));
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(Props child, TimeSpan minBackoff, TimeSpan maxBackoff, Func<bool>? mayWrite = null, ConfigurationLimits? limits = null)
        => Akka.Actor.Props.Create(() => new ConfigurationSupervisor(child, minBackoff, maxBackoff, mayWrite, limits));

    /// <summary>
    /// What a message weighs in the pending count: a command its items (a bulk of 500 endpoints weighs 500, any other
    /// command 1), a staged bulk part its items; reads nothing (they are answered from memory).
    /// </summary>
    public static int Weight(object message) => message switch
    {
        Deadlined d => Weight(d.Command),
        StageBulkPart p => Weight(p.Part),
        ConfigurationCommand c => Math.Max(1, BulkTransfer.ItemsOf(c)),
        _ => 0,
    };

    /// <summary>A write of more than one item (a bulk, or the commit of a staged one): it takes the heavy lane.</summary>
    public static bool IsHeavy(object message) => message is ConfigurationCommand or Deadlined && Weight(message) > 1;

    /// <summary>Sends the next waiting bulk to the child, if any, with its original sender (still fenced by the lease).</summary>
    private void ReleaseHeavy()
    {
        while (!_heavyInChild && _current is not null && _healthy && _heavy.TryDequeue(out var next))
        {
            if (_mayWrite is not null && !_mayWrite())
            {
                _pending = Math.Max(0, _pending - Weight(next.Message));
                next.Sender.Tell(new StoreUnavailable(LeaseNotRenewed));
                continue;
            }
            _heavyInChild = true;
            _current.Tell(next.Message, next.Sender);
        }
    }

    /// <summary>The fence's refusal (the lease not renewed lately enough), for a write at the door or one waiting in the lane.</summary>
    private const string LeaseNotRenewed = "this node could not renew the configuration lease in the store lately (the store may be down); nothing was written";

    /// <summary>
    /// Backpressure: counts the items forwarded and not yet answered (the child reports each answer), and refuses a
    /// command that would take the count past the limit. A command arriving when nothing waits is always admitted, so
    /// the largest bulk passes on an idle configuration whatever the limit.
    /// </summary>
    private bool Admit(object message)
    {
        var weight = Weight(message);
        if (weight == 0) return true;
        if (_pending > 0 && _pending + weight > _limits.MaxPendingItems)
        {
            if (_overloaded++ % 100 == 0)
                _log.Warning("The configuration is behind: {0} items wait, refused a command of {1} ({2} refused so far)", _pending, weight, _overloaded);
            Sender.Tell(new ConfigurationOverloaded(
                $"the configuration is behind ({_pending} items wait for it; the limit is {_limits.MaxPendingItems}); nothing was written: retry in " +
                $"{_limits.RetryAfter.TotalSeconds:0.#} s", _limits.RetryAfter));
            return false;
        }
        _pending += weight;
        return true;
    }

    /// <summary>Items forwarded to the configuration and not answered yet (for tests and metrics).</summary>
    public sealed record GetPending
    {
        public static readonly GetPending Instance = new();
    }

    protected override void PreStart() => Start();

    /// <summary>The child's failures are handled by watching it stop; an exception thrown in it stops it too.</summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);

    private void Start()
    {
        _current = Context.Watch(Context.ActorOf(_child, "configuration"));
    }

    /// <summary>Doubling from the minimum up to the maximum, with up to 20 % jitter so that restarts do not align.</summary>
    private TimeSpan Backoff()
    {
        var doubled = _minBackoff.TotalMilliseconds * Math.Pow(2, Math.Min(_restarts, 20));
        var capped = Math.Min(doubled, _maxBackoff.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(capped * (1 + Random.Shared.NextDouble() * 0.2));
    }
}
