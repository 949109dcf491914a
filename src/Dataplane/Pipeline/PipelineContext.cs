using System.Runtime.CompilerServices;
using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Events;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Tables;
using Fabric.Dataplane.Tracing;

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
    /// <summary>Hops of traced packets (<see cref="PacketMeta.Trace"/> non-zero); untraced packets never touch it.</summary>
    public TraceRecorder Trace = new();
    /// <summary>The stage running now (set once per stage per batch), named in the hops it records.</summary>
    public TraceStage Stage;

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
        if (m.Trace != 0) TraceDrop(ref m, reason);
    }

    /// <summary>Records a hop of a traced packet (callers test <see cref="PacketMeta.Trace"/> first).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public void TraceHop(ref PacketMeta m, TraceAction action, int portId = -1, VtepEndpoint vtep = default, ulong mac = 0, int count = 0)
    {
        var hop = new TraceHop
        {
            Probe = m.Trace, Stage = Stage, Action = action, Vni = m.Network?.Vni ?? 0, PortId = portId, Vtep = vtep, Mac = mac,
            Count = count, SnapshotVersion = Snapshot.Version,
        };
        Trace.Record(in hop);
    }

    /// <summary>Records the route a traced packet took (<see cref="Nodes.RouterNode"/>).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public void TraceRoute(ref PacketMeta m, in Route route, MacAddress next)
    {
        var hop = new TraceHop
        {
            Probe = m.Trace, Stage = Stage, Action = TraceAction.Routed, Vni = m.Network?.Vni ?? 0, PortId = -1, Mac = next.Value,
            RouteKind = (byte)(route.Target.Kind + 1), PrefixAddress = route.Destination.Network.Value, PrefixLength = (byte)route.Destination.Length,
            SnapshotVersion = Snapshot.Version,
        };
        Trace.Record(in hop);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    public void TraceDrop(ref PacketMeta m, DropReason reason)
    {
        var hop = new TraceHop
        {
            Probe = m.Trace, Stage = Stage, Action = TraceAction.Dropped, Reason = reason, Vni = m.Network?.Vni ?? 0,
            PortId = m.Origin == PacketOrigin.LocalPort ? m.InPort : -1, Vtep = m.Origin == PacketOrigin.Underlay ? m.OuterSource : default,
            SnapshotVersion = Snapshot.Version,
        };
        Trace.Record(in hop);
    }

    /// <summary>
    /// A traced packet is about to leave through a local port: false when it must not. An answer for the probe's
    /// sender (to the port it came in on, or the probed endpoint's reply) is absorbed: the VM never sent the probe.
    /// A probe asked not to be delivered stops here, counted. Otherwise it is delivered and its answer looked for.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool TraceToPort(int i, ref PacketMeta m, int portId)
    {
        if ((m.Origin == PacketOrigin.LocalPort && portId == m.InPort) || TraceMark.IsReply(m.Trace))
        {
            Trace.Absorbed++;
            TraceHop(ref m, TraceAction.Absorbed, portId);
            return false;
        }
        if ((m.Trace & TraceMark.NoDeliverBit) != 0)
        {
            Trace.Stopped++;
            TraceHop(ref m, TraceAction.Stopped, portId);
            return false;
        }
        TraceHop(ref m, TraceAction.Delivered, portId);
        var frame = Batch.Frame(i);
        if (m.EtherType == EtherTypes.Ipv4 && Ipv4Header.TryParse(frame.Slice(m.L3Offset), out var ip) == PacketError.None)
            Trace.ExpectReply(m.Network?.Vni ?? 0, ip.Source.Value, ip.Destination.Value, ip.Protocol,
                TraceRecorder.L4Key(ip.Protocol, ip.Payload, reverse: true), m.Trace, NowMs);
        return true;
    }

    /// <summary>
    /// Marks the VXLAN header of a traced packet for a Fabric member; for an external VTEP the header is left (and stays,
    /// for every replica of the slot: they share it) unmarked, since the kernel drops VXLAN with reserved bits set.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void TraceToVtep(int i, ref PacketMeta m, in VtepEndpoint vtep)
    {
        var member = Trace.IsFabricMember(vtep);
        if (!member) m.Trace |= TraceMark.UnmarkedBit;
        TraceMark.Write(Batch.SlotBytes(i, m.Offset - VxlanHeader.Length, VxlanHeader.Length), m.Trace, (m.Trace & TraceMark.UnmarkedBit) == 0);
        TraceHop(ref m, member ? TraceAction.Encapsulated : TraceAction.SentExternal, -1, vtep);
    }

    public void Raise(DataplaneEventKind kind, int vni, MacAddress mac, Ipv4Address ip, in Location location, MacAddress other = default)
        => Events.TryWrite(new DataplaneEvent(kind, vni, mac, ip, location, other));

    /// <summary>Queues the current frame of packet <paramref name="i"/> for a local port of the packet's own network.</summary>
    public void EmitToPort(int i, ref PacketMeta m, int portId) => EmitToPort(i, ref m, portId, m.Network!.Counters);

    /// <summary>Queues the frame for a local port, charging the network it is delivered into (a leak: not the ingress one).</summary>
    public void EmitToPort(int i, ref PacketMeta m, int portId, VniCounters counters)
    {
        if (m.Trace != 0 && !TraceToPort(i, ref m, portId)) return;
        if (!Tx.TryAdd(new TxEntry(TxKind.LocalPort, portId, default, i, m.Offset, m.Length)))
        {
            m.Drop = DropReason.TxOverflow;
            if (m.Trace != 0) TraceDrop(ref m, DropReason.TxOverflow);
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
        if (m.Trace != 0) TraceToVtep(i, ref m, vtep);
        if (!Tx.TryAdd(new TxEntry(TxKind.Underlay, -1, vtep, i, m.Offset - VxlanHeader.Length, m.Length + VxlanHeader.Length)))
        {
            m.Drop = DropReason.TxOverflow;
            if (m.Trace != 0) TraceDrop(ref m, DropReason.TxOverflow);
            return;
        }
        counters.Lane(Lane).Encapsulated++;
        counters.Lane(Lane).TxBytes += m.Length;
    }
}
