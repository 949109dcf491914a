using System.Buffers.Binary;

namespace Fabric.Dataplane.Packets;

public enum ArpOperation : ushort { Request = 1, Reply = 2 }

/// <summary>ARP for Ethernet/IPv4 (RFC 826), the only form an overlay of IPv4 guests carries.</summary>
public readonly ref struct ArpPacket
{
    public const int Length = 28;
    public ReadOnlySpan<byte> Bytes { get; }

    public ArpOperation Operation => (ArpOperation)BinaryPrimitives.ReadUInt16BigEndian(Bytes.Slice(6));
    public MacAddress SenderMac => MacAddress.Read(Bytes.Slice(8));
    public Ipv4Address SenderIp => Ipv4Address.Read(Bytes.Slice(14));
    public MacAddress TargetMac => MacAddress.Read(Bytes.Slice(18));
    public Ipv4Address TargetIp => Ipv4Address.Read(Bytes.Slice(24));

    /// <summary>
    /// Gratuitous ARP: a request or reply announcing the sender's own address (sender IP equals target IP, RFC 5227).
    /// An ARP probe (sender IP 0.0.0.0) is not gratuitous: it asks, it does not claim.
    /// </summary>
    public bool IsGratuitous => SenderIp == TargetIp && !SenderIp.IsZero;
    public bool IsProbe => SenderIp.IsZero;

    private ArpPacket(ReadOnlySpan<byte> bytes) => Bytes = bytes;

    public static PacketError TryParse(ReadOnlySpan<byte> bytes, out ArpPacket arp)
    {
        arp = default;
        if (bytes.Length < Length) return PacketError.Truncated;
        if (BinaryPrimitives.ReadUInt16BigEndian(bytes) != 1 || BinaryPrimitives.ReadUInt16BigEndian(bytes.Slice(2)) != EtherTypes.Ipv4
            || bytes[4] != 6 || bytes[5] != 4)
            return PacketError.UnsupportedArpFormat;
        var op = BinaryPrimitives.ReadUInt16BigEndian(bytes.Slice(6));
        if (op is not (1 or 2)) return PacketError.UnsupportedArpOperation;
        arp = new ArpPacket(bytes.Slice(0, Length));
        return PacketError.None;
    }

    public static int Write(Span<byte> dst, ArpOperation op, MacAddress senderMac, Ipv4Address senderIp, MacAddress targetMac, Ipv4Address targetIp)
    {
        BinaryPrimitives.WriteUInt16BigEndian(dst, 1);
        BinaryPrimitives.WriteUInt16BigEndian(dst.Slice(2), EtherTypes.Ipv4);
        dst[4] = 6;
        dst[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(dst.Slice(6), (ushort)op);
        senderMac.Write(dst.Slice(8));
        senderIp.Write(dst.Slice(14));
        targetMac.Write(dst.Slice(18));
        targetIp.Write(dst.Slice(24));
        return Length;
    }
}
