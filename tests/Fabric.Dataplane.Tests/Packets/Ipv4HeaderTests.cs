using System.Buffers.Binary;
using Fabric.Dataplane.Packets;
using static Fabric.Dataplane.Tests.Packets.TestFrames;

namespace Fabric.Dataplane.Tests.Packets;

public class Ipv4HeaderTests
{
    private static byte[] Packet(int payloadLength = 12, bool dontFragment = true)
    {
        var b = new byte[20 + payloadLength];
        Ipv4Header.Write(b, IpA, IpB, IpProtocols.Udp, payloadLength, ttl: 17, identification: 0xABCD, dontFragment: dontFragment, dscp: 46);
        for (int i = 20; i < b.Length; i++) b[i] = (byte)i;
        return b;
    }

    [Fact]
    public void Ipv4_header_round_trips_every_field()
    {
        var b = Packet();
        Assert.Equal(PacketError.None, Ipv4Header.TryParse(b, out var h));
        Assert.Equal(20, h.HeaderLength);
        Assert.Equal(46, h.Dscp);
        Assert.Equal(32, h.TotalLength);
        Assert.Equal(0xABCD, h.Identification);
        Assert.True(h.DontFragment);
        Assert.False(h.MoreFragments);
        Assert.Equal(0, h.FragmentOffset);
        Assert.False(h.IsFragment);
        Assert.Equal(17, h.Ttl);
        Assert.Equal(IpProtocols.Udp, h.Protocol);
        Assert.Equal(IpA, h.Source);
        Assert.Equal(IpB, h.Destination);
        Assert.Equal(b.AsSpan(20).ToArray(), h.Payload.ToArray());
        Assert.Equal(32, h.Bytes.Length);
    }

    [Fact]
    public void Ipv4_writer_produces_a_checksum_that_verifies()
    {
        var b = Packet();
        Assert.True(InternetChecksum.IsValid(b.AsSpan(0, 20)));
        var zeroed = b.AsSpan(0, 20).ToArray();
        zeroed[10] = zeroed[11] = 0;
        Assert.Equal(ReferenceChecksum(zeroed), BinaryPrimitives.ReadUInt16BigEndian(b.AsSpan(10)));
        Assert.Equal(PacketError.None, Ipv4Header.TryParse(b, out var h));
        Assert.Equal(ReferenceChecksum(zeroed), h.Checksum);
    }

    [Fact]
    public void Ipv4_writer_clears_the_df_bit_when_asked()
    {
        Assert.Equal(PacketError.None, Ipv4Header.TryParse(Packet(dontFragment: false), out var h));
        Assert.False(h.DontFragment);
        Assert.False(h.IsFragment);
    }

    [Fact]
    public void Any_single_bit_flip_in_the_checksummed_fields_gives_BadChecksum()
    {
        // Bytes 0 and 2..3 are validated before the checksum (version/IHL and total length), so flip everything else.
        for (int i = 0; i < 20; i++)
        {
            if (i is 0 or 2 or 3) continue;
            for (int bit = 0; bit < 8; bit++)
            {
                var b = Packet();
                b[i] ^= (byte)(1 << bit);
                Assert.Equal(PacketError.BadChecksum, Ipv4Header.TryParse(b, out var h));
                Assert.True(h.Bytes.IsEmpty);
            }
        }
    }

    [Fact]
    public void Checksum_covers_the_options_too()
    {
        var b = Ipv4WithOptions(8, IpProtocols.Icmp, IcmpMessage(8, 1, 1, []));
        b[25] ^= 0x10;
        Assert.Equal(PacketError.BadChecksum, Ipv4Header.TryParse(b, out _));
    }

    [Fact]
    public void Payload_bytes_are_not_covered_by_the_header_checksum()
    {
        var b = Packet();
        b[25] ^= 0xFF;
        Assert.Equal(PacketError.None, Ipv4Header.TryParse(b, out _));
    }

