using System.Buffers.Binary;
using Fabric.Dataplane.Packets;

namespace Fabric.Dataplane.Offload;

/// <summary>
/// Receive-side coalescing (software GRO) for a TAP that takes GSO frames: consecutive in-order IPv4 TCP segments of
/// one flow become one super-frame that the receiving kernel takes in one write and one pass through its stack. A
/// segment joins when everything but the length, IP id (must be the next one), TCP sequence (must be the next one),
/// PSH and checksums equals the first's; no SYN, FIN, RST or URG; all the same payload size except a smaller last one,
/// which, like a PSH, closes the run. Every segment's IP and TCP checksums are verified before it joins, because the
/// super-frame goes up with NEEDS_CSUM (CHECKSUM_PARTIAL: the kernel will not check the payload again).
/// The caller keeps the payloads where they are (<c>frame[HeaderLength..]</c> of each segment) and writes
/// <see cref="Finish"/>'s header followed by them: no payload is copied. One instance per dataplane thread.
/// </summary>
public sealed class TcpCoalescer
{
    public const int MaxSegments = 64;
    private const int MaxHeader = 18 + 60 + 60;
    private const byte Fin = 0x01, Syn = 0x02, Rst = 0x04, Psh = 0x08, Ack = 0x10, Urg = 0x20, Cwr = 0x80;

    private readonly byte[] _header = new byte[MaxHeader];
    private int _l3, _l4, _hdrLen, _gsoSize, _payload;
    private uint _nextSeq;
    private ushort _nextId;
    private bool _closed, _psh;

    /// <summary>Segments in the current run (0: none started).</summary>
    public int Count { get; private set; }
    /// <summary>Ethernet + IP + TCP header bytes of every segment of the run; the payload follows.</summary>
    public int HeaderLength => _hdrLen;
    public int PayloadBytes => _payload;

