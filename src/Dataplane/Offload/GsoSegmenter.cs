using System.Buffers.Binary;
using Fabric.Dataplane.Packets;

namespace Fabric.Dataplane.Offload;

/// <summary>Where the headers of a GSO super-frame end and how it is cut (from <see cref="GsoSegmenter.TryLayout"/>).</summary>
public readonly record struct GsoLayout(int L3, int L4, int HdrLen, int GsoSize, byte Protocol, bool Ipv4, int Count)
{
    /// <summary>Bytes of the longest segment (all but the last have this size).</summary>
    public int SegmentLength => HdrLen + GsoSize;
}

/// <summary>
/// Software segmentation of a GSO super-frame (TCP over IPv4/IPv6, UDP L4) into the frames the sender's stack would
/// have put on a wire, as the kernel's tcp_gso_segment / __udp_gso_segment do: every segment gets the headers, its
/// slice of the payload, the IPv4 length, id (first + k) and header checksum (IPv6: payload length), the TCP sequence
/// number (first + k × gso_size) and flags (CWR on the first only, FIN and PSH on the last only) or the UDP length,
/// and a complete transport checksum. Runs only where a frame leaves towards a peer that takes no super-frames: the
/// underlay (one UDP GSO send for all segments) or a guest. Allocates nothing.
/// </summary>
public static class GsoSegmenter
{
    private const byte Fin = 0x01, Psh = 0x08, Cwr = 0x80;

    /// <summary>
    /// Checks the super-frame against its header: an IPv4 or IPv6 packet whose transport header starts at csum_start,
    /// a GSO kind we can cut, a segment size above zero. The kernel's own hdr_len is not trusted (a TAP reports the
    /// linear part of its buffer there): the header length is read from the TCP data offset or is 8 for UDP.
    /// </summary>
    public static bool TryLayout(ReadOnlySpan<byte> frame, in OffloadInfo o, out GsoLayout layout)
    {
        layout = default;
        if (!o.IsGso || o.GsoSize == 0 || frame.Length < 14) return false;
        var l3 = ChecksumOffload.L3Offset(frame);
        var l4 = (int)o.CsumStart;
        if (frame.Length < l3 + 20) return false;
        var etherType = BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(l3 - 2));
        var version = frame[l3] >> 4;
        bool v4;
        byte proto;
        if (etherType == 0x0800 && version == 4)
        {
            v4 = true;
            proto = frame[l3 + 9];
            if (l4 != l3 + (frame[l3] & 0xF) * 4) return false;
            if ((BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(l3 + 6)) & 0x3FFF) != 0) return false; // a fragment
        }
        else if (etherType == 0x86DD && version == 6)
        {
            v4 = false;
            proto = frame[l3 + 6];
            if (l4 < l3 + 40) return false;
        }
        else return false;

        int hdrLen;
        switch (o.GsoKind)
        {
            case VirtioNetHeader.GsoTcpV4 or VirtioNetHeader.GsoTcpV6:
                if (proto != ChecksumOffload.Tcp || (o.GsoKind == VirtioNetHeader.GsoTcpV4) != v4) return false;
                if (frame.Length < l4 + 20) return false;
                hdrLen = l4 + (frame[l4 + 12] >> 4) * 4;
                if (hdrLen < l4 + 20) return false;
                break;
            case VirtioNetHeader.GsoUdpL4:
                if (proto != ChecksumOffload.Udp) return false;
                hdrLen = l4 + 8;
                break;
            default:
                return false;
        }
        if (frame.Length <= hdrLen) return false;
        var payload = frame.Length - hdrLen;
        layout = new GsoLayout(l3, l4, hdrLen, o.GsoSize, proto, v4, (payload + o.GsoSize - 1) / o.GsoSize);
        return true;
    }

    /// <summary>
    /// Writes segment <paramref name="k"/> of the super-frame into <paramref name="dst"/> (at least
    /// <see cref="GsoLayout.SegmentLength"/> bytes) and returns its length.
    /// </summary>
    public static int Segment(ReadOnlySpan<byte> frame, in GsoLayout g, int k, Span<byte> dst)
    {
        var start = g.HdrLen + k * g.GsoSize;
        var pay = Math.Min(g.GsoSize, frame.Length - start);
        var len = g.HdrLen + pay;
        frame.Slice(0, g.HdrLen).CopyTo(dst);
        frame.Slice(start, pay).CopyTo(dst.Slice(g.HdrLen));
        var seg = dst.Slice(0, len);
        FixHeaders(seg, g, k, len);
        ChecksumOffload.WriteTransport(seg, g.L3, g.L4, g.Protocol);
        return len;
    }

    /// <summary>
    /// Writes only the headers of segment <paramref name="k"/> (<see cref="GsoLayout.HdrLen"/> bytes) into
    /// <paramref name="header"/>, with the complete transport checksum summed over the payload where it lies in the
    /// super-frame, and returns the payload's length. For a gather send (header, then the payload in place): the payload
    /// is read once, for its checksum, and never copied here.
    /// </summary>
    public static int SegmentHeader(ReadOnlySpan<byte> frame, in GsoLayout g, int k, Span<byte> header)
    {
        var start = g.HdrLen + k * g.GsoSize;
        var pay = Math.Min(g.GsoSize, frame.Length - start);
        var h = header.Slice(0, g.HdrLen);
        frame.Slice(0, g.HdrLen).CopyTo(h);
        FixHeaders(h, g, k, g.HdrLen + pay);
        ChecksumOffload.WriteTransport(h, g.L3, g.L4, g.Protocol, frame.Slice(start, pay));
        return pay;
    }

    /// <summary>Lengths, IPv4 id and header checksum, TCP sequence and flags (or UDP length) of segment k of <paramref name="len"/> bytes.</summary>
    private static void FixHeaders(Span<byte> seg, in GsoLayout g, int k, int len)
    {
        var ip = seg.Slice(g.L3);
        if (g.Ipv4)
        {
            BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(2), (ushort)(len - g.L3));
            BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(4), (ushort)(BinaryPrimitives.ReadUInt16BigEndian(ip.Slice(4)) + k));
            Ipv4Header.WriteChecksum(ip.Slice(0, g.L4 - g.L3));
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(4), (ushort)(len - g.L3 - 40));
        }
        var l4 = seg.Slice(g.L4);
        if (g.Protocol == ChecksumOffload.Tcp)
        {
            BinaryPrimitives.WriteUInt32BigEndian(l4.Slice(4), BinaryPrimitives.ReadUInt32BigEndian(l4.Slice(4)) + (uint)(k * g.GsoSize));
            var flags = l4[13];
            if (k > 0) flags &= unchecked((byte)~Cwr);
            if (k < g.Count - 1) flags &= unchecked((byte)~(Fin | Psh));
            l4[13] = flags;
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(l4.Slice(4), (ushort)(len - g.L4));
        }
    }
}
