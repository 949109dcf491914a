using System.Runtime.CompilerServices;
using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Events;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Tables;

namespace Fabric.Dataplane.Pipeline;

/// <summary>What every node of the graph works with for one batch. One instance per dataplane thread, reused.</summary>
public sealed class PipelineContext
{
    public PipelineContext(EventRing events, LearnFilter learnFilter, DataplaneCounters counters)
    {
        Events = events; LearnFilter = learnFilter; Counters = counters;
    }

    public ForwardingSnapshot Snapshot = ForwardingSnapshot.Empty;
    public PacketBatch Batch = null!;
    public TxBatch Tx = null!;
    public long NowMs;
    /// <summary>This dataplane thread's index: the counter lane it writes (<see cref="VniCounters.Lane"/>).</summary>
    public int Lane { get; init; }
    /// <summary>The underlay's IP MTU; 0: not checked.</summary>
    public int UnderlayMtu;
    /// <summary>Where drops are sampled; null when sampling is off (the hot path then pays one branch per drop).</summary>
    public DropSampler? Samples;

    /// <summary>Outer IPv4 (20) + UDP (8) + VXLAN (8) in front of an inner frame; with the inner Ethernet header, 50.</summary>
    public const int OuterOverhead = 36;

    /// <summary>Whether the packet, encapsulated, fits the underlay MTU (a GSO super-frame is judged by one segment).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool FitsUnderlay(in PacketMeta m)
        => UnderlayMtu == 0 || (m.GsoSegmentLength != 0 ? m.GsoSegmentLength : m.Length) + OuterOverhead <= UnderlayMtu;

    /// <summary>Samples packet <paramref name="i"/> as dropped for <paramref name="reason"/> now, before its frame is rewritten.</summary>
    public void SampleNow(int i, ref PacketMeta m, DropReason reason)
    {
        if (Samples is null) return;
        Samples.Record(reason, i, ref m, Batch, NowMs);
        m.Sampled = true;
    }
    public EventRing Events { get; }
    public LearnFilter LearnFilter { get; }
    public DataplaneCounters Counters { get; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Drop(ref PacketMeta m, DropReason reason)
    {
        m.Drop = reason;
        m.Next = PipelineStep.Dropped;
    }

    public void Raise(DataplaneEventKind kind, int vni, MacAddress mac, Ipv4Address ip, in Location location, MacAddress other = default)
        => Events.TryWrite(new DataplaneEvent(kind, vni, mac, ip, location, other));

    /// <summary>Queues the current frame of packet <paramref name="i"/> for a local port of the packet's own network.</summary>
    public void EmitToPort(int i, ref PacketMeta m, int portId) => EmitToPort(i, ref m, portId, m.Network!.Counters);

    /// <summary>Queues the frame for a local port, charging the network it is delivered into (a leak: not the ingress one).</summary>
    public void EmitToPort(int i, ref PacketMeta m, int portId, VniCounters counters)
    {
        if (!Tx.TryAdd(new TxEntry(TxKind.LocalPort, portId, default, i, m.Offset, m.Length)))
        {
            m.Drop = DropReason.TxOverflow;
            return;
        }
        var port = Snapshot.Port(portId);
        if (port is not null)
        {
            port.Counters.Lane(Lane).TxPackets++;
            port.Counters.Lane(Lane).TxBytes += m.Length;
        }
        counters.Lane(Lane).TxPackets++;
        counters.Lane(Lane).TxBytes += m.Length;
    }

    /// <summary>
    /// Queues packet <paramref name="i"/> for a remote VTEP inside VXLAN with <paramref name="vni"/>. The 8-byte header
    /// is written once into the headroom; every further replica only adds a transmit entry.
    /// </summary>
    public void EmitToVtep(int i, ref PacketMeta m, in VtepEndpoint vtep, int vni, VniCounters counters)
    {
        if (m.EncapVni != vni)
        {
            VxlanHeader.Write(Batch.SlotBytes(i, m.Offset - VxlanHeader.Length, VxlanHeader.Length), vni);
            m.EncapVni = vni;
        }
        if (!Tx.TryAdd(new TxEntry(TxKind.Underlay, -1, vtep, i, m.Offset - VxlanHeader.Length, m.Length + VxlanHeader.Length)))
        {
            m.Drop = DropReason.TxOverflow;
            return;
        }
        counters.Lane(Lane).Encapsulated++;
        counters.Lane(Lane).TxBytes += m.Length;
    }
}
