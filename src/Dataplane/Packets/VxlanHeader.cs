using System.Buffers.Binary;

namespace Fabric.Dataplane.Packets;

/// <summary>
/// VXLAN header (RFC 7348 section 5): flags octet with the I bit (0x08), 24 reserved bits, 24-bit VNI, 8 reserved bits.
/// Reserved bits are ignored on receive and written as zero on send, as the RFC asks.
/// </summary>
public readonly ref struct VxlanHeader
{
    public const int Length = 8;
    public const ushort DefaultPort = 4789;
    public const int MaxVni = 0xFF_FFFF;
    public const byte FlagI = 0x08;

    public ReadOnlySpan<byte> Bytes { get; }
    public int Vni => (int)(BinaryPrimitives.ReadUInt32BigEndian(Bytes.Slice(4)) >> 8);
    public ReadOnlySpan<byte> Inner => Bytes.Slice(Length);

    private VxlanHeader(ReadOnlySpan<byte> bytes) => Bytes = bytes;

    public static PacketError TryParse(ReadOnlySpan<byte> datagram, out VxlanHeader header)
    {
        header = default;
        if (datagram.Length < Length) return PacketError.Truncated;
        if ((datagram[0] & FlagI) == 0) return PacketError.VxlanFlagNotSet;
        header = new VxlanHeader(datagram);
        return PacketError.None;
    }

    public static int Write(Span<byte> dst, int vni)
    {
        BinaryPrimitives.WriteUInt32BigEndian(dst, (uint)FlagI << 24);
        BinaryPrimitives.WriteUInt32BigEndian(dst.Slice(4), (uint)(vni & MaxVni) << 8);
        return Length;
    }
}

/// <summary>
/// The whole outer stack (Ethernet, IPv4, UDP, VXLAN) for paths that own the wire format end to end: captures,
/// raw sockets and tests. The UDP underlay socket lets the kernel write Ethernet/IPv4/UDP and sends only VXLAN+inner.
/// </summary>
public static class VxlanEncapsulation
{
    public const int OuterLength = EthernetFrame.HeaderLength + Ipv4Header.MinLength + UdpHeader.Length + VxlanHeader.Length;

    /// <summary>
    /// Writes the 50 outer bytes in front of an inner frame of <paramref name="innerLength"/> bytes that must already sit at
    /// dst[50..]. The UDP source port carries flow entropy as RFC 7348 recommends.
    /// </summary>
    public static int WriteOuter(Span<byte> dst, MacAddress srcMac, MacAddress dstMac, Ipv4Address srcIp, Ipv4Address dstIp,
        ushort srcPort, ushort dstPort, int vni, int innerLength, byte ttl = 64)
    {
        var o = EthernetFrame.WriteHeader(dst, dstMac, srcMac, EtherTypes.Ipv4);
        var udpLen = UdpHeader.Length + VxlanHeader.Length + innerLength;
        o += Ipv4Header.Write(dst.Slice(o), srcIp, dstIp, IpProtocols.Udp, udpLen, ttl);
        VxlanHeader.Write(dst.Slice(o + UdpHeader.Length), vni);
        UdpHeader.Write(dst.Slice(o), srcPort, dstPort, udpLen - UdpHeader.Length, computeChecksum: true, srcIp, dstIp);
        return OuterLength;
    }

    /// <summary>Flow entropy for the outer UDP source port: a hash of the inner MACs folded into the ephemeral range.</summary>
    public static ushort SourcePortFor(ReadOnlySpan<byte> innerFrame)
    {
        if (innerFrame.Length < 12) return 49152;
        var h = BinaryPrimitives.ReadUInt64LittleEndian(innerFrame) ^ BinaryPrimitives.ReadUInt32LittleEndian(innerFrame.Slice(8));
        h ^= h >> 29; h *= 0xBF58476D1CE4E5B9UL; h ^= h >> 32;
        return (ushort)(49152 + (int)(h % 16384));
    }
}
