using System.Runtime.CompilerServices;

namespace Fabric.Dataplane.Counters;

// Counters are split into lanes, one per dataplane thread (issue 11: N threads read the one snapshot and would otherwise
// all write the same VNI's and port's fields). A lane has one writer, its thread, which increments plain fields: no lock,
// no interlocked add. Readers sum the lanes with Volatile.Read and may see a value a few packets old, never a torn one
// (64-bit loads are atomic on 64-bit runtimes). Lane 0 is allocated with the counters; lane k > 0 by thread k itself the
// first time it charges this VNI or port (once, never per packet). An object comes from the allocating thread's own
// allocation context, so two threads' lanes do not share a cache line (no false sharing) and a node whose second thread
// never touches a port pays nothing for it.

/// <summary>How many dataplane threads (lanes) counters can hold.</summary>
public static class CounterLanes
{
    public const int Max = 64;
}

/// <summary>What every lane has: its drop counts by reason (summed by <see cref="LaneSet{T}.Drop"/> and <see cref="LaneSet{T}.Drops"/>).</summary>
public abstract class DropLane
{
    public readonly long[] Drops = new long[DropReasons.Count];
}

/// <summary>Lane 0 held inline, the others in an array created by the first of them that writes.</summary>
internal struct LaneSet<T> where T : DropLane, new()
{
    public readonly T First;
    private T?[]? _others;

    public LaneSet() => First = new T();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public T At(int lane) => lane == 0 ? First : Other(lane);

    private T Other(int lane)
    {
        var others = Volatile.Read(ref _others);
        if (others is null)
        {
            Interlocked.CompareExchange(ref _others, new T?[CounterLanes.Max], null);
            others = _others!;
        }
        // Only lane's own thread writes this slot.
        return Volatile.Read(ref others[lane]) ?? Create(others, lane);
    }

    private static T Create(T?[] others, int lane)
    {
        var t = new T();
        Volatile.Write(ref others[lane], t);
        return t;
    }

    public readonly long Sum(Func<T, long> read)
    {
        var total = read(First);
        if (Volatile.Read(ref Unsafe.AsRef(in _others)) is { } others)
            foreach (var o in others)
                if (o is not null) total += read(o);
        return total;
    }

    public readonly long Drop(DropReason reason)
    {
        var r = (int)reason;
        var total = Volatile.Read(ref First.Drops[r]);
        if (Volatile.Read(ref Unsafe.AsRef(in _others)) is { } others)
            foreach (var o in others)
                if (o is not null) total += Volatile.Read(ref o.Drops[r]);
        return total;
    }

    /// <summary>A copy of the drop counts by reason, summed over the lanes.</summary>
    public readonly long[] Drops()
    {
        var sum = new long[DropReasons.Count];
        Add(sum, First);
        if (Volatile.Read(ref Unsafe.AsRef(in _others)) is { } others)
            foreach (var o in others)
                if (o is not null) Add(sum, o);
        return sum;
    }

    private static void Add(long[] sum, T lane)
    {
        for (int r = 0; r < sum.Length; r++) sum[r] += Volatile.Read(ref lane.Drops[r]);
    }
}

/// <summary>One thread's share of a VNI's counters.</summary>
public sealed class VniCounterLane : DropLane
{
    public long RxPackets;
    public long RxBytes;
    public long TxPackets;
    public long TxBytes;
    public long Encapsulated;
    public long Decapsulated;
    public long Flooded;
    public long ArpAnswered;
    public long ArpAbsorbed;
    public long GatewayEchoReplies;
    public long VlanTagged;
}

/// <summary>Per network (VNI) counters, summed over the dataplane threads. Created once by the control plane and carried across snapshots.</summary>
public sealed class VniCounters
{
    private LaneSet<VniCounterLane> _lanes = new();

    /// <summary>Dataplane thread <paramref name="lane"/>'s cells: only that thread writes them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public VniCounterLane Lane(int lane) => _lanes.At(lane);

    public long RxPackets => _lanes.Sum(static c => Volatile.Read(ref c.RxPackets));
    public long RxBytes => _lanes.Sum(static c => Volatile.Read(ref c.RxBytes));
    public long TxPackets => _lanes.Sum(static c => Volatile.Read(ref c.TxPackets));
    public long TxBytes => _lanes.Sum(static c => Volatile.Read(ref c.TxBytes));
    public long Encapsulated => _lanes.Sum(static c => Volatile.Read(ref c.Encapsulated));
    public long Decapsulated => _lanes.Sum(static c => Volatile.Read(ref c.Decapsulated));
    public long Flooded => _lanes.Sum(static c => Volatile.Read(ref c.Flooded));
    public long ArpAnswered => _lanes.Sum(static c => Volatile.Read(ref c.ArpAnswered));
    public long ArpAbsorbed => _lanes.Sum(static c => Volatile.Read(ref c.ArpAbsorbed));
    public long GatewayEchoReplies => _lanes.Sum(static c => Volatile.Read(ref c.GatewayEchoReplies));
    public long VlanTagged => _lanes.Sum(static c => Volatile.Read(ref c.VlanTagged));
    /// <summary>A copy of the drop counts by reason, summed over the threads.</summary>
    public long[] Drops => _lanes.Drops();

    public long Drop(DropReason reason) => _lanes.Drop(reason);
    public long TotalDrops()
    {
        var d = Drops;
        long t = 0;
        for (int i = 1; i < d.Length; i++) t += d[i];
        return t;
    }
}

/// <summary>One thread's share of a local port's counters.</summary>
public sealed class PortCounterLane : DropLane
{
    public long RxPackets;
    public long RxBytes;
    public long TxPackets;
    public long TxBytes;
}

/// <summary>Per local port counters, summed over the dataplane threads. Created once by the control plane and carried across snapshots.</summary>
public sealed class PortCounters
{
    private LaneSet<PortCounterLane> _lanes = new();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public PortCounterLane Lane(int lane) => _lanes.At(lane);

    public long RxPackets => _lanes.Sum(static c => Volatile.Read(ref c.RxPackets));
    public long RxBytes => _lanes.Sum(static c => Volatile.Read(ref c.RxBytes));
    public long TxPackets => _lanes.Sum(static c => Volatile.Read(ref c.TxPackets));
    public long TxBytes => _lanes.Sum(static c => Volatile.Read(ref c.TxBytes));
    public long[] Drops => _lanes.Drops();
    public long Drop(DropReason reason) => _lanes.Drop(reason);
}

/// <summary>One thread's share of the dataplane's own counters.</summary>
public sealed class DataplaneCounterLane : DropLane
{
    public long Batches;
    public long Packets;
    public long EventsLost;
    public long EventsSuppressed;
}

/// <summary>Counters the dataplane owns for what cannot be charged to a VNI or port, summed over its threads.</summary>
public sealed class DataplaneCounters
{
    private LaneSet<DataplaneCounterLane> _lanes = new();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public DataplaneCounterLane Lane(int lane) => _lanes.At(lane);

    public long Batches => _lanes.Sum(static c => Volatile.Read(ref c.Batches));
    public long Packets => _lanes.Sum(static c => Volatile.Read(ref c.Packets));
    public long EventsLost => _lanes.Sum(static c => Volatile.Read(ref c.EventsLost));
    public long EventsSuppressed => _lanes.Sum(static c => Volatile.Read(ref c.EventsSuppressed));
    /// <summary>Drops before a VNI was known (unknown VNI, malformed VXLAN, unknown port), by reason: a summed copy.</summary>
    public long[] Drops => _lanes.Drops();
    public long Drop(DropReason reason) => _lanes.Drop(reason);
}