    /// <summary>Starts a run with <paramref name="frame"/> if it can be coalesced at all.</summary>
    public bool TryStart(ReadOnlySpan<byte> frame)
    {
        Count = 0;
        if (!Candidate(frame, out var l3, out var l4, out var hdrLen, out var flags)) return false;
        if (flags != (flags & (Ack | Psh | Cwr | 0x40))) return false; // 0x40: ECE, same on every segment
        _l3 = l3; _l4 = l4; _hdrLen = hdrLen;
        _gsoSize = _payload = frame.Length - hdrLen;
        frame.Slice(0, hdrLen).CopyTo(_header);
        _nextSeq = BinaryPrimitives.ReadUInt32BigEndian(frame.Slice(l4 + 4)) + (uint)_gsoSize;
        _nextId = (ushort)(BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(l3 + 4)) + 1);
        _psh = (flags & Psh) != 0;
        _closed = _psh;
        Count = 1;
        return true;
    }

    /// <summary>Adds the next segment if it continues the run; false leaves the run as it was.</summary>
    public bool TryAppend(ReadOnlySpan<byte> frame)
    {
        if (Count == 0 || _closed || Count == MaxSegments) return false;
        var hdrLen = _hdrLen;
        var payload = frame.Length - hdrLen;
        if (payload <= 0 || payload > _gsoSize) return false;
        if (hdrLen - _l3 + _payload + payload > ushort.MaxValue) return false;
        var h = _header.AsSpan(0, hdrLen);
        int l3 = _l3, l4 = _l4;
        // Everything but the fields that legitimately differ between segments of one burst.
        if (!frame.Slice(0, l3 + 2).SequenceEqual(h.Slice(0, l3 + 2))) return false;            // Ethernet, IP version/IHL/TOS
        if (!frame.Slice(l3 + 6, 4).SequenceEqual(h.Slice(l3 + 6, 4))) return false;           // flags/offset, TTL, protocol
        if (!frame.Slice(l3 + 12, l4 - l3 - 12 + 4).SequenceEqual(h.Slice(l3 + 12, l4 - l3 - 12 + 4))) return false; // addresses, options, ports
        if (!frame.Slice(l4 + 8, 5).SequenceEqual(h.Slice(l4 + 8, 5))) return false;           // ack, data offset
        if (!frame.Slice(l4 + 14, 2).SequenceEqual(h.Slice(l4 + 14, 2))) return false;         // window
        if (!frame.Slice(l4 + 18, hdrLen - l4 - 18).SequenceEqual(h.Slice(l4 + 18, hdrLen - l4 - 18))) return false; // urgent, options
        var flags = frame[l4 + 13];
        if ((flags & ~Psh) != (h[l4 + 13] & ~(Psh | Cwr))) return false;
        if (BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(l3 + 2)) != frame.Length - l3) return false;
        if (BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(l3 + 4)) != _nextId) return false;
        if (BinaryPrimitives.ReadUInt32BigEndian(frame.Slice(l4 + 4)) != _nextSeq) return false;
        if (!InternetChecksum.IsValid(frame.Slice(l3, l4 - l3))) return false;
        if (!ChecksumOffload.TransportValid(frame, l3, l4, ChecksumOffload.Tcp)) return false;
        _nextSeq += (uint)payload;
        _nextId++;
        _payload += payload;
        if ((flags & Psh) != 0) _psh = _closed = true;
        if (payload < _gsoSize) _closed = true;
        Count++;
        return true;
    }

    /// <summary>
    /// Writes the super-frame's header (<see cref="HeaderLength"/> bytes) into <paramref name="header"/>: IPv4 total
    /// length and header checksum for the whole run, PSH if the last segment had it, and in the TCP checksum field the
    /// pseudo-header sum the kernel completes (CHECKSUM_PARTIAL). Returns the virtio_net_hdr that goes in front.
    /// </summary>
    public OffloadInfo Finish(Span<byte> header)
    {
        var h = header.Slice(0, _hdrLen);
        _header.AsSpan(0, _hdrLen).CopyTo(h);
        int l3 = _l3, l4 = _l4;
        BinaryPrimitives.WriteUInt16BigEndian(h.Slice(l3 + 2), (ushort)(_hdrLen - l3 + _payload));
        Ipv4Header.WriteChecksum(h.Slice(l3, l4 - l3));
        if (_psh) h[l4 + 13] |= Psh;
        var tcpLength = _hdrLen - l4 + _payload;
        BinaryPrimitives.WriteUInt16BigEndian(h.Slice(l4 + 16), PartialChecksum(h.Slice(l3), tcpLength));
        return new OffloadInfo
        {
            Flags = VirtioNetHeader.FlagNeedsCsum, GsoType = VirtioNetHeader.GsoTcpV4, HdrLen = (ushort)_hdrLen,
            GsoSize = (ushort)_gsoSize, CsumStart = (ushort)l4, CsumOffset = 16,
        };
    }

    /// <summary>The folded, not complemented, pseudo-header sum: what a CHECKSUM_PARTIAL TCP segment carries.</summary>
    public static ushort PartialChecksum(ReadOnlySpan<byte> ip, int l4Length)
        => (ushort)~InternetChecksum.Fold(ChecksumOffload.PseudoHeader(ip, ChecksumOffload.Tcp, l4Length));

    private static bool Candidate(ReadOnlySpan<byte> frame, out int l3, out int l4, out int hdrLen, out byte flags)
    {
        l4 = hdrLen = 0; flags = 0;
        l3 = ChecksumOffload.L3Offset(frame);
        if (frame.Length < l3 + 40 || BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(l3 - 2)) != 0x0800) return false;
        var ip = frame.Slice(l3);
        if (ip[0] >> 4 != 4 || ip[9] != ChecksumOffload.Tcp) return false;
        if ((BinaryPrimitives.ReadUInt16BigEndian(ip.Slice(6)) & 0x3FFF) != 0) return false;
        if (BinaryPrimitives.ReadUInt16BigEndian(ip.Slice(2)) != ip.Length) return false; // Ethernet padding or truncated
        l4 = l3 + (ip[0] & 0xF) * 4;
        if (l4 < l3 + 20 || frame.Length < l4 + 20) return false;
        hdrLen = l4 + (frame[l4 + 12] >> 4) * 4;
        if (hdrLen < l4 + 20 || hdrLen > MaxHeader || frame.Length <= hdrLen) return false;
        flags = frame[l4 + 13];
        if ((flags & Ack) == 0 || (flags & (Fin | Syn | Rst | Urg)) != 0) return false;
        if (!InternetChecksum.IsValid(frame.Slice(l3, l4 - l3))) return false;
        return ChecksumOffload.TransportValid(frame, l3, l4, ChecksumOffload.Tcp);
    }
}
