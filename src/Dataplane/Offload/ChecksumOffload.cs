using System.Buffers.Binary;
using Fabric.Dataplane.Packets;

namespace Fabric.Dataplane.Offload;

/// <summary>
/// Transport checksums the kernel left to us. A frame read with NEEDS_CSUM carries, in its TCP or UDP checksum field,
/// the folded pseudo-header sum only; whoever sends it towards a peer that expects a complete checksum (the underlay, a
/// guest) sums from <c>csum_start</c> to the end, field included, and stores the complement there (virtio 1.x, 5.1.6.2).
/// </summary>
public static class ChecksumOffload
{
    public const byte Tcp = 6, Udp = 17;

    /// <summary>Completes a partial checksum in place; false when the offsets do not fit the frame (left untouched).</summary>
    public static bool Complete(Span<byte> frame, int csumStart, int csumOffset)
    {
        var at = csumStart + csumOffset;
        if ((uint)csumStart >= (uint)frame.Length || at + 2 > frame.Length) return false;
        var c = InternetChecksum.Compute(frame.Slice(csumStart));
        // A UDP checksum of 0 means "none": RFC 768 sends all ones instead.
        if (c == 0 && csumOffset == 6) c = 0xFFFF;
        BinaryPrimitives.WriteUInt16BigEndian(frame.Slice(at), c);
        return true;
    }

    /// <summary>The unfolded pseudo-header sum of IPv4 or IPv6 (by the version nibble of <paramref name="ip"/>).</summary>
    public static ulong PseudoHeader(ReadOnlySpan<byte> ip, byte protocol, int l4Length)
    {
        if (ip[0] >> 4 == 6)
            return InternetChecksum.Add(0, ip.Slice(8, 32)) + (uint)l4Length + protocol;
        return InternetChecksum.Add(0, ip.Slice(12, 8)) + (uint)l4Length + protocol;
    }

    /// <summary>Computes the full transport checksum of the segment whose L4 header starts at <paramref name="l4"/> and writes it.</summary>
    public static void WriteTransport(Span<byte> frame, int l3, int l4, byte protocol) => WriteTransport(frame, l3, l4, protocol, default);

    /// <summary>
    /// As above for a segment whose payload lies elsewhere (a gather send): <paramref name="headers"/> ends with the L4
    /// header, <paramref name="payload"/> follows it on the wire. The L4 header's length is even (TCP: a multiple of 4;
    /// UDP: 8), so the two sums simply add.
    /// </summary>
    public static void WriteTransport(Span<byte> headers, int l3, int l4, byte protocol, ReadOnlySpan<byte> payload)
    {
        var at = l4 + (protocol == Tcp ? 16 : 6);
        headers[at] = 0; headers[at + 1] = 0;
        var sum = PseudoHeader(headers.Slice(l3), protocol, headers.Length - l4 + payload.Length);
        sum = InternetChecksum.Add(sum, headers.Slice(l4));
        var c = InternetChecksum.Fold(InternetChecksum.Add(sum, payload));
        if (c == 0 && protocol == Udp) c = 0xFFFF;
        BinaryPrimitives.WriteUInt16BigEndian(headers.Slice(at), c);
    }

    /// <summary>True when the TCP or UDP checksum of the segment (pseudo-header included) is correct.</summary>
    public static bool TransportValid(ReadOnlySpan<byte> frame, int l3, int l4, byte protocol)
    {
        var sum = PseudoHeader(frame.Slice(l3), protocol, frame.Length - l4);
        return InternetChecksum.Fold(InternetChecksum.Add(sum, frame.Slice(l4))) == 0;
    }

    /// <summary>
    /// Where the IP header starts: after the Ethernet header and at most one tag, as the pipeline's own reader finds it
    /// (<see cref="EthernetFrame.PayloadOffset"/>: 802.1Q and QinQ alike); a frame too short for either gives 14.
    /// </summary>
    public static int L3Offset(ReadOnlySpan<byte> frame)
        => EthernetFrame.TryParse(frame, out var eth) == PacketError.None ? eth.PayloadOffset : EthernetFrame.HeaderLength;
}
