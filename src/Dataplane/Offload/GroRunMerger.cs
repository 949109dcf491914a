using Fabric.Dataplane.Packets;

namespace Fabric.Dataplane.Offload;

/// <summary>
/// Receive side of the underlay: puts a run of VXLAN datagrams back together into the TCP super-frame the sender cut
/// them from. A UDP_GRO read holds datagrams of one size (the last may be shorter) from one sender and source port,
/// and with flow entropy (RFC 7348 §5: the source port is a hash of the inner flow) that is most often the segments of
/// one inner TCP flow, as one UDP GSO send left them. Consecutive datagrams join while their VXLAN header is the first
/// one's and their inner frames continue the run as <see cref="TcpCoalescer"/> asks (same headers, next sequence and IP
/// id, valid IP and TCP checksums, no SYN/FIN/RST/URG, PSH or a short segment ends it). The result is the first
/// datagram's VXLAN and inner headers followed by every payload, marked GSO TCPv4 with a partial checksum: the pipeline
/// takes up to 64 KB in one pass and a TAP in one write, instead of a pass and a coalescing step per segment. A traced
/// datagram (a probe) is never merged. Cost: one compare of the headers, one checksum pass and one copy per payload
/// byte (the copy out of the GRO buffer that a datagram per slot paid as well); nothing depends on table sizes.
/// One per dataplane thread; allocates nothing.
/// </summary>
public sealed class GroRunMerger
{
    private readonly TcpCoalescer _c = new();

    /// <summary>
    /// Merges the run at the start of <paramref name="datagrams"/> (datagrams of <paramref name="size"/> bytes back to
    /// back, the last maybe shorter) into <paramref name="dst"/>. Returns the bytes written (VXLAN header, inner headers,
    /// payloads), or 0 when the first two datagrams do not make a run (then nothing is written and nothing consumed).
    /// <paramref name="consumed"/>: bytes of <paramref name="datagrams"/> used; <paramref name="segments"/>: datagrams merged.
    /// </summary>
    public int TryMerge(ReadOnlySpan<byte> datagrams, int size, Span<byte> dst, out int consumed, out int segments, out OffloadInfo info)
    {
        consumed = segments = 0;
        info = default;
        const int vx = VxlanHeader.Length;
        if (size <= vx || datagrams.Length <= size) return 0;
        var first = datagrams.Slice(0, size);
        if ((first[0] & Tracing.TraceMark.FlagTraced) != 0) return 0;
        var c = _c;
        if (!c.TryStart(first.Slice(vx))) return 0;
        var hl = vx + c.HeaderLength;
        var used = 0;
        var at = size;
        while (at < datagrams.Length)
        {
            var d = datagrams.Slice(at, Math.Min(size, datagrams.Length - at));
            if (d.Length <= hl || (used == 0 ? size : used) + d.Length - hl > dst.Length) break;
            if (!d.Slice(0, vx).SequenceEqual(first.Slice(0, vx)) || !c.TryAppend(d.Slice(vx))) break;
            if (used == 0) { first.CopyTo(dst); used = size; }
            d.Slice(hl).CopyTo(dst.Slice(used));
            used += d.Length - hl;
            at += d.Length;
        }
        if (used == 0) return 0;
        info = c.Finish(dst.Slice(vx, c.HeaderLength));
        consumed = at;
        segments = c.Count;
        return used;
    }
}
