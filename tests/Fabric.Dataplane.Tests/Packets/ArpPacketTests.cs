using Fabric.Dataplane.Packets;
using static Fabric.Dataplane.Tests.Packets.TestFrames;

namespace Fabric.Dataplane.Tests.Packets;

public class ArpPacketTests
{
    private static ArpFields Parse(byte[] frame)
    {
        Assert.Equal(PacketError.None, EthernetFrame.TryParse(frame, out var eth));
        Assert.Equal(EtherTypes.Arp, eth.EtherType);
        Assert.Equal(PacketError.None, ArpPacket.TryParse(eth.Payload, out var arp));
        return new ArpFields(arp.Operation, arp.SenderMac, arp.SenderIp, arp.TargetMac, arp.TargetIp, arp.IsGratuitous, arp.IsProbe, arp.Bytes.Length);
    }

    private readonly record struct ArpFields(ArpOperation Op, MacAddress SenderMac, Ipv4Address SenderIp, MacAddress TargetMac,
        Ipv4Address TargetIp, bool Gratuitous, bool Probe, int Length);

    [Fact]
    public void Arp_request_round_trips()
    {
        var a = Parse(EthArp(ArpOperation.Request, MacA, IpA, MacAddress.Zero, IpB));
        Assert.Equal(new ArpFields(ArpOperation.Request, MacA, IpA, MacAddress.Zero, IpB, false, false, 28), a);
    }

    [Fact]
    public void Arp_reply_round_trips()
    {
        var a = Parse(EthArp(ArpOperation.Reply, MacB, IpB, MacA, IpA));
        Assert.Equal(new ArpFields(ArpOperation.Reply, MacB, IpB, MacA, IpA, false, false, 28), a);
    }

    [Theory]
    [InlineData(ArpOperation.Request)]
    [InlineData(ArpOperation.Reply)]
    public void Gratuitous_arp_announces_the_senders_own_address(ArpOperation op)
    {
        var a = Parse(EthArp(op, MacA, IpA, MacAddress.Zero, IpA, MacAddress.Broadcast));
        Assert.True(a.Gratuitous);
        Assert.False(a.Probe);
    }

    [Fact]
    public void Arp_probe_has_zero_sender_ip_and_is_not_gratuitous()
    {
        var a = Parse(EthArp(ArpOperation.Request, MacA, Ipv4Address.Any, MacAddress.Zero, IpA));
        Assert.True(a.Probe);
        Assert.False(a.Gratuitous);
        // A probe for 0.0.0.0 itself has sender == target but still only asks.
        var b = Parse(EthArp(ArpOperation.Request, MacA, Ipv4Address.Any, MacAddress.Zero, Ipv4Address.Any));
        Assert.True(b.Probe);
        Assert.False(b.Gratuitous);
    }

    [Fact]
    public void Arp_in_a_padded_frame_spans_exactly_28_bytes()
    {
        var frame = EthArp(ArpOperation.Request, MacA, IpA, MacAddress.Zero, IpB, minLength: 60);
        Assert.Equal(60, frame.Length);
        Assert.Equal(28, Parse(frame).Length);
    }

    [Fact]
    public void Arp_writer_lays_out_rfc826_fields()
    {
        var b = new byte[28];
        Assert.Equal(28, ArpPacket.Write(b, ArpOperation.Reply, MacA, IpA, MacB, IpB));
        Assert.Equal("0001080006040002" + "02000000000A" + "0A00010A" + "02000000000B" + "0A00010B", Convert.ToHexString(b));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(8)]
    [InlineData(27)]
    public void Arp_shorter_than_28_bytes_is_truncated(int length)
    {
        var b = new byte[28];
        ArpPacket.Write(b, ArpOperation.Request, MacA, IpA, MacB, IpB);
        Assert.Equal(PacketError.Truncated, ArpPacket.TryParse(b.AsSpan(0, length), out var arp));
        Assert.True(arp.Bytes.IsEmpty);
    }

    [Theory]
    [InlineData(1, 0x06)] // hardware type 6 (IEEE 802) instead of 1
    [InlineData(0, 0x01)] // hardware type 0x0101
    [InlineData(2, 0x86)] // protocol 0x8600
    [InlineData(3, 0xDD)] // protocol 0x08DD
    [InlineData(4, 8)]    // hardware address length 8
    [InlineData(5, 16)]   // protocol address length 16 (IPv6)
    public void Arp_other_than_ethernet_ipv4_is_unsupported(int offset, byte value)
    {
        var b = new byte[28];
        ArpPacket.Write(b, ArpOperation.Request, MacA, IpA, MacB, IpB);
        b[offset] = value;
        Assert.Equal(PacketError.UnsupportedArpFormat, ArpPacket.TryParse(b, out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)] // RARP request
    [InlineData(8)] // InARP
    [InlineData(0x0101)]
    public void Arp_operations_other_than_request_and_reply_are_unsupported(ushort op)
    {
        var b = new byte[28];
        ArpPacket.Write(b, (ArpOperation)op, MacA, IpA, MacB, IpB);
        Assert.Equal(PacketError.UnsupportedArpOperation, ArpPacket.TryParse(b, out _));
    }
}
