namespace Fabric.Actors.Intent;

/// <summary>The outcome of <see cref="FabricConfiguration.Decide"/>: events to persist, or a rejection.</summary>
public abstract record Decision
{
    private Decision() { }

    /// <summary>Accepted. No events means the command asked for what already holds (an idempotent no-op).</summary>
    public sealed record Accept(IReadOnlyList<ConfigurationEvent> Events) : Decision;

    public sealed record Reject(Rejection Rejection) : Decision;

    public static readonly Decision Unchanged = new Accept([]);
    public static Decision Emit(ConfigurationEvent e) => new Accept([e]);

    public static implicit operator Decision(Rejection r) => new Reject(r);
}
