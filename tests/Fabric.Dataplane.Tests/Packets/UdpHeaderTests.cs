using System.Buffers.Binary;
using Fabric.Dataplane.Packets;
using static Fabric.Dataplane.Tests.Packets.TestFrames;

namespace Fabric.Dataplane.Tests.Packets;

public class UdpHeaderTests
{
    private static byte[] Datagram(byte[] payload, bool checksum = true)
    {
        var b = new byte[8 + payload.Length];
        payload.CopyTo(b, 8);
        Assert.Equal(8, UdpHeader.Write(b, 5353, 53, payload.Length, checksum, IpA, IpB));
        return b;
    }

    [Fact]
    public void Udp_round_trips_ports_length_and_payload()
    {
        var payload = Pattern(11);
        Assert.Equal(PacketError.None, UdpHeader.TryParse(Datagram(payload), out var u));
        Assert.Equal(5353, u.SourcePort);
        Assert.Equal(53, u.DestinationPort);
        Assert.Equal(19, u.DatagramLength);
        Assert.Equal(payload, u.Payload.ToArray());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(7)]
    [InlineData(1000)]
    public void Udp_checksum_matches_the_pseudo_header_reference_and_verifies(int payloadLength)
    {
        var b = Datagram(Pattern(payloadLength));
        var written = BinaryPrimitives.ReadUInt16BigEndian(b.AsSpan(6));
        var zeroed = (byte[])b.Clone();
        zeroed[6] = zeroed[7] = 0;
        Assert.Equal(ReferenceUdpChecksum(IpA, IpB, zeroed), written);
        Assert.Equal(PacketError.None, UdpHeader.TryParse(b, out var u));
        Assert.True(u.ChecksumValid(IpA, IpB));
        Assert.True(u.ChecksumValid(IpB, IpA)); // swapping the addresses does not change a one's complement sum
    }

    [Fact]
    public void Udp_checksum_fails_for_another_address_or_a_corrupted_byte()
    {
        var b = Datagram(Pattern(9));
        Assert.Equal(PacketError.None, UdpHeader.TryParse(b, out var u));
        Assert.False(u.ChecksumValid(IpA, Ipv4Address.Parse("10.0.1.12")));
        b[12] ^= 1;
        Assert.Equal(PacketError.None, UdpHeader.TryParse(b, out u));
        Assert.False(u.ChecksumValid(IpA, IpB));
    }

    [Fact]
    public void Udp_zero_checksum_means_none_and_is_accepted()
    {
        var b = Datagram(Pattern(9), checksum: false);
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(b.AsSpan(6)));
        b[12] ^= 0xFF; // nothing can detect this
        Assert.Equal(PacketError.None, UdpHeader.TryParse(b, out var u));
        Assert.Equal(0, u.Checksum);
        Assert.True(u.ChecksumValid(IpA, IpB));
    }

    [Fact]
    public void Udp_checksum_that_computes_to_zero_is_sent_as_all_ones()
    {
        // Find the payload word that makes the sum all ones: it is the checksum of the datagram with that word zero.
        var b = Datagram(new byte[2]);
        var word = BinaryPrimitives.ReadUInt16BigEndian(b.AsSpan(6));
        b = Datagram([(byte)(word >> 8), (byte)word]);
        Assert.Equal(0xFFFF, BinaryPrimitives.ReadUInt16BigEndian(b.AsSpan(6)));
        Assert.Equal(PacketError.None, UdpHeader.TryParse(b, out var u));
        Assert.True(u.ChecksumValid(IpA, IpB));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7)]
    public void Udp_length_below_8_is_BadLength(int length)
    {
        var b = Datagram(Pattern(4));
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(4), (ushort)length);
        Assert.Equal(PacketError.BadLength, UdpHeader.TryParse(b, out var u));
        Assert.True(u.Bytes.IsEmpty);
    }

    [Theory]
    [InlineData(13)]
    [InlineData(65535)]
    public void Udp_length_beyond_the_bytes_present_is_Truncated(int length)
    {
        var b = Datagram(Pattern(4)); // 12 bytes
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(4), (ushort)length);
        Assert.Equal(PacketError.Truncated, UdpHeader.TryParse(b, out _));
    }

    [Fact]
    public void Udp_length_shorter_than_the_bytes_cuts_the_payload()
    {
        var b = Datagram(Pattern(10));
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(4), 12);
        Assert.Equal(PacketError.None, UdpHeader.TryParse(b, out var u));
        Assert.Equal(12, u.Bytes.Length);
        Assert.Equal(Pattern(10).AsSpan(0, 4).ToArray(), u.Payload.ToArray());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    public void Udp_shorter_than_8_bytes_is_Truncated(int length)
        => Assert.Equal(PacketError.Truncated, UdpHeader.TryParse(new byte[length], out _));

    [Fact]
    public void Udp_in_ipv4_frame_verifies_against_the_ip_addresses()
    {
        var frame = EthIpv4Udp(MacA, MacB, IpA, IpB, 40000, 9999, Pattern(33));
        Assert.Equal(PacketError.None, EthernetFrame.TryParse(frame, out var eth));
        Assert.Equal(PacketError.None, Ipv4Header.TryParse(eth.Payload, out var ip));
        Assert.Equal(IpProtocols.Udp, ip.Protocol);
        Assert.Equal(PacketError.None, UdpHeader.TryParse(ip.Payload, out var u));
        Assert.True(u.ChecksumValid(ip.Source, ip.Destination));
        Assert.Equal(Pattern(33), u.Payload.ToArray());
    }
}
