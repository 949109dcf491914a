using System.Runtime.CompilerServices;
using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Tables;

namespace Fabric.Dataplane.Pipeline;

public enum PacketOrigin : byte { LocalPort, Underlay }

/// <summary>Which node of the graph a packet goes to next.</summary>
public enum PipelineStep : byte { Input, Ethernet, ArpSuppression, ProxyArp, Bridge, Router, OverlayDeliver, Done, Dropped }

/// <summary>Per-packet metadata carried through the graph (VPP's buffer metadata).</summary>
public struct PacketMeta
{
    public PacketOrigin Origin;
    public PipelineStep Next;
    public DropReason Drop;
    /// <summary>Ingress port id (local origin).</summary>
    public int InPort;
    /// <summary>Outer IPv4 source and UDP source port (underlay origin); after decap, the member VTEP it maps to.</summary>
    public VtepEndpoint OuterSource;
    /// <summary>Start of the current frame within the slot, and its length.</summary>
    public int Offset;
    public int Length;
    public NetworkState? Network;
    public PortState? Port;
    /// <summary>Ethernet payload offset relative to <see cref="Offset"/> (14, or 18 behind a VLAN tag).</summary>
    public int L3Offset;
    public ushort EtherType;
    /// <summary>The VNI whose VXLAN header already sits in the headroom (0: none yet).</summary>
    public int EncapVni;
    /// <summary>
    /// For a GSO super-frame: the length of one of its segments as a frame (headers + gso_size), set when the port that
    /// read it commits it; 0 for an ordinary frame. The underlay MTU check (<see cref="PipelineContext.FitsUnderlay"/>)
    /// judges this, not <see cref="Length"/>: a super-frame leaves as segments.
    /// </summary>
    public int GsoSegmentLength;
    /// <summary>Already put in the drop samples (a node that rewrites a dropped frame samples it before it does).</summary>
    public bool Sampled;
    /// <summary>
    /// From a TAP with IFF_VNET_HDR: a partial checksum or a GSO super-frame, completed or segmented only where the
    /// frame leaves towards a peer that needs it (offsets from the frame's start). Default: a plain frame.
    /// </summary>
    public Offload.OffloadInfo Offload;
    /// <summary>
    /// 0: not traced (every stage pays one predictable branch on it). Else the probe id and flags
    /// (<see cref="Tracing.TraceMark"/>): set by the engine for an injected probe, by the input stage for a marked
    /// VXLAN frame from a Fabric member or for the probed endpoint's answer.
    /// </summary>
    public int Trace;
}

/// <summary>
/// A batch of frames in one pinned buffer of fixed-size slots. Each slot keeps headroom in front of the frame so that
/// encapsulation writes the VXLAN header in place, and replication to many VTEPs shares one copy of the frame.
/// </summary>
[SkipLocalsInit]
public sealed class PacketBatch
{
    /// <summary>Room in front of every frame: enough for the full outer stack (50 bytes), 64 for alignment.</summary>
    public const int Headroom = 64;

    private readonly byte[] _buffer;
    private readonly PacketMeta[] _meta;

    public PacketBatch(int capacity = 64, int maxFrame = 9216)
    {
        if (capacity <= 0) throw new ArgumentOutOfRangeException(nameof(capacity));
        Capacity = capacity;
        MaxFrame = maxFrame;
        SlotSize = (Headroom + maxFrame + VxlanHeader.Length + 63) & ~63;
        _buffer = GC.AllocateUninitializedArray<byte>(SlotSize * capacity, pinned: true);
        _meta = new PacketMeta[capacity];
        unsafe { BasePointer = (nint)Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(_buffer)); }
    }

    /// <summary>Address of slot 0: the buffer is pinned for its whole life, so the kernel may read and write it directly.</summary>
    public nint BasePointer { get; }
    public nint SlotPointer(int slot, int offset) => BasePointer + slot * SlotSize + offset;

    public int Capacity { get; }
    public int SlotSize { get; }
    /// <summary>Largest datagram a slot takes (underlay: VXLAN header plus inner frame).</summary>
    public int MaxFrame { get; }
    public int Count { get; private set; }
    public byte[] Buffer => _buffer;

    public ref PacketMeta Meta(int i) => ref _meta[i];

    /// <summary>The current frame of packet <paramref name="i"/> (after decap: the inner frame).</summary>
    public Span<byte> Frame(int i)
    {
        ref var m = ref _meta[i];
        return _buffer.AsSpan(i * SlotSize + m.Offset, m.Length);
    }

    /// <summary>The bytes of slot <paramref name="slot"/> from <paramref name="offset"/>, for the transmit side.</summary>
    public Span<byte> SlotBytes(int slot, int offset, int length) => _buffer.AsSpan(slot * SlotSize + offset, length);

    /// <summary>Where a receiver writes the next frame or datagram in place (zero copy); then call <see cref="CommitFromPort"/> or <see cref="CommitFromUnderlay"/>.</summary>
    public Span<byte> NextReceiveBuffer() => _buffer.AsSpan(Count * SlotSize + Headroom, MaxFrame);
    public bool IsFull => Count == Capacity;

    public void CommitFromPort(int portId, int length)
    {
        ref var m = ref _meta[Count++];
        m = default;
        m.Origin = PacketOrigin.LocalPort;
        m.InPort = portId;
        m.Offset = Headroom;
        m.Length = length;
    }

    /// <summary>As <see cref="CommitFromPort(int,int)"/>, for a frame that came with a virtio_net_hdr.</summary>
    public void CommitFromPort(int portId, int length, in Offload.OffloadInfo offload)
    {
        CommitFromPort(portId, length);
        ref var m = ref _meta[Count - 1];
        m.Offload = offload;
        // Once per super-frame (up to 64 KB): its segment size, for the MTU check. One the segmenter cannot cut keeps 0
        // and is judged whole; it is dropped where it would be cut anyway.
        if (offload.IsGso && Fabric.Dataplane.Offload.GsoSegmenter.TryLayout(Frame(Count - 1), offload, out var layout))
            m.GsoSegmentLength = layout.HdrLen + layout.GsoSize;
    }

    public void CommitFromUnderlay(VtepEndpoint outerSource, int length)
    {
        ref var m = ref _meta[Count++];
        m = default;
        m.Origin = PacketOrigin.Underlay;
        m.InPort = -1;
        m.OuterSource = outerSource;
        m.Offset = Headroom;
        m.Length = length;
    }

    /// <summary>Copies a frame in (tests, in-memory ports). Frames larger than a slot are refused.</summary>
    public bool AddFromPort(int portId, ReadOnlySpan<byte> frame)
    {
        if (IsFull || frame.Length > MaxFrame) return false;
        frame.CopyTo(NextReceiveBuffer());
        CommitFromPort(portId, frame.Length);
        return true;
    }

    /// <summary>Copies a VXLAN datagram (header plus inner frame, no outer IP/UDP) in, as the UDP socket delivers it.</summary>
    public bool AddFromUnderlay(VtepEndpoint outerSource, ReadOnlySpan<byte> datagram)
    {
        if (IsFull || datagram.Length > MaxFrame) return false;
        datagram.CopyTo(NextReceiveBuffer());
        CommitFromUnderlay(outerSource, datagram.Length);
        return true;
    }

    public void Clear() => Count = 0;
}
