using System.Buffers.Binary;

namespace Fabric.Dataplane.Packets;

/// <summary>UDP header (RFC 768). A checksum of zero means "none" over IPv4, as VXLAN senders usually send it.</summary>
public readonly ref struct UdpHeader
{
    public const int Length = 8;
    public ReadOnlySpan<byte> Bytes { get; }
    public ushort SourcePort => BinaryPrimitives.ReadUInt16BigEndian(Bytes);
    public ushort DestinationPort => BinaryPrimitives.ReadUInt16BigEndian(Bytes.Slice(2));
    public ushort DatagramLength => BinaryPrimitives.ReadUInt16BigEndian(Bytes.Slice(4));
    public ushort Checksum => BinaryPrimitives.ReadUInt16BigEndian(Bytes.Slice(6));
    public ReadOnlySpan<byte> Payload => Bytes.Slice(Length, DatagramLength - Length);

    private UdpHeader(ReadOnlySpan<byte> bytes) => Bytes = bytes;

    public static PacketError TryParse(ReadOnlySpan<byte> bytes, out UdpHeader udp)
    {
        udp = default;
        if (bytes.Length < Length) return PacketError.Truncated;
        var len = BinaryPrimitives.ReadUInt16BigEndian(bytes.Slice(4));
        if (len < Length) return PacketError.BadLength;
        if (len > bytes.Length) return PacketError.Truncated;
        udp = new UdpHeader(bytes.Slice(0, len));
        return PacketError.None;
    }

    /// <summary>Verifies the checksum against the IPv4 pseudo-header; a zero checksum is accepted as "not computed".</summary>
    public bool ChecksumValid(Ipv4Address source, Ipv4Address destination)
        => Checksum == 0 || InternetChecksum.Fold(PseudoHeaderSum(source, destination, DatagramLength) + InternetChecksum.Add(0, Bytes)) == 0;

    /// <summary>Writes the 8-byte header. With <paramref name="computeChecksum"/>, the payload must already follow it in <paramref name="dst"/>.</summary>
    public static int Write(Span<byte> dst, ushort sourcePort, ushort destinationPort, int payloadLength,
        bool computeChecksum = false, Ipv4Address source = default, Ipv4Address destination = default)
    {
        var len = (ushort)(Length + payloadLength);
        BinaryPrimitives.WriteUInt16BigEndian(dst, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(dst.Slice(2), destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(dst.Slice(4), len);
        BinaryPrimitives.WriteUInt16BigEndian(dst.Slice(6), 0);
        if (computeChecksum)
        {
            var c = InternetChecksum.Fold(PseudoHeaderSum(source, destination, len) + InternetChecksum.Add(0, dst.Slice(0, len)));
            BinaryPrimitives.WriteUInt16BigEndian(dst.Slice(6), c == 0 ? (ushort)0xFFFF : c);
        }
        return Length;
    }

    private static ulong PseudoHeaderSum(Ipv4Address s, Ipv4Address d, ushort len)
        => (ulong)(s.Value >> 16) + (s.Value & 0xFFFF) + (d.Value >> 16) + (d.Value & 0xFFFF) + IpProtocols.Udp + len;
}
