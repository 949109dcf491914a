using System.Collections.Frozen;
using Fabric.Dataplane.Packets;

namespace Fabric.Dataplane.Tables;

/// <summary>One forwarding entry: where a MAC is, who said so, and its mobility sequence number.</summary>
public readonly record struct FdbEntry(MacAddress Mac, Location Location, EntrySource Source, long Sequence, long LastSeenMs = 0);

/// <summary>The immutable per-VNI FDB the dataplane reads.</summary>
public sealed class FdbSnapshot
{
    public static readonly FdbSnapshot Empty = new(FrozenDictionary<ulong, FdbEntry>.Empty, int.MaxValue);
    private readonly FrozenDictionary<ulong, FdbEntry> _entries;

    public FdbSnapshot(FrozenDictionary<ulong, FdbEntry> entries, int capacity)
    {
        _entries = entries;
        Capacity = capacity;
    }

    public int Count => _entries.Count;
    public int Capacity { get; }
    /// <summary>When full, frames from unknown source MACs are dropped (FdbFull) instead of flooded: MAC flooding stops here.</summary>
    public bool IsFull => _entries.Count >= Capacity;
    public bool TryGet(MacAddress mac, out FdbEntry entry) => _entries.TryGetValue(mac.Value, out entry);
    public IEnumerable<FdbEntry> Entries => _entries.Values;
}

public enum FdbUpdate : byte { Added, Refreshed, Moved, Unchanged, RefusedFull, RefusedStale, RefusedConfigured }

/// <summary>
/// The mutable per-VNI FDB a VTEP actor owns. Config entries are authoritative; gossip entries obey the mobility
/// sequence (highest wins); learned entries age out. A capacity limit bounds everything but config, and every refusal
/// is counted. <see cref="Freeze"/> produces the snapshot the dataplane reads.
/// </summary>
public sealed class FdbTable
{
    private readonly Dictionary<ulong, FdbEntry> _entries = new();

    public FdbTable(int capacity = 16384, long agingMs = 300_000)
    {
        if (capacity <= 0) throw new ArgumentOutOfRangeException(nameof(capacity));
        Capacity = capacity;
        AgingMs = agingMs;
    }

    public int Capacity { get; }
    public long AgingMs { get; }
    public int Count => _entries.Count;
    public long RefusedFull { get; private set; }
    public bool IsFull => _entries.Count >= Capacity;

    public bool TryGet(MacAddress mac, out FdbEntry entry) => _entries.TryGetValue(mac.Value, out entry);
    public IEnumerable<FdbEntry> Entries => _entries.Values;

    /// <summary>Configuration is the truth: always admitted, replaces whatever was there.</summary>
    public FdbUpdate SetConfigured(MacAddress mac, Location location, long sequence)
    {
        var existed = _entries.TryGetValue(mac.Value, out var old);
        _entries[mac.Value] = new FdbEntry(mac, location, EntrySource.Config, sequence);
        return !existed ? FdbUpdate.Added : old.Location == location && old.Sequence == sequence ? FdbUpdate.Unchanged : FdbUpdate.Moved;
    }

    /// <summary>A location heard from another node. Highest sequence wins; configured entries are never displaced.</summary>
    public FdbUpdate SetGossip(MacAddress mac, Location location, long sequence)
    {
        if (_entries.TryGetValue(mac.Value, out var old))
        {
            if (old.Source == EntrySource.Config && old.Sequence >= sequence) return FdbUpdate.RefusedConfigured;
            if (old.Source == EntrySource.Gossip && old.Sequence > sequence) return FdbUpdate.RefusedStale;
            if (old.Source == EntrySource.Gossip && old.Sequence == sequence && old.Location == location) return FdbUpdate.Unchanged;
            _entries[mac.Value] = new FdbEntry(mac, location, EntrySource.Gossip, sequence);
            return old.Location == location ? FdbUpdate.Refreshed : FdbUpdate.Moved;
        }
        if (IsFull) { RefusedFull++; return FdbUpdate.RefusedFull; }
        _entries[mac.Value] = new FdbEntry(mac, location, EntrySource.Gossip, sequence);
        return FdbUpdate.Added;
    }

    /// <summary>A MAC the dataplane saw at <paramref name="location"/> at <paramref name="nowMs"/>.</summary>
    public FdbUpdate Learn(MacAddress mac, Location location, long nowMs)
    {
        if (_entries.TryGetValue(mac.Value, out var old))
        {
            if (old.Source != EntrySource.Learned) return old.Location == location ? FdbUpdate.Unchanged : FdbUpdate.RefusedConfigured;
            _entries[mac.Value] = old with { Location = location, LastSeenMs = nowMs, Sequence = old.Location == location ? old.Sequence : old.Sequence + 1 };
            return old.Location == location ? FdbUpdate.Refreshed : FdbUpdate.Moved;
        }
        if (IsFull) { RefusedFull++; return FdbUpdate.RefusedFull; }
        _entries[mac.Value] = new FdbEntry(mac, location, EntrySource.Learned, 0, nowMs);
        return FdbUpdate.Added;
    }

    public bool Remove(MacAddress mac) => _entries.Remove(mac.Value);

    /// <summary>Removes every entry pointing at <paramref name="vtep"/> that is not configuration (a node left or was downed).</summary>
    public int WithdrawVtep(VtepEndpoint vtep)
    {
        var removed = 0;
        foreach (var e in _entries.Values.ToArray())
            if (e.Source != EntrySource.Config && e.Location.IsRemote && e.Location.Vtep == vtep && _entries.Remove(e.Mac.Value)) removed++;
        return removed;
    }

    /// <summary>Removes learned entries not seen for the aging time; returns how many went.</summary>
    public int Age(long nowMs)
    {
        var removed = 0;
        foreach (var e in _entries.Values.ToArray())
            if (e.Source == EntrySource.Learned && nowMs - e.LastSeenMs > AgingMs && _entries.Remove(e.Mac.Value)) removed++;
        return removed;
    }

    public FdbSnapshot Freeze() => new(_entries.ToFrozenDictionary(), Capacity);
}
