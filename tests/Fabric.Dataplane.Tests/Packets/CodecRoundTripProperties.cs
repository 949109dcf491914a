using System.Buffers.Binary;
using Fabric.Dataplane.Packets;
using FsCheck.Xunit;
using static Fabric.Dataplane.Tests.Packets.TestFrames;

namespace Fabric.Dataplane.Tests.Packets;

/// <summary>
/// Write-then-read with random field values over their whole range (<see cref="WideArbitraries"/>: without it every
/// integer stays within 0–100, so no high octet, multicast bit, port above 100, PCP/DEI bit or VNI above 100 is seen).
/// </summary>
public class CodecRoundTripProperties
{
    [Property(MaxTest = 1000, Arbitrary = [typeof(WideArbitraries)])]
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

    [Property(MaxTest = 1000, Arbitrary = [typeof(WideArbitraries)])]
    public void Ethernet_header_round_trips(ulong dst, ulong src, ushort etherType, ushort vlan, bool tagged)
    {
        if (etherType is EtherTypes.Vlan or EtherTypes.QinQ) etherType = EtherTypes.Ipv4;
        var d = new MacAddress(dst & 0xFFFF_FFFF_FFFFUL);
        var s = new MacAddress(src & 0xFFFF_FFFF_FFFFUL);
        var b = new byte[18];
        var len = tagged ? EthernetFrame.WriteTaggedHeader(b, d, s, vlan, etherType) : EthernetFrame.WriteHeader(b, d, s, etherType);
        Assert.Equal(PacketError.None, EthernetFrame.TryParse(b, out var f));
        Assert.Equal((d, s, etherType, tagged, tagged ? vlan & 0xFFF : 0, len), (f.Destination, f.Source, f.EtherType, f.HasVlanTag, (int)f.VlanId, f.PayloadOffset));
        Assert.Equal((d.IsMulticast, d.IsBroadcast), ((dst & 0x0100_0000_0000UL) != 0, (dst & 0xFFFF_FFFF_FFFFUL) == 0xFFFF_FFFF_FFFFUL));
        // The writer sets no priority and no DEI: the TCI carries the 12-bit VLAN id alone.
        if (tagged) Assert.Equal(vlan & 0xFFF, BinaryPrimitives.ReadUInt16BigEndian(b.AsSpan(14)));
    }

    /// <summary>
    /// A tag written by someone else: 802.1Q or 802.1ad (QinQ) TPID, any PCP and DEI. The reader takes the 12-bit VLAN
    /// id from the TCI, ignores PCP and DEI, and points past the tag at the inner type, whatever it is.
    /// </summary>
    [Property(MaxTest = 1000, Arbitrary = [typeof(WideArbitraries)])]
    public void A_tag_with_any_tpid_pcp_and_dei_reads_as_its_vlan_id_and_inner_type(ulong dst, ulong src, bool qinq, ushort tci, ushort inner, byte[] payload)
    {
        var d = new MacAddress(dst & 0xFFFF_FFFF_FFFFUL);
        var s = new MacAddress(src & 0xFFFF_FFFF_FFFFUL);
        var b = new byte[18 + payload.Length];
        EthernetFrame.WriteHeader(b, d, s, qinq ? EtherTypes.QinQ : EtherTypes.Vlan);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(14), tci);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(16), inner);
        payload.CopyTo(b, 18);
        Assert.Equal(PacketError.None, EthernetFrame.TryParse(b, out var f));
        Assert.Equal((d, s, inner, true, tci & 0xFFF, 18), (f.Destination, f.Source, f.EtherType, f.HasVlanTag, (int)f.VlanId, f.PayloadOffset));
        Assert.Equal(payload, f.Payload.ToArray());
    }

    [Property(MaxTest = 1000, Arbitrary = [typeof(WideArbitraries)])]
    public void Ipv4_header_round_trips(uint src, uint dst, byte protocol, ushort id, byte ttl, bool df, byte dscp, ushort payload)
    {
        var payloadLength = payload % 1500;
        var b = new byte[20 + payloadLength];
        Ipv4Header.Write(b, new(src), new(dst), protocol, payloadLength, ttl, id, df, (byte)(dscp & 0x3F));
        Assert.Equal(PacketError.None, Ipv4Header.TryParse(b, out var h));
        Assert.Equal((src, dst, protocol, id, ttl, df, dscp & 0x3F, 20 + payloadLength, payloadLength, false),
            (h.Source.Value, h.Destination.Value, h.Protocol, h.Identification, h.Ttl, h.DontFragment, (int)h.Dscp, (int)h.TotalLength, h.Payload.Length, h.IsFragment));
    }

    [Property(MaxTest = 1000, Arbitrary = [typeof(WideArbitraries)])]
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

    [Property(MaxTest = 1000, Arbitrary = [typeof(WideArbitraries)])]
    public void Icmp_echo_round_trips(bool request, ushort id, ushort seq, byte[] data)
    {
        var m = IcmpMessage(request ? IcmpEcho.EchoRequest : IcmpEcho.EchoReply, id, seq, data);
        Assert.Equal(PacketError.None, IcmpEcho.TryParse(m, out var e));
        Assert.Equal((request, !request, id, seq), (e.IsEchoRequest, e.IsEchoReply, e.Identifier, e.Sequence));
        Assert.Equal(data, e.Data.ToArray());
    }

    [Property(MaxTest = 1000, Arbitrary = [typeof(WideArbitraries)])]
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

    [Property(MaxTest = 1000, Arbitrary = [typeof(WideArbitraries)])]
    public void Vxlan_round_trips_any_24_bit_vni_and_ignores_reserved_bits(int anyVni, byte reserved)
    {
        var vni = anyVni & VxlanHeader.MaxVni; // a full-range int: every bit of the 24 is reached
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
