using System.Buffers.Binary;

namespace Fabric.Dataplane.Packets;

public static class EtherTypes
{
    public const ushort Ipv4 = 0x0800;
    public const ushort Arp = 0x0806;
    public const ushort Vlan = 0x8100;
    public const ushort QinQ = 0x88A8;
    public const ushort Ipv6 = 0x86DD;
}

/// <summary>
/// Ethernet II header reader. One 802.1Q (or 802.1ad) tag is understood: <see cref="EtherType"/> is the
/// type after the tag and <see cref="PayloadOffset"/> points past it, so callers never mistake a tag for the payload.
/// </summary>
public readonly ref struct EthernetFrame
{
    public const int HeaderLength = 14;
    public const int VlanTagLength = 4;

    public ReadOnlySpan<byte> Bytes { get; }
    public MacAddress Destination => MacAddress.Read(Bytes);
    public MacAddress Source => MacAddress.Read(Bytes.Slice(6));
    public ushort EtherType { get; }
    public bool HasVlanTag { get; }
    /// <summary>The 12-bit VLAN id when tagged, else 0.</summary>
    public ushort VlanId { get; }
    public int PayloadOffset { get; }
    public ReadOnlySpan<byte> Payload => Bytes.Slice(PayloadOffset);

    private EthernetFrame(ReadOnlySpan<byte> bytes, ushort etherType, bool tagged, ushort vlan, int payloadOffset)
    {
        Bytes = bytes; EtherType = etherType; HasVlanTag = tagged; VlanId = vlan; PayloadOffset = payloadOffset;
    }

    public static PacketError TryParse(ReadOnlySpan<byte> bytes, out EthernetFrame frame)
    {
        frame = default;
        if (bytes.Length < HeaderLength) return PacketError.Truncated;
        var type = BinaryPrimitives.ReadUInt16BigEndian(bytes.Slice(12));
        if (type is EtherTypes.Vlan or EtherTypes.QinQ)
        {
            if (bytes.Length < HeaderLength + VlanTagLength) return PacketError.Truncated;
            var tci = BinaryPrimitives.ReadUInt16BigEndian(bytes.Slice(14));
            var inner = BinaryPrimitives.ReadUInt16BigEndian(bytes.Slice(16));
            frame = new EthernetFrame(bytes, inner, true, (ushort)(tci & 0x0FFF), HeaderLength + VlanTagLength);
            return PacketError.None;
        }
        frame = new EthernetFrame(bytes, type, false, 0, HeaderLength);
        return PacketError.None;
    }

    /// <summary>Writes an untagged header and returns its length.</summary>
    public static int WriteHeader(Span<byte> dst, MacAddress destination, MacAddress source, ushort etherType)
    {
        destination.Write(dst);
        source.Write(dst.Slice(6));
        BinaryPrimitives.WriteUInt16BigEndian(dst.Slice(12), etherType);
        return HeaderLength;
    }

    /// <summary>Writes a header with one 802.1Q tag and returns its length.</summary>
    public static int WriteTaggedHeader(Span<byte> dst, MacAddress destination, MacAddress source, ushort vlanId, ushort etherType)
    {
        destination.Write(dst);
        source.Write(dst.Slice(6));
        BinaryPrimitives.WriteUInt16BigEndian(dst.Slice(12), EtherTypes.Vlan);
        BinaryPrimitives.WriteUInt16BigEndian(dst.Slice(14), (ushort)(vlanId & 0x0FFF));
        BinaryPrimitives.WriteUInt16BigEndian(dst.Slice(16), etherType);
        return HeaderLength + VlanTagLength;
    }
}
