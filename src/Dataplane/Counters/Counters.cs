namespace Fabric.Dataplane.Counters;

// Counters are plain fields with one writer: the dataplane thread. Other threads read them with Volatile.Read and
// may see a value a few packets old, never a torn one (64-bit loads are atomic on 64-bit runtimes). No locks.

/// <summary>Per network (VNI) counters. Created once by the control plane and carried across snapshots.</summary>
public sealed class VniCounters
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
    public readonly long[] Drops = new long[DropReasons.Count];

    public long Drop(DropReason reason) => Volatile.Read(ref Drops[(int)reason]);
    public long TotalDrops()
    {
        long t = 0;
        for (int i = 1; i < Drops.Length; i++) t += Volatile.Read(ref Drops[i]);
        return t;
    }
}

/// <summary>Per local port counters. Created once by the control plane and carried across snapshots.</summary>
public sealed class PortCounters
{
    public long RxPackets;
    public long RxBytes;
    public long TxPackets;
    public long TxBytes;
    public readonly long[] Drops = new long[DropReasons.Count];
    public long Drop(DropReason reason) => Volatile.Read(ref Drops[(int)reason]);
}

/// <summary>Counters the dataplane owns for what cannot be charged to a VNI or port.</summary>
public sealed class DataplaneCounters
{
    public long Batches;
    public long Packets;
    public long EventsLost;
    public long EventsSuppressed;
    /// <summary>Drops before a VNI was known (unknown VNI, malformed VXLAN, unknown port), by reason.</summary>
    public readonly long[] Drops = new long[DropReasons.Count];
    public long Drop(DropReason reason) => Volatile.Read(ref Drops[(int)reason]);
}
