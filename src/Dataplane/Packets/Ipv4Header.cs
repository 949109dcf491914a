using System.Buffers.Binary;

namespace Fabric.Dataplane.Packets;

public static class IpProtocols
{
    public const byte Icmp = 1;
    public const byte Tcp = 6;
    public const byte Udp = 17;
}

/// <summary>
/// IPv4 header reader (RFC 791). Validates version, header length, total length against the bytes present and
/// the header checksum; options are skipped by honouring IHL; fragments are recognised, never reassembled.
/// </summary>
public readonly ref struct Ipv4Header
{
    public const int MinLength = 20;
    public ReadOnlySpan<byte> Bytes { get; }

    public int HeaderLength => (Bytes[0] & 0x0F) * 4;
    public byte Dscp => (byte)(Bytes[1] >> 2);
    public ushort TotalLength => BinaryPrimitives.ReadUInt16BigEndian(Bytes.Slice(2));
    public ushort Identification => BinaryPrimitives.ReadUInt16BigEndian(Bytes.Slice(4));
    public bool DontFragment => (Bytes[6] & 0x40) != 0;
    public bool MoreFragments => (Bytes[6] & 0x20) != 0;
    public int FragmentOffset => (BinaryPrimitives.ReadUInt16BigEndian(Bytes.Slice(6)) & 0x1FFF) * 8;
    public bool IsFragment => MoreFragments || FragmentOffset != 0;
    public byte Ttl => Bytes[8];
    public byte Protocol => Bytes[9];
    public ushort Checksum => BinaryPrimitives.ReadUInt16BigEndian(Bytes.Slice(10));
    public Ipv4Address Source => Ipv4Address.Read(Bytes.Slice(12));
    public Ipv4Address Destination => Ipv4Address.Read(Bytes.Slice(16));
    /// <summary>The payload, cut at TotalLength (Ethernet padding excluded).</summary>
    public ReadOnlySpan<byte> Payload => Bytes.Slice(HeaderLength, TotalLength - HeaderLength);

    private Ipv4Header(ReadOnlySpan<byte> bytes) => Bytes = bytes;

    public static PacketError TryParse(ReadOnlySpan<byte> bytes, out Ipv4Header header)
    {
        header = default;
        if (bytes.Length < MinLength) return PacketError.Truncated;
        if (bytes[0] >> 4 != 4) return PacketError.BadVersion;
        var ihl = (bytes[0] & 0x0F) * 4;
        if (ihl < MinLength) return PacketError.BadHeaderLength;
        if (ihl > bytes.Length) return PacketError.Truncated;
        var total = BinaryPrimitives.ReadUInt16BigEndian(bytes.Slice(2));
        if (total < ihl) return PacketError.BadTotalLength;
        if (total > bytes.Length) return PacketError.Truncated;
        if (!InternetChecksum.IsValid(bytes.Slice(0, ihl))) return PacketError.BadChecksum;
        header = new Ipv4Header(bytes.Slice(0, total));
        return PacketError.None;
    }

    /// <summary>Writes a 20-byte header (no options) with a correct checksum; returns 20.</summary>
    public static int Write(Span<byte> dst, Ipv4Address source, Ipv4Address destination, byte protocol, int payloadLength,
        byte ttl = 64, ushort identification = 0, bool dontFragment = true, byte dscp = 0)
    {
        dst[0] = 0x45;
        dst[1] = (byte)(dscp << 2);
        BinaryPrimitives.WriteUInt16BigEndian(dst.Slice(2), (ushort)(MinLength + payloadLength));
        BinaryPrimitives.WriteUInt16BigEndian(dst.Slice(4), identification);
        BinaryPrimitives.WriteUInt16BigEndian(dst.Slice(6), dontFragment ? (ushort)0x4000 : (ushort)0);
        dst[8] = ttl;
        dst[9] = protocol;
        dst[10] = 0;
        dst[11] = 0;
        source.Write(dst.Slice(12));
        destination.Write(dst.Slice(16));
        WriteChecksum(dst.Slice(0, MinLength));
        return MinLength;
    }

    /// <summary>Recomputes the header checksum in place; <paramref name="header"/> spans exactly IHL*4 bytes.</summary>
    public static void WriteChecksum(Span<byte> header)
    {
        header[10] = 0;
        header[11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(header.Slice(10), InternetChecksum.Compute(header));
    }
}
