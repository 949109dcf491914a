using Akka.Actor;
using Akka.Event;
using Akka.Pattern;
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
public sealed class ConfigurationActor : ReceivePersistentActor
{
    public const string DefaultPersistenceId = "fabric-configuration";

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private FabricConfiguration _state = FabricConfiguration.Empty;
    private IActorRef? _awaitingWrite;

    public ConfigurationActor(string persistenceId)
    {
        PersistenceId = persistenceId;

        Recover<ConfigurationEvent>(e => _state = _state.Apply(e));
        Command<ConfigurationCommand>(Handle);
        Command<GetConfiguration>(_ => Sender.Tell(ConfigurationListing.Of(_state, LastSequenceNr)));
    }

    public override string PersistenceId { get; }

    /// <summary>The bare actor; a journal failure stops it.</summary>
    public static Props Props(string persistenceId = DefaultPersistenceId)
        => Akka.Actor.Props.Create(() => new ConfigurationActor(persistenceId));

    /// <summary>
    /// The actor under a back-off supervisor that starts it again after it stopped on a journal failure
    /// (0.2 s, doubling up to 10 s). Messages go through the supervisor; while the child is down they are
    /// dead letters and the asker times out.
    /// </summary>
    public static Props PropsWithBackoff(string persistenceId = DefaultPersistenceId, TimeSpan? minBackoff = null)
        => BackoffSupervisor.Props(Backoff.OnStop(
            Props(persistenceId),
            childName: "configuration",
            minBackoff: minBackoff ?? TimeSpan.FromMilliseconds(200),
            maxBackoff: TimeSpan.FromSeconds(10),
            randomFactor: 0.2,
            maxNrOfRetries: -1));

    private void Handle(ConfigurationCommand command)
    {
        switch (_state.Decide(command))
        {
            case Decision.Reject reject:
                Sender.Tell(new CommandRejected(reject.Rejection));
                break;

            case Decision.Accept { Events.Count: 0 }:
                Sender.Tell(new CommandAccepted([], LastSequenceNr));
                break;

            case Decision.Accept accept:
                var replyTo = Sender;
                _awaitingWrite = replyTo;
                var remaining = accept.Events.Count;
                // PersistAll writes the events as one atomic write; the handler runs once per event after it.
                PersistAll(accept.Events, e =>
                {
                    _state = _state.Apply(e);
                    if (--remaining > 0) return;
                    _awaitingWrite = null;
                    replyTo.Tell(new CommandAccepted(accept.Events.ToArray(), LastSequenceNr)); // a plain array: it may cross the wire
                    // Local notice; the announcer beside the singleton spreads it to every node's replica.
                    Context.System.EventStream.Publish(new Node.ConfigurationChanged(LastSequenceNr));
                });
                break;
        }
    }

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        _awaitingWrite?.Tell(new CommandFailed($"the configuration store did not take the change: {cause.Message}"));
        _awaitingWrite = null;
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
        base.OnRecoveryFailure(reason, message);
    }
}
