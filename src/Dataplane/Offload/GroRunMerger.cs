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
    private const int Vx = VxlanHeader.Length;
    private readonly TcpCoalescer _c = new();
    private readonly byte[] _vxlan = new byte[Vx];
    private int _used, _hl;

    /// <summary>
    /// Merges the run at the start of <paramref name="datagrams"/> (datagrams of <paramref name="size"/> bytes back to
    /// back, the last maybe shorter) into <paramref name="dst"/>. Returns the bytes written (VXLAN header, inner headers,
    /// payloads), or 0 when the first two datagrams do not make a run (then nothing is written and nothing consumed).
    /// <paramref name="consumed"/>: bytes of <paramref name="datagrams"/> used; <paramref name="segments"/>: datagrams merged.
    /// </summary>
    public int TryMerge(ReadOnlySpan<byte> datagrams, int size, Span<byte> dst, out int consumed, out int segments, out OffloadInfo info)
    {
        segments = 0;
        info = default;
        return Begin(datagrams, size, dst, out consumed) ? End(dst, out segments, out info) : 0;
    }

    /// <summary>
    /// Starts a run with the datagrams at the start of <paramref name="datagrams"/> and takes as many as continue it;
    /// false, with nothing written or consumed, when the first two do not make a run. Then <see cref="Extend"/> with
    /// later reads of the same sender, and <see cref="End"/>.
    /// </summary>
    public bool Begin(ReadOnlySpan<byte> datagrams, int size, Span<byte> dst, out int consumed)
    {
        consumed = 0;
        _used = 0;
        if (size <= Vx || datagrams.Length <= size) return false;
        var first = datagrams.Slice(0, size);
        if ((first[0] & Tracing.TraceMark.FlagTraced) != 0) return false;
        if (!_c.TryStart(first.Slice(Vx))) return false;
        first.Slice(0, Vx).CopyTo(_vxlan);
        _hl = Vx + _c.HeaderLength;
        // Only once the second datagram joins is anything written: a run of one is no run.
        var second = datagrams.Slice(size, Math.Min(size, datagrams.Length - size));
        if (!Joins(second, size, dst.Length)) return false;
        first.CopyTo(dst);
        second.Slice(_hl).CopyTo(dst.Slice(size));
        _used = size + second.Length - _hl;
        var at = size + second.Length;
        consumed = at + Append(datagrams.Slice(at), size, dst);
        return true;
    }

    /// <summary>
    /// Continues the open run with the datagrams at the start of another read from the same sender (a super-frame too
    /// large for one UDP GSO send left in two). Returns the bytes of <paramref name="datagrams"/> taken; 0 ends the run.
    /// </summary>
    public int Extend(ReadOnlySpan<byte> datagrams, int size, Span<byte> dst)
        => _used == 0 || size <= Vx ? 0 : Append(datagrams, size, dst);

    /// <summary>Closes the run: fixes the headers in <paramref name="dst"/> for the whole super-frame; returns its length.</summary>
    public int End(Span<byte> dst, out int segments, out OffloadInfo info)
    {
        info = _c.Finish(dst.Slice(Vx, _c.HeaderLength));
        segments = _c.Count;
        var used = _used;
        _used = 0;
        return used;
    }

    private int Append(ReadOnlySpan<byte> datagrams, int size, Span<byte> dst)
    {
        var at = 0;
        while (at < datagrams.Length)
        {
            var d = datagrams.Slice(at, Math.Min(size, datagrams.Length - at));
            if (!Joins(d, _used, dst.Length)) break;
            d.Slice(_hl).CopyTo(dst.Slice(_used));
            _used += d.Length - _hl;
            at += d.Length;
        }
        return at;
    }

    /// <summary>Whether datagram <paramref name="d"/> continues the run and its payload fits behind <paramref name="used"/> bytes.</summary>
    private bool Joins(ReadOnlySpan<byte> d, int used, int room)
        => d.Length > _hl && used + d.Length - _hl <= room && d.Slice(0, Vx).SequenceEqual(_vxlan) && _c.TryAppend(d.Slice(Vx));
}
