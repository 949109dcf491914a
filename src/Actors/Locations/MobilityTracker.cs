namespace Fabric.Actors.Locations;

public enum MoveVerdict { Allowed, FreezesNow, Frozen }

/// <summary>
/// EVPN duplicate MAC detection (RFC 7432 §15.1): more than <see cref="MaxMoves"/> moves of one MAC within
/// <see cref="Window"/> freeze it where it is and raise an alarm; it stays frozen until an operator clears it
/// (or, when set, until <see cref="Hold"/> has passed without further moves).
/// </summary>
public sealed class MobilityTracker
{
    private readonly Dictionary<string, Queue<DateTimeOffset>> _moves = new();
    private readonly Dictionary<string, DateTimeOffset> _frozen = new();

    public MobilityTracker(int maxMoves = 5, TimeSpan? window = null, TimeSpan? hold = null)
    {
        MaxMoves = maxMoves;
        Window = window ?? TimeSpan.FromSeconds(180);
        Hold = hold;
    }

    public int MaxMoves { get; }
    public TimeSpan Window { get; }
    public TimeSpan? Hold { get; }
    public IReadOnlyCollection<string> FrozenKeys => _frozen.Keys;

    public bool IsFrozen(string key, DateTimeOffset now)
    {
        if (!_frozen.TryGetValue(key, out var since)) return false;
        if (Hold is { } hold && now - since > hold) { _frozen.Remove(key); _moves.Remove(key); return false; }
        return true;
    }

    /// <summary>Records one move of <paramref name="key"/> at <paramref name="now"/>.</summary>
    public MoveVerdict Observe(string key, DateTimeOffset now)
    {
        if (IsFrozen(key, now)) return MoveVerdict.Frozen;
        if (!_moves.TryGetValue(key, out var q)) _moves[key] = q = new Queue<DateTimeOffset>();
        q.Enqueue(now);
        while (q.Count > 0 && now - q.Peek() > Window) q.Dequeue();
        if (q.Count <= MaxMoves) return MoveVerdict.Allowed;
        _frozen[key] = now;
        return MoveVerdict.FreezesNow;
    }

    public int MovesInWindow(string key, DateTimeOffset now)
        => _moves.TryGetValue(key, out var q) ? q.Count(t => now - t <= Window) : 0;

    public void Clear(string key)
    {
        _frozen.Remove(key);
        _moves.Remove(key);
    }
}
