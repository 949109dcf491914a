using System.Buffers.Binary;

namespace Fabric.Dataplane.Packets;

/// <summary>ICMP echo request/reply (RFC 792). Other ICMP types parse as <see cref="Type"/> only.</summary>
public readonly ref struct IcmpEcho
{
    public const byte EchoReply = 0;
    public const byte EchoRequest = 8;
    public const int HeaderLength = 8;

    public ReadOnlySpan<byte> Bytes { get; }
    public byte Type => Bytes[0];
    public byte Code => Bytes[1];
    public ushort Checksum => BinaryPrimitives.ReadUInt16BigEndian(Bytes.Slice(2));
    public ushort Identifier => BinaryPrimitives.ReadUInt16BigEndian(Bytes.Slice(4));
    public ushort Sequence => BinaryPrimitives.ReadUInt16BigEndian(Bytes.Slice(6));
    public ReadOnlySpan<byte> Data => Bytes.Slice(HeaderLength);
    public bool IsEchoRequest => Type == EchoRequest && Code == 0;
    public bool IsEchoReply => Type == EchoReply && Code == 0;

    private IcmpEcho(ReadOnlySpan<byte> bytes) => Bytes = bytes;

    /// <summary>Parses the ICMP message that is the whole IPv4 payload; the checksum covers all of it.</summary>
    public static PacketError TryParse(ReadOnlySpan<byte> message, out IcmpEcho icmp)
    {
        icmp = default;
        if (message.Length < HeaderLength) return PacketError.Truncated;
        if (!InternetChecksum.IsValid(message)) return PacketError.BadChecksum;
        icmp = new IcmpEcho(message);
        return PacketError.None;
    }

    public static int Write(Span<byte> dst, byte type, ushort identifier, ushort sequence, ReadOnlySpan<byte> data)
    {
        dst[0] = type;
        dst[1] = 0;
        dst[2] = 0;
        dst[3] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(dst.Slice(4), identifier);
        BinaryPrimitives.WriteUInt16BigEndian(dst.Slice(6), sequence);
        data.CopyTo(dst.Slice(HeaderLength));
        var len = HeaderLength + data.Length;
        BinaryPrimitives.WriteUInt16BigEndian(dst.Slice(2), InternetChecksum.Compute(dst.Slice(0, len)));
        return len;
    }
}
