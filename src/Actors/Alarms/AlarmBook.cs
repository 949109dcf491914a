namespace Fabric.Actors.Alarms;

/// <summary>
/// The alarms one node holds, by (kind, key): raise, refresh, clear, and expiry of those whose condition is only seen
/// as repeated observations (an address conflict has no "it ended" event: it ends when the claims stop). Plain logic,
/// tested without actors; <see cref="AlarmActor"/> routes to it.
/// </summary>
/// <remarks>
/// Bounded: beyond <see cref="Capacity"/> alarms a new one is counted in <see cref="Suppressed"/> instead of held (a
/// storm of conflicts must not grow a node's memory without bound; the first ones already say what is wrong).
/// </remarks>
public sealed class AlarmBook(string node, int capacity = 10_000)
{
    private sealed class Held(Alarm alarm, DateTimeOffset lastSeen)
    {
        public Alarm Alarm = alarm;
        public DateTimeOffset LastSeen = lastSeen;
    }

    private readonly Dictionary<(string Kind, string Key), Held> _held = new();

    public int Capacity { get; } = capacity;
    public long Suppressed { get; private set; }
    public int Count => _held.Count;

    /// <summary>The new alarm when this raises it; null when it was held already (refreshed: last seen now, detail updated) or suppressed.</summary>
    public Alarm? Raise(string kind, string key, string detail, DateTimeOffset now)
    {
        if (_held.TryGetValue((kind, key), out var held))
        {
            held.LastSeen = now;
            if (held.Alarm.Detail != detail) held.Alarm = held.Alarm with { Detail = detail };
            return null;
        }
        if (_held.Count >= Capacity)
        {
            Suppressed++;
            return null;
        }
        var alarm = new Alarm(node, kind, key, detail, now);
        _held[(kind, key)] = new Held(alarm, now);
        return alarm;
    }

    public bool IsHeld(string kind, string key) => _held.ContainsKey((kind, key));

    /// <summary>The cleared alarm, or null when none was held.</summary>
    public Alarm? Clear(string kind, string key)
        => _held.Remove((kind, key), out var held) ? held.Alarm : null;

    /// <summary>Clears the alarms of <paramref name="kind"/> not seen again within <paramref name="hold"/>: O(held).</summary>
    public IReadOnlyList<Alarm> Expire(string kind, TimeSpan hold, DateTimeOffset now)
    {
        List<Alarm>? gone = null;
        foreach (var (k, held) in _held)
            if (k.Kind == kind && now - held.LastSeen > hold) (gone ??= new()).Add(held.Alarm);
        if (gone is null) return [];
        foreach (var a in gone) _held.Remove((a.Kind, a.Key));
        return gone;
    }

    /// <summary>The alarms held now, oldest first.</summary>
    public Alarm[] Current()
    {
        var all = new Alarm[_held.Count];
        var i = 0;
        foreach (var h in _held.Values) all[i++] = h.Alarm;
        Array.Sort(all, (a, b) => a.Since != b.Since ? a.Since.CompareTo(b.Since) : string.CompareOrdinal(a.Key, b.Key));
        return all;
    }

    /// <summary>Held alarms of one kind (for the checks that clear them).</summary>
    public IEnumerable<Alarm> OfKind(string kind)
    {
        foreach (var h in _held.Values) if (h.Alarm.Kind == kind) yield return h.Alarm;
    }
}