    [Theory]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(10)]
    [InlineData(15)]
    public void Ipv4_header_with_options_exposes_payload_after_options(int ihl)
    {
        var icmp = IcmpMessage(IcmpEcho.EchoRequest, 0x4242, 9, Pattern(10));
        var b = Ipv4WithOptions(ihl, IpProtocols.Icmp, icmp, trailing: 6);

        Assert.Equal(PacketError.None, Ipv4Header.TryParse(b, out var h));
        Assert.Equal(ihl * 4, h.HeaderLength);
        Assert.Equal(ihl * 4 + icmp.Length, h.TotalLength);
        Assert.Equal(icmp, h.Payload.ToArray());
        Assert.Equal(PacketError.None, IcmpEcho.TryParse(h.Payload, out var echo));
        Assert.Equal(0x4242, echo.Identifier);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4)]
    public void Ihl_below_5_is_BadHeaderLength(int ihl)
    {
        var b = Packet();
        b[0] = (byte)(0x40 | ihl);
        Assert.Equal(PacketError.BadHeaderLength, Ipv4Header.TryParse(b, out _));
    }

    [Fact]
    public void Ihl_beyond_the_bytes_present_is_Truncated()
    {
        var b = Packet(payloadLength: 20); // 40 bytes, but IHL 15 claims 60 bytes of header
        b[0] = 0x4F;
        Assert.Equal(PacketError.Truncated, Ipv4Header.TryParse(b, out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(6)]
    [InlineData(15)]
    public void Version_other_than_4_is_BadVersion(int version)
    {
        var b = Packet();
        b[0] = (byte)(version << 4 | 5);
        Assert.Equal(PacketError.BadVersion, Ipv4Header.TryParse(b, out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(19)]
    public void Fewer_than_20_bytes_is_Truncated(int length)
        => Assert.Equal(PacketError.Truncated, Ipv4Header.TryParse(Packet().AsSpan(0, length), out _));

    [Theory]
    [InlineData(33)]
    [InlineData(65535)]
    public void Total_length_beyond_the_bytes_present_is_Truncated(int totalLength)
    {
        var b = Packet(); // 32 bytes
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(2), (ushort)totalLength);
        Ipv4Header.WriteChecksum(b.AsSpan(0, 20));
        Assert.Equal(PacketError.Truncated, Ipv4Header.TryParse(b, out _));
    }

    [Theory]
    [InlineData(5, 0)]
    [InlineData(5, 19)]
    [InlineData(6, 20)]
    [InlineData(6, 23)]
    public void Total_length_shorter_than_the_header_is_BadTotalLength(int ihl, int totalLength)
    {
        var b = Ipv4WithOptions(ihl, IpProtocols.Udp, Pattern(8));
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(2), (ushort)totalLength);
        Ipv4Header.WriteChecksum(b.AsSpan(0, ihl * 4));
        Assert.Equal(PacketError.BadTotalLength, Ipv4Header.TryParse(b, out _));
    }

    [Fact]
    public void Total_length_equal_to_the_header_gives_an_empty_payload()
    {
        var b = Ipv4WithOptions(6, IpProtocols.Udp, [], trailing: 10);
        Assert.Equal(PacketError.None, Ipv4Header.TryParse(b, out var h));
        Assert.Equal(24, h.Bytes.Length);
        Assert.True(h.Payload.IsEmpty);
    }

    [Fact]
    public void Ethernet_padding_is_excluded_from_the_payload()
    {
        // 4-byte ICMP echo data: 14 + 20 + 12 = 46 bytes, padded by the sender to the 60-byte minimum.
        var frame = EthIpv4Icmp(Pattern(4), minLength: 60);
        frame[59] = 0xEE; // padding is garbage, not zeros, on some NICs
        Assert.Equal(PacketError.None, EthernetFrame.TryParse(frame, out var eth));
        Assert.Equal(46, eth.Payload.Length);
        Assert.Equal(PacketError.None, Ipv4Header.TryParse(eth.Payload, out var ip));
        Assert.Equal(32, ip.Bytes.Length);
        Assert.Equal(12, ip.Payload.Length);
        Assert.Equal(PacketError.None, IcmpEcho.TryParse(ip.Payload, out var echo)); // padding would break the ICMP checksum
        Assert.Equal(4, echo.Data.Length);
    }

    [Theory]
    [InlineData(0x2000, true, 0)]        // first fragment: MF, offset 0
    [InlineData(0x2000 | 185, true, 1480)] // middle fragment
    [InlineData(185, false, 1480)]        // last fragment: offset only
    [InlineData(0x1FFF, false, 65528)]    // largest offset
    [InlineData(0x6000 | 1, true, 8)]     // DF and MF together is malformed but still a fragment
    public void Fragments_are_recognised_by_mf_flag_or_offset(int flagsAndOffset, bool moreFragments, int offset)
    {
        var b = Packet();
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(6), (ushort)flagsAndOffset);
        Ipv4Header.WriteChecksum(b.AsSpan(0, 20));
        Assert.Equal(PacketError.None, Ipv4Header.TryParse(b, out var h));
        Assert.True(h.IsFragment);
        Assert.Equal(moreFragments, h.MoreFragments);
        Assert.Equal(offset, h.FragmentOffset);
    }

    [Fact]
    public void Reserved_flag_bit_does_not_make_a_fragment()
    {
        var b = Packet();
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(6), 0x8000);
        Ipv4Header.WriteChecksum(b.AsSpan(0, 20));
        Assert.Equal(PacketError.None, Ipv4Header.TryParse(b, out var h));
        Assert.False(h.IsFragment);
        Assert.False(h.DontFragment);
    }

    [Fact]
    public void WriteChecksum_recomputes_over_options_in_place()
    {
        var b = Ipv4WithOptions(9, IpProtocols.Tcp, Pattern(3));
        b[8] = 1; // TTL change
        Assert.False(InternetChecksum.IsValid(b.AsSpan(0, 36)));
        Ipv4Header.WriteChecksum(b.AsSpan(0, 36));
        Assert.True(InternetChecksum.IsValid(b.AsSpan(0, 36)));
        Assert.Equal(PacketError.None, Ipv4Header.TryParse(b, out var h));
        Assert.Equal(1, h.Ttl);
    }
}
