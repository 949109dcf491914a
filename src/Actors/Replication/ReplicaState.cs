using Fabric.Actors.Intent;

namespace Fabric.Actors.Replication;

public enum ReplicaOutcomeKind
{
    /// <summary>A duplicate or an old message: nothing changed.</summary>
    Ignored,
    /// <summary>A delta was applied; its events are in the outcome.</summary>
    Applied,
    /// <summary>A snapshot was completed: the state was replaced wholesale.</summary>
    Reset,
    /// <summary>A snapshot chunk was taken; the state changes when the last one arrives.</summary>
    Building,
    /// <summary>Something was lost, reordered, or belongs to another epoch: register again for a snapshot.</summary>
    Resync,
}

public sealed record ReplicaOutcome(ReplicaOutcomeKind Kind, IReadOnlyList<ConfigurationEvent> Events)
{
    public static readonly ReplicaOutcome Ignored = new(ReplicaOutcomeKind.Ignored, []);
    public static readonly ReplicaOutcome Reset = new(ReplicaOutcomeKind.Reset, []);
    public static readonly ReplicaOutcome Building = new(ReplicaOutcomeKind.Building, []);
    public static readonly ReplicaOutcome Resync = new(ReplicaOutcomeKind.Resync, []);
}

/// <summary>
/// A node's side of replication as a pure machine: applies the hub's stream in Seq order, ignores duplicates, and
/// asks for a snapshot on any gap, reordering or epoch change. The state it holds is replaced only when a whole
/// snapshot has arrived, so a catch-up never shows the node's actors a half-built projection. Cost per delta:
/// O(its events × log n).
/// </summary>
public sealed class ReplicaState
{
    private FabricConfiguration? _building;
    private int _buildCount;
    private int _buildIndex;

    public string? Epoch { get; private set; }
    /// <summary>The Seq the next message must carry.</summary>
    public long Next { get; private set; }
    public FabricConfiguration State { get; private set; } = FabricConfiguration.Empty;
    public long Revision { get; private set; } = -1;
    /// <summary>A whole snapshot has been installed at least once.</summary>
    public bool HasState { get; private set; }

    public ReplicaOutcome Offer(IReplicaMessage message)
    {
        switch (message)
        {
            case ReplicaSnapshot s when s.Index == 0:
                if (s.Epoch == Epoch && s.Seq < Next) return ReplicaOutcome.Ignored;
                Epoch = s.Epoch;
                Next = s.Seq + 1;
                _building = FabricConfiguration.Empty.ApplyAll(s.Events);
                _buildCount = s.Count;
                _buildIndex = 0;
                return Finish(s);
            case ReplicaSnapshot s:
                if (s.Epoch == Epoch && s.Seq < Next) return ReplicaOutcome.Ignored;
                if (_building is null || s.Epoch != Epoch || s.Seq != Next || s.Index != _buildIndex + 1 || s.Count != _buildCount)
                    return Lost();
                Next++;
                _building = _building.ApplyAll(s.Events);
                _buildIndex = s.Index;
                return Finish(s);
            case ReplicaDelta d:
                if (d.Epoch != Epoch) return Lost();
                if (d.Seq < Next) return ReplicaOutcome.Ignored;
                if (d.Seq > Next || _building is not null) return Lost();
                Next++;
                State = State.ApplyAll(d.Events);
                Revision = Math.Max(Revision, d.Revision);
                return new ReplicaOutcome(ReplicaOutcomeKind.Applied, d.Events);
            case ReplicaTick t:
                // The hub sent up to t.Seq; everything up to Next - 1 arrived. (Per-pair order: a tick never overtakes.)
                if (t.Epoch != Epoch || t.Seq >= Next) return Lost();
                // In step: every write up to the tick's revision that concerns this node is applied here.
                if (_building is null) Revision = Math.Max(Revision, t.Revision);
                return ReplicaOutcome.Ignored;
            default:
                return ReplicaOutcome.Ignored;
        }
    }

    private ReplicaOutcome Finish(ReplicaSnapshot s)
    {
        if (_buildIndex < _buildCount - 1) return ReplicaOutcome.Building;
        State = _building!;
        _building = null;
        Revision = s.Revision;
        HasState = true;
        return ReplicaOutcome.Reset;
    }

    private ReplicaOutcome Lost()
    {
        _building = null;
        return ReplicaOutcome.Resync;
    }
}
