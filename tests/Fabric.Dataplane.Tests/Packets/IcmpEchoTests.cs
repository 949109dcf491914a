using System.Buffers.Binary;
using Fabric.Dataplane.Packets;
using static Fabric.Dataplane.Tests.Packets.TestFrames;

namespace Fabric.Dataplane.Tests.Packets;

public class IcmpEchoTests
{
    [Theory]
    [InlineData(IcmpEcho.EchoRequest, 0)]
    [InlineData(IcmpEcho.EchoReply, 56)]
    [InlineData(IcmpEcho.EchoRequest, 1)]
    [InlineData(IcmpEcho.EchoReply, 1471)]
    public void Icmp_echo_round_trips_type_id_sequence_and_data(byte type, int dataLength)
    {
        var data = Pattern(dataLength, seed: 3);
        var m = IcmpMessage(type, 0xFEDC, 0x0102, data);
        Assert.Equal(8 + dataLength, m.Length);
        Assert.Equal(PacketError.None, IcmpEcho.TryParse(m, out var e));
        Assert.Equal(type, e.Type);
        Assert.Equal(0, e.Code);
        Assert.Equal(0xFEDC, e.Identifier);
        Assert.Equal(0x0102, e.Sequence);
        Assert.Equal(data, e.Data.ToArray());
        Assert.Equal(type == IcmpEcho.EchoRequest, e.IsEchoRequest);
        Assert.Equal(type == IcmpEcho.EchoReply, e.IsEchoReply);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)] // odd length: the trailing byte is padded with zero for the sum
    [InlineData(56)]
    public void Icmp_checksum_is_the_rfc1071_sum_over_the_whole_message(int dataLength)
    {
        var m = IcmpMessage(IcmpEcho.EchoRequest, 1, 2, Pattern(dataLength));
        var checksum = BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(2));
        m[2] = m[3] = 0;
        Assert.Equal(ReferenceChecksum(m), checksum);
    }

    [Fact]
    public void Icmp_corrupted_byte_gives_BadChecksum()
    {
        var m = IcmpMessage(IcmpEcho.EchoRequest, 1, 2, Pattern(20));
        for (int i = 0; i < m.Length; i++)
        {
            var c = (byte[])m.Clone();
            c[i] ^= 0x40;
            Assert.Equal(PacketError.BadChecksum, IcmpEcho.TryParse(c, out var e));
            Assert.True(e.Bytes.IsEmpty);
        }
    }

    [Fact]
    public void Icmp_trailing_byte_outside_the_message_breaks_the_checksum()
    {
        // The reader trusts its caller to pass exactly the IPv4 payload; extra bytes are part of the sum.
        var m = IcmpMessage(IcmpEcho.EchoRequest, 1, 2, Pattern(4));
        var longer = new byte[m.Length + 1];
        m.CopyTo(longer, 0);
        longer[^1] = 0x99;
        Assert.Equal(PacketError.BadChecksum, IcmpEcho.TryParse(longer, out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    public void Icmp_shorter_than_8_bytes_is_Truncated(int length)
        => Assert.Equal(PacketError.Truncated, IcmpEcho.TryParse(new byte[length], out _));

    [Fact]
    public void Non_echo_icmp_parses_but_is_neither_request_nor_reply()
    {
        var m = IcmpMessage(3, 0, 0, Pattern(28)); // destination unreachable
        Assert.Equal(PacketError.None, IcmpEcho.TryParse(m, out var e));
        Assert.Equal(3, e.Type);
        Assert.False(e.IsEchoRequest);
        Assert.False(e.IsEchoReply);
    }

    [Fact]
    public void Echo_type_with_nonzero_code_is_not_an_echo()
    {
        var m = IcmpMessage(IcmpEcho.EchoRequest, 1, 1, []);
        m[1] = 1;
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(2), 0);
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(2), InternetChecksum.Compute(m));
        Assert.Equal(PacketError.None, IcmpEcho.TryParse(m, out var e));
        Assert.Equal(1, e.Code);
        Assert.False(e.IsEchoRequest);
    }
}
