using Fabric.Dataplane.Pipeline;
using Fabric.Dataplane.Tables;

namespace Fabric.Dataplane.Counters;

/// <summary>One dropped packet as a reader copied it out of the ring.</summary>
/// <param name="Reason">Why it was dropped.</param>
/// <param name="AtTickMs">Environment.TickCount64 when it was dropped (the reader turns it into wall time).</param>
/// <param name="PortId">Ingress port id (a frame from a local port), else -1.</param>
/// <param name="Vtep">The VTEP it came from (a frame from the underlay), else default.</param>
/// <param name="Vni">The network it was bound to when dropped; 0 before one was known (unknown port or VNI).</param>
/// <param name="Encapsulated">True when <paramref name="Bytes"/> start with the VXLAN header (dropped before decapsulation).</param>
/// <param name="Length">The frame's whole length; <paramref name="Bytes"/> holds at most its first <see cref="DropSampler.MaxBytes"/>.</param>
/// <param name="Bytes">The first bytes of the frame.</param>
/// <param name="Sequence">How many drops of this reason were sampled before this one.</param>
public sealed record DropSample(DropReason Reason, long AtTickMs, int PortId, VtepEndpoint Vtep, int Vni, bool Encapsulated, int Length,
    byte[] Bytes, long Sequence);

/// <summary>
/// The last K dropped packets per reason (issue 12): a ring per reason of pre-allocated slots, each the first
/// <see cref="MaxBytes"/> bytes of the frame plus where it came from. One writer, the dataplane thread, which takes no
/// lock and allocates nothing; readers copy a slot out and check its sequence number before and after (a seqlock), so a
/// slot being overwritten while read is skipped, never returned torn. Memory: reasons × K × (128 + ~48) bytes, e.g.
/// 27 × 16 × 176 ≈ 76 KB per dataplane thread. Several dataplane threads each record into a lane of their own
/// (<see cref="AddLanes"/>: per-thread rings, so the one-writer seqlock still holds); readers of this sampler see every
/// lane, merged newest first by the time of the drop.
/// </summary>
public sealed class DropSampler
{
    public const int MaxBytes = 128;

    private struct Slot
    {
        // Odd while the writer is in the slot; 2 × (sequence + 1) once written.
        public long Seq;
        public long AtTickMs;
        public VtepEndpoint Vtep;
        public int PortId;
        public int Vni;
        public int Length;
        public int Captured;
        public bool Encapsulated;
    }

    private readonly Slot[] _slots;
    private readonly byte[] _bytes;
    private readonly long[] _written;
    private DropSampler[] _lanes = [];

    public DropSampler(int perReason)
    {
        if (perReason <= 0) throw new ArgumentOutOfRangeException(nameof(perReason), "at least one sample per reason");
        PerReason = perReason;
        _slots = new Slot[DropReasons.Count * perReason];
        _bytes = new byte[DropReasons.Count * perReason * MaxBytes];
        _written = new long[DropReasons.Count];
    }

    /// <summary>K: samples kept per reason.</summary>
    public int PerReason { get; }

    /// <summary>
    /// Gives this sampler <paramref name="count"/> more lanes, one per further dataplane thread, before any of them
    /// records. Returns every lane, this sampler first.
    /// </summary>
    public DropSampler[] AddLanes(int count)
    {
        var lanes = new DropSampler[count];
        for (int i = 0; i < count; i++) lanes[i] = new DropSampler(PerReason);
        _lanes = lanes;
        return [this, .. lanes];
    }

    /// <summary>Drops sampled so far for <paramref name="reason"/> (all of them: the ring keeps the last K), over every lane.</summary>
    public long Sampled(DropReason reason)
    {
        var n = Volatile.Read(ref _written[(int)reason]);
        foreach (var l in _lanes) n += l.Sampled(reason);
        return n;
    }

    /// <summary>Dataplane thread only: copies packet <paramref name="i"/>'s current frame into the reason's ring.</summary>
    public void Record(DropReason reason, int i, ref PacketMeta m, PacketBatch batch, long nowMs)
    {
        var r = (int)reason;
        var n = _written[r];
        var index = r * PerReason + (int)(n % PerReason);
        ref var s = ref _slots[index];
        // Odd first, with a full fence so that no byte of the new sample is visible before readers can see it is changing.
        Interlocked.Exchange(ref s.Seq, 2 * n + 1);
        var length = Math.Max(0, m.Length);
        var captured = Math.Min(length, MaxBytes);
        batch.SlotBytes(i, m.Offset, captured).CopyTo(_bytes.AsSpan(index * MaxBytes, captured));
        s.AtTickMs = nowMs;
        var fromUnderlay = m.Origin == PacketOrigin.Underlay;
        s.PortId = fromUnderlay ? -1 : m.InPort;
        s.Vtep = fromUnderlay ? m.OuterSource : default;
        s.Vni = m.Network?.Vni ?? 0;
        s.Length = length;
        s.Captured = captured;
        // Decapsulation moves the frame's start past the VXLAN header; until then the bytes begin with it.
        s.Encapsulated = fromUnderlay && m.Offset == PacketBatch.Headroom;
        Volatile.Write(ref s.Seq, 2 * n + 2);
        Volatile.Write(ref _written[r], n + 1);
    }

    /// <summary>
    /// Any thread: the last samples, newest first, of one reason (or of every reason when null), at most
    /// <paramref name="limit"/>. A slot the writer is overwriting during the copy is left out.
    /// </summary>
    public List<DropSample> Read(DropReason? reason, int limit)
    {
        var all = new List<DropSample>();
        ReadInto(all, reason, limit);
        foreach (var l in _lanes) l.ReadInto(all, reason, limit);
        all.Sort(static (a, b) => b.AtTickMs != a.AtTickMs ? b.AtTickMs.CompareTo(a.AtTickMs) : b.Sequence.CompareTo(a.Sequence));
        if (all.Count > limit) all.RemoveRange(limit, all.Count - limit);
        return all;
    }

    private void ReadInto(List<DropSample> all, DropReason? reason, int limit)
    {
        var start = all.Count;
        for (int r = 1; r < DropReasons.Count; r++)
        {
            if (reason is { } only && (int)only != r) continue;
            var written = Volatile.Read(ref _written[r]);
            for (long n = written - 1; n >= 0 && n >= written - PerReason && all.Count - start < (reason is null ? int.MaxValue : limit); n--)
                if (TryCopy(r, n) is { } sample) all.Add(sample);
        }
    }

    private DropSample? TryCopy(int r, long n)
    {
        var index = r * PerReason + (int)(n % PerReason);
        ref var s = ref _slots[index];
        var before = Volatile.Read(ref s.Seq);
        if (before != 2 * n + 2) return null; // being written, or already overwritten by a newer drop
        var copy = s;
        var bytes = _bytes.AsSpan(index * MaxBytes, Math.Clamp(copy.Captured, 0, MaxBytes)).ToArray();
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref s.Seq) != before) return null;
        return new DropSample((DropReason)r, copy.AtTickMs, copy.PortId, copy.Vtep, copy.Vni, copy.Encapsulated, copy.Length, bytes, n);
    }
}
