using System.Buffers.Binary;
using Fabric.Dataplane.Packets;
using static Fabric.Dataplane.Tests.Packets.TestFrames;

namespace Fabric.Dataplane.Tests.Packets;

public class VxlanTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4096)]
    [InlineData(0xABCDEF)]
    [InlineData(VxlanHeader.MaxVni)]
    public void Vxlan_round_trips_a_24_bit_vni(int vni)
    {
        var b = new byte[8 + 3];
        Assert.Equal(8, VxlanHeader.Write(b, vni));
        b[8] = 1; b[9] = 2; b[10] = 3;
        Assert.Equal(PacketError.None, VxlanHeader.TryParse(b, out var h));
        Assert.Equal(vni, h.Vni);
        Assert.Equal(new byte[] { 1, 2, 3 }, h.Inner.ToArray());
    }

    [Fact]
    public void Vxlan_writer_sets_only_the_I_flag_and_zeroes_every_reserved_bit()
    {
        var b = new byte[8];
        b.AsSpan().Fill(0xFF);
        VxlanHeader.Write(b, 0x123456);
        Assert.Equal("0800000012345600", Convert.ToHexString(b));
    }

    [Fact]
    public void Vxlan_reserved_bits_are_ignored_on_receive()
    {
        var b = Convert.FromHexString("FFFFFFFF123456FF");
        Assert.Equal(PacketError.None, VxlanHeader.TryParse(b, out var h));
        Assert.Equal(0x123456, h.Vni);
        Assert.True(h.Inner.IsEmpty);
    }

    [Theory]
    [InlineData(0x00)]
    [InlineData(0xF7)] // every flag but I
    [InlineData(0x04)]
    public void Vxlan_without_the_I_flag_is_VxlanFlagNotSet(byte flags)
    {
        var b = new byte[8];
        VxlanHeader.Write(b, 77);
        b[0] = flags;
        Assert.Equal(PacketError.VxlanFlagNotSet, VxlanHeader.TryParse(b, out var h));
        Assert.True(h.Bytes.IsEmpty);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    public void Vxlan_shorter_than_8_bytes_is_Truncated(int length)
    {
        var b = new byte[8];
        VxlanHeader.Write(b, 77);
        Assert.Equal(PacketError.Truncated, VxlanHeader.TryParse(b.AsSpan(0, length), out _));
    }

    [Fact]
    public void WriteOuter_builds_ethernet_ipv4_udp_vxlan_in_front_of_the_inner_frame()
    {
        var inner = EthIpv4Icmp();
        var packet = Vxlan(inner, 0x00C0FE, srcPort: 51234, ttl: 9);
        Assert.Equal(50 + inner.Length, packet.Length);

        Assert.Equal(PacketError.None, EthernetFrame.TryParse(packet, out var eth));
        Assert.Equal(VtepMacA, eth.Source);
        Assert.Equal(VtepMacB, eth.Destination);
        Assert.Equal(EtherTypes.Ipv4, eth.EtherType);

        Assert.Equal(PacketError.None, Ipv4Header.TryParse(eth.Payload, out var ip));
        Assert.Equal(VtepA, ip.Source);
        Assert.Equal(VtepB, ip.Destination);
        Assert.Equal(IpProtocols.Udp, ip.Protocol);
        Assert.Equal(9, ip.Ttl);
        Assert.Equal(36 + inner.Length, ip.TotalLength);

        Assert.Equal(PacketError.None, UdpHeader.TryParse(ip.Payload, out var udp));
        Assert.Equal(51234, udp.SourcePort);
        Assert.Equal(VxlanHeader.DefaultPort, udp.DestinationPort);
        Assert.Equal(16 + inner.Length, udp.DatagramLength);
        Assert.NotEqual(0, udp.Checksum);
        Assert.True(udp.ChecksumValid(ip.Source, ip.Destination));

        Assert.Equal(PacketError.None, VxlanHeader.TryParse(udp.Payload, out var vx));
        Assert.Equal(0x00C0FE, vx.Vni);
        Assert.Equal(inner, vx.Inner.ToArray());
    }

    [Fact]
    public void WriteOuter_udp_checksum_covers_the_inner_frame()
    {
        var packet = Vxlan(EthIpv4Icmp(), 5);
        packet[^1] ^= 0x01;
        Assert.Equal(PacketError.None, EthernetFrame.TryParse(packet, out var eth));
        Assert.Equal(PacketError.None, Ipv4Header.TryParse(eth.Payload, out var ip));
        Assert.Equal(PacketError.None, UdpHeader.TryParse(ip.Payload, out var udp));
        Assert.False(udp.ChecksumValid(ip.Source, ip.Destination));
    }

    [Fact]
    public void Source_port_entropy_stays_in_the_ephemeral_range_and_is_deterministic()
    {
        Assert.Equal(49152, VxlanEncapsulation.SourcePortFor([]));
        Assert.Equal(49152, VxlanEncapsulation.SourcePortFor(new byte[11]));
        var seen = new HashSet<ushort>();
        for (int i = 0; i < 256; i++)
        {
            var frame = new byte[14];
            new MacAddress(0x020000000000UL | (uint)i).Write(frame);
            MacA.Write(frame.AsSpan(6));
            var port = VxlanEncapsulation.SourcePortFor(frame);
            Assert.InRange(port, 49152, 65535);
            Assert.Equal(port, VxlanEncapsulation.SourcePortFor(frame));
            seen.Add(port);
        }
        Assert.True(seen.Count > 200, $"only {seen.Count} distinct ports for 256 flows");
    }
}
