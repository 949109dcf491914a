using System.Runtime.InteropServices;
using Fabric.Dataplane.Pipeline;
using Fabric.Dataplane.Ports;

namespace Fabric.Dataplane.Offload;

/// <summary>
/// The local-port half of the engine's transmit step, offload-aware. To a TAP with a virtio_net_hdr: a frame that came
/// with one (TAP to TAP on this node) goes as it is, super-frame or partial checksum, no work done; plain frames (from
/// the underlay) of one TCP flow that follow each other are coalesced into one super-frame and written with one
/// writev (<see cref="TcpCoalescer"/>). To any other port (a guest, a TAP without the header): super-frames are cut
/// into segments and partial checksums completed first, since those peers expect what a wire would carry.
/// One per dataplane thread; allocates nothing per packet.
/// </summary>
public sealed class PortTransmitter
{
    private readonly TcpCoalescer _coalescer = new();
    private readonly byte[] _header = new byte[256];
    private readonly nint[] _payloads = new nint[TcpCoalescer.MaxSegments];
    private readonly int[] _lengths = new int[TcpCoalescer.MaxSegments];
    private readonly byte[] _segment = GC.AllocateUninitializedArray<byte>(TapPort.MaxGsoFrame, pinned: true);

    /// <summary>Off: frames from the underlay go to TAPs one by one, as before (measurements, a misbehaving guest kernel).</summary>
    public bool Coalesce { get; set; } = true;
    /// <summary>Super-frames written whole and the segments they carried (coalesced here or passed through).</summary>
    public long SuperFrames;
    public long SegmentsCoalesced;
    /// <summary>Super-frames cut in software for a port that takes none, and partial checksums completed here.</summary>
    public long SegmentedForPort;
    public long ChecksumsCompleted;
    /// <summary>Super-frames whose headers did not make sense (dropped).</summary>
    public long BadSuperFrames;

    /// <summary>Sends every local-port entry of <paramref name="entries"/>; returns whether any underlay entry remains.</summary>
    public bool Send(PacketBatch batch, ReadOnlySpan<TxEntry> entries, IDataplanePort?[] ports, ref long sendFailures, ref long missingPort)
    {
        var anyUnderlay = false;
        for (int i = 0; i < entries.Length; i++)
        {
            ref readonly var e = ref entries[i];
            if (e.Kind == TxKind.Underlay) { anyUnderlay = true; continue; }
            var port = (uint)e.PortId < (uint)ports.Length ? ports[e.PortId] : null;
            if (port is null) { missingPort++; continue; }
            ref var meta = ref batch.Meta(e.Slot);
            var frame = batch.SlotBytes(e.Slot, e.Offset, e.Length);
            bool ok;
            if (port is TapPort { VnetHeader: true } tap)
            {
                if (meta.Offload.IsPlain && Coalesce) { i = SendRun(batch, entries, i, tap, ref sendFailures); continue; }
                ok = tap.Send(frame, meta.Offload);
            }
            else if (meta.Offload.IsGso) ok = SendSegments(port, frame, meta.Offload);
            else
            {
                if (meta.Offload.NeedsChecksum) CompleteChecksum(frame, ref meta);
                ok = port.Send(frame);
            }
            if (!ok) sendFailures++;
        }
        return anyUnderlay;
    }

    /// <summary>Completes a partial checksum in the slot, once, for every later entry of the same frame too.</summary>
    public void CompleteChecksum(Span<byte> frame, ref PacketMeta meta)
    {
        ChecksumOffload.Complete(frame, meta.Offload.CsumStart, meta.Offload.CsumOffset);
        meta.Offload = default;
        ChecksumsCompleted++;
    }

    /// <summary>Coalesces the run of entries from <paramref name="first"/> to the same TAP; returns the last index it used.</summary>
    private int SendRun(PacketBatch batch, ReadOnlySpan<TxEntry> entries, int first, TapPort tap, ref long sendFailures)
    {
        ref readonly var e = ref entries[first];
        var frame = batch.SlotBytes(e.Slot, e.Offset, e.Length);
        var c = _coalescer;
        if (!c.TryStart(frame))
        {
            if (!tap.Send(frame, default)) sendFailures++;
            return first;
        }
        var hl = c.HeaderLength;
        _payloads[0] = batch.SlotPointer(e.Slot, e.Offset + hl);
        _lengths[0] = e.Length - hl;
        var last = first;
        for (int j = first + 1; j < entries.Length; j++)
        {
            ref readonly var n = ref entries[j];
            if (n.Kind != TxKind.LocalPort || n.PortId != e.PortId || !batch.Meta(n.Slot).Offload.IsPlain) break;
            if (!c.TryAppend(batch.SlotBytes(n.Slot, n.Offset, n.Length))) break;
            _payloads[c.Count - 1] = batch.SlotPointer(n.Slot, n.Offset + hl);
            _lengths[c.Count - 1] = n.Length - hl;
            last = j;
        }
        if (c.Count == 1)
        {
            if (!tap.Send(frame, default)) sendFailures++;
            return first;
        }
        var info = c.Finish(_header);
        if (!tap.SendGather(info, _header.AsSpan(0, hl), _payloads.AsSpan(0, c.Count), _lengths.AsSpan(0, c.Count)))
            sendFailures += c.Count;
        SuperFrames++;
        SegmentsCoalesced += c.Count;
        return last;
    }

    private bool SendSegments(IDataplanePort port, ReadOnlySpan<byte> frame, in OffloadInfo offload)
    {
        if (!GsoSegmenter.TryLayout(frame, offload, out var layout)) { BadSuperFrames++; return false; }
        SegmentedForPort++;
        var ok = true;
        for (int k = 0; k < layout.Count; k++)
        {
            var len = GsoSegmenter.Segment(frame, layout, k, _segment);
            ok &= port.Send(_segment.AsSpan(0, len));
        }
        return ok;
    }
}
