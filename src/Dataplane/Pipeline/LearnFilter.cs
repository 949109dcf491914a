using System.Runtime.CompilerServices;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Tables;

namespace Fabric.Dataplane.Pipeline;

/// <summary>
/// Keeps the dataplane from telling the actors the same thing thousands of times a second: a source seen at a new
/// location is reported once, then again only after <see cref="IntervalMs"/> (which refreshes learned entries against
/// aging). Direct-mapped and fixed-size: a collision costs one extra report, never an allocation.
/// </summary>
public sealed class LearnFilter
{
    private struct Slot { public ulong Key; public int LocationHash; public long ReportedMs; }
    private readonly Slot[] _slots;
    private readonly int _mask;

    public LearnFilter(int sizePowerOfTwo = 8192, long intervalMs = 1000)
    {
        if ((sizePowerOfTwo & (sizePowerOfTwo - 1)) != 0) throw new ArgumentException("size must be a power of two");
        _slots = new Slot[sizePowerOfTwo];
        _mask = sizePowerOfTwo - 1;
        IntervalMs = intervalMs;
    }

    public long IntervalMs { get; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool ShouldReport(int vni, MacAddress mac, in Location location, long nowMs)
    {
        var key = ((ulong)(uint)vni << 48) ^ mac.Value;
        var h = key * 0x9E3779B97F4A7C15UL;
        ref var s = ref _slots[(int)(h >> 40) & _mask];
        var loc = location.GetHashCode();
        if (s.Key == key && s.LocationHash == loc && nowMs - s.ReportedMs < IntervalMs) return false;
        s.Key = key;
        s.LocationHash = loc;
        s.ReportedMs = nowMs;
        return true;
    }
}
