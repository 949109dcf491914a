using System.Buffers.Binary;
using Fabric.Dataplane.Packets;
using static Fabric.Dataplane.Tests.Packets.TestFrames;

namespace Fabric.Dataplane.Tests.Packets;

public class EthernetFrameTests
{
    [Fact]
    public void Untagged_header_round_trips_macs_and_ethertype_with_payload_at_14()
    {
        var buf = new byte[60];
        Assert.Equal(14, EthernetFrame.WriteHeader(buf, MacB, MacA, EtherTypes.Arp));
        buf[14] = 0xAA;

        Assert.Equal(PacketError.None, EthernetFrame.TryParse(buf, out var f));
        Assert.Equal(MacB, f.Destination);
        Assert.Equal(MacA, f.Source);
        Assert.Equal(EtherTypes.Arp, f.EtherType);
        Assert.False(f.HasVlanTag);
        Assert.Equal(0, f.VlanId);
        Assert.Equal(14, f.PayloadOffset);
        Assert.Equal(46, f.Payload.Length);
        Assert.Equal(0xAA, f.Payload[0]);
        Assert.Equal(60, f.Bytes.Length);
    }

    [Fact]
    public void Tagged_header_reports_the_ethertype_after_the_tag_and_payload_at_18()
    {
        var buf = new byte[64];
        Assert.Equal(18, EthernetFrame.WriteTaggedHeader(buf, MacB, MacA, 100, EtherTypes.Ipv4));
        Assert.Equal(EtherTypes.Vlan, BinaryPrimitives.ReadUInt16BigEndian(buf.AsSpan(12)));
        buf[18] = 0x45;

        Assert.Equal(PacketError.None, EthernetFrame.TryParse(buf, out var f));
        Assert.Equal(MacB, f.Destination);
        Assert.Equal(MacA, f.Source);
        Assert.True(f.HasVlanTag);
        Assert.Equal(100, f.VlanId);
        Assert.Equal(EtherTypes.Ipv4, f.EtherType);
        Assert.Equal(18, f.PayloadOffset);
        Assert.Equal(0x45, f.Payload[0]);
        Assert.Equal(46, f.Payload.Length);
    }

    [Theory]
    [InlineData(0x0064, 100)]
    [InlineData(0xA064, 100)] // PCP 5 is not part of the VLAN id
    [InlineData(0x1FFF, 0xFFF)] // DEI is not part of the VLAN id
    [InlineData(0xF000, 0)]
    public void Vlan_id_is_the_low_12_bits_of_the_tci(ushort tci, ushort vlan)
    {
        var buf = new byte[18];
        EthernetFrame.WriteHeader(buf, MacB, MacA, EtherTypes.Vlan);
        BinaryPrimitives.WriteUInt16BigEndian(buf.AsSpan(14), tci);
        BinaryPrimitives.WriteUInt16BigEndian(buf.AsSpan(16), EtherTypes.Arp);
        Assert.Equal(PacketError.None, EthernetFrame.TryParse(buf, out var f));
        Assert.Equal(vlan, f.VlanId);
        Assert.Equal(EtherTypes.Arp, f.EtherType);
        Assert.True(f.Payload.IsEmpty);
    }

    [Fact]
    public void Provider_bridging_tag_0x88a8_is_understood_like_802_1q()
    {
        var buf = new byte[20];
        EthernetFrame.WriteHeader(buf, MacB, MacA, EtherTypes.QinQ);
        BinaryPrimitives.WriteUInt16BigEndian(buf.AsSpan(14), 42);
        BinaryPrimitives.WriteUInt16BigEndian(buf.AsSpan(16), EtherTypes.Ipv6);
        Assert.Equal(PacketError.None, EthernetFrame.TryParse(buf, out var f));
        Assert.True(f.HasVlanTag);
        Assert.Equal(42, f.VlanId);
        Assert.Equal(EtherTypes.Ipv6, f.EtherType);
        Assert.Equal(18, f.PayloadOffset);
    }

    [Fact]
    public void Tagged_writer_keeps_only_12_bits_of_the_vlan_id()
    {
        var buf = new byte[18];
        EthernetFrame.WriteTaggedHeader(buf, MacB, MacA, 0xF123, EtherTypes.Ipv4);
        Assert.Equal(0x0123, BinaryPrimitives.ReadUInt16BigEndian(buf.AsSpan(14)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(13)]
    public void Frame_shorter_than_14_bytes_is_truncated(int length)
    {
        Assert.Equal(PacketError.Truncated, EthernetFrame.TryParse(new byte[length], out var f));
        Assert.True(f.Bytes.IsEmpty);
    }

    [Theory]
    [InlineData(14)]
    [InlineData(17)]
    public void Tagged_frame_shorter_than_18_bytes_is_truncated(int length)
    {
        var buf = new byte[length];
        EthernetFrame.WriteHeader(buf, MacB, MacA, EtherTypes.Vlan);
        Assert.Equal(PacketError.Truncated, EthernetFrame.TryParse(buf, out _));
    }

    [Fact]
    public void Header_only_frame_has_an_empty_payload()
    {
        var buf = new byte[14];
        EthernetFrame.WriteHeader(buf, MacB, MacA, EtherTypes.Ipv4);
        Assert.Equal(PacketError.None, EthernetFrame.TryParse(buf, out var f));
        Assert.True(f.Payload.IsEmpty);
    }
}
