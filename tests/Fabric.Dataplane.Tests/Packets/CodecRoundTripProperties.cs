using Fabric.Dataplane.Packets;
using FsCheck.Xunit;
using static Fabric.Dataplane.Tests.Packets.TestFrames;

namespace Fabric.Dataplane.Tests.Packets;

/// <summary>Write-then-read with random field values.</summary>
public class CodecRoundTripProperties
{
    [Property(MaxTest = 1000)]
    public void Address_text_round_trips(ulong mac, uint ip, byte length)
    {
        var m = new MacAddress(mac & 0xFFFF_FFFF_FFFFUL);
        Assert.Equal(m, MacAddress.Parse(m.ToString()));
        var a = new Ipv4Address(ip);
        Assert.Equal(a, Ipv4Address.Parse(a.ToString()));
        Assert.Equal(a, Ipv4Address.FromIPAddress(a.ToIPAddress()));
        var p = new Ipv4Prefix(a, length % 33);
        Assert.Equal(p, Ipv4Prefix.Parse(p.ToString()));
        Assert.True(p.Contains(a) && p.Contains(p.Network) && p.Contains(p.Broadcast) && p.Contains(p.FirstHost));
        Assert.True(p.Contains(p) && p.Overlaps(p));
    }

    [Property(MaxTest = 1000)]
    public void Ethernet_header_round_trips(ulong dst, ulong src, ushort etherType, ushort vlan, bool tagged)
    {
        if (etherType is EtherTypes.Vlan or EtherTypes.QinQ) etherType = EtherTypes.Ipv4;
        var d = new MacAddress(dst & 0xFFFF_FFFF_FFFFUL);
        var s = new MacAddress(src & 0xFFFF_FFFF_FFFFUL);
        var b = new byte[18];
        var len = tagged ? EthernetFrame.WriteTaggedHeader(b, d, s, vlan, etherType) : EthernetFrame.WriteHeader(b, d, s, etherType);
        Assert.Equal(PacketError.None, EthernetFrame.TryParse(b, out var f));
        Assert.Equal((d, s, etherType, tagged, tagged ? vlan & 0xFFF : 0, len), (f.Destination, f.Source, f.EtherType, f.HasVlanTag, (int)f.VlanId, f.PayloadOffset));
    }

    [Property(MaxTest = 1000)]
    public void Ipv4_header_round_trips(uint src, uint dst, byte protocol, ushort id, byte ttl, bool df, byte dscp, ushort payload)
    {
        var payloadLength = payload % 1500;
        var b = new byte[20 + payloadLength];
        Ipv4Header.Write(b, new(src), new(dst), protocol, payloadLength, ttl, id, df, (byte)(dscp & 0x3F));
        Assert.Equal(PacketError.None, Ipv4Header.TryParse(b, out var h));
        Assert.Equal((src, dst, protocol, id, ttl, df, dscp & 0x3F, 20 + payloadLength, payloadLength, false),
            (h.Source.Value, h.Destination.Value, h.Protocol, h.Identification, h.Ttl, h.DontFragment, (int)h.Dscp, (int)h.TotalLength, h.Payload.Length, h.IsFragment));
    }

    [Property(MaxTest = 1000)]
    public void Udp_round_trips_with_a_checksum_equal_to_the_reference(uint src, uint dst, ushort sport, ushort dport, byte[] payload)
    {
        var b = new byte[8 + payload.Length];
        payload.CopyTo(b, 8);
        UdpHeader.Write(b, sport, dport, payload.Length, computeChecksum: true, new(src), new(dst));
        Assert.Equal(PacketError.None, UdpHeader.TryParse(b, out var u));
        Assert.Equal((sport, dport, 8 + payload.Length), (u.SourcePort, u.DestinationPort, (int)u.DatagramLength));
        Assert.Equal(payload, u.Payload.ToArray());
        Assert.True(u.ChecksumValid(new(src), new(dst)));
        var zeroed = (byte[])b.Clone();
        zeroed[6] = zeroed[7] = 0;
        Assert.Equal(ReferenceUdpChecksum(new(src), new(dst), zeroed), u.Checksum);
    }

    [Property(MaxTest = 1000)]
    public void Icmp_echo_round_trips(bool request, ushort id, ushort seq, byte[] data)
    {
        var m = IcmpMessage(request ? IcmpEcho.EchoRequest : IcmpEcho.EchoReply, id, seq, data);
        Assert.Equal(PacketError.None, IcmpEcho.TryParse(m, out var e));
        Assert.Equal((request, !request, id, seq), (e.IsEchoRequest, e.IsEchoReply, e.Identifier, e.Sequence));
        Assert.Equal(data, e.Data.ToArray());
    }

    [Property(MaxTest = 1000)]
    public void Arp_round_trips(bool reply, ulong senderMac, uint senderIp, ulong targetMac, uint targetIp)
    {
        var op = reply ? ArpOperation.Reply : ArpOperation.Request;
        var sm = new MacAddress(senderMac & 0xFFFF_FFFF_FFFFUL);
        var tm = new MacAddress(targetMac & 0xFFFF_FFFF_FFFFUL);
        var b = new byte[28];
        ArpPacket.Write(b, op, sm, new(senderIp), tm, new(targetIp));
        Assert.Equal(PacketError.None, ArpPacket.TryParse(b, out var a));
        Assert.Equal((op, sm, senderIp, tm, targetIp), (a.Operation, a.SenderMac, a.SenderIp.Value, a.TargetMac, a.TargetIp.Value));
        Assert.Equal(senderIp == 0, a.IsProbe);
        Assert.Equal(senderIp == targetIp && senderIp != 0, a.IsGratuitous);
    }

    [Property(MaxTest = 1000)]
    public void Vxlan_round_trips_any_24_bit_vni_and_ignores_reserved_bits(int vni, byte reserved)
    {
        vni &= VxlanHeader.MaxVni;
        var b = new byte[8];
        VxlanHeader.Write(b, vni);
        Assert.Equal(PacketError.None, VxlanHeader.TryParse(b, out var h));
        Assert.Equal(vni, h.Vni);
        b[0] |= (byte)(reserved & ~VxlanHeader.FlagI);
        b[1] = b[2] = b[3] = b[7] = reserved;
        Assert.Equal(PacketError.None, VxlanHeader.TryParse(b, out h));
        Assert.Equal(vni, h.Vni);
    }
}
