using System.Net;
using Fabric.Dataplane.Packets;
using PacketDotNet;
using PacketDotNet.Utils;
using static Fabric.Dataplane.Tests.Packets.TestFrames;
using OurArp = Fabric.Dataplane.Packets.ArpPacket;
using OurArpOp = Fabric.Dataplane.Packets.ArpOperation;
using PdnArp = PacketDotNet.ArpPacket;
using PdnArpOp = PacketDotNet.ArpOperation;

namespace Fabric.Dataplane.Tests.Packets;

/// <summary>Frames written by our codecs, decoded by PacketDotNet as an independent reader.</summary>
public class OurWritersDecodedByPacketDotNetTests
{
    private static EthernetPacket Decode(byte[] bytes)
        => Assert.IsType<EthernetPacket>(Packet.ParsePacket(LinkLayers.Ethernet, bytes));

    private static void AssertEthernet(EthernetPacket eth, MacAddress src, MacAddress dst, EthernetType type)
    {
        Assert.Equal(src, FromPhysical(eth.SourceHardwareAddress));
        Assert.Equal(dst, FromPhysical(eth.DestinationHardwareAddress));
        Assert.Equal(type, eth.Type);
    }

    [Fact]
    public void Ethernet_ipv4_icmp_echo_written_by_us_decodes_in_PacketDotNet()
    {
        var data = Pattern(40);
        var bytes = EthIpv4Icmp(MacA, MacB, IpA, IpB, IcmpEcho.EchoRequest, 0xBEEF, 0x0102, data, ttl: 61, ipId: 0x7777);

        var eth = Decode(bytes);
        AssertEthernet(eth, MacA, MacB, EthernetType.IPv4);

        var ip = Assert.IsType<IPv4Packet>(eth.PayloadPacket);
        Assert.Equal(IPVersion.IPv4, ip.Version);
        Assert.Equal(IpA.ToIPAddress(), ip.SourceAddress);
        Assert.Equal(IpB.ToIPAddress(), ip.DestinationAddress);
        Assert.Equal(61, ip.TimeToLive);
        Assert.Equal(ProtocolType.Icmp, ip.Protocol);
        Assert.Equal(0x7777, ip.Id);
        Assert.Equal(20 + 8 + 40, ip.TotalLength);
        Assert.True(ip.ValidIPChecksum);
        Assert.Equal(ip.CalculateIPChecksum(), ip.Checksum);

        var icmp = Assert.IsType<IcmpV4Packet>(ip.PayloadPacket);
        Assert.Equal(IcmpV4TypeCode.EchoRequest, icmp.TypeCode);
        Assert.Equal(0xBEEF, icmp.Id);
        Assert.Equal(0x0102, icmp.Sequence);
        Assert.Equal(data, icmp.Data);
        Assert.True(icmp.ValidIcmpChecksum);
    }

    [Fact]
    public void Icmp_echo_reply_with_odd_data_written_by_us_has_a_checksum_PacketDotNet_accepts()
    {
        var bytes = EthIpv4Icmp(MacB, MacA, IpB, IpA, IcmpEcho.EchoReply, 1, 65535, Pattern(7));
        var icmp = Decode(bytes).Extract<IcmpV4Packet>();
        Assert.NotNull(icmp);
        Assert.Equal(IcmpV4TypeCode.EchoReply, icmp.TypeCode);
        Assert.Equal(65535, icmp.Sequence);
        Assert.True(icmp.ValidIcmpChecksum);
    }

    [Theory]
    [InlineData(OurArpOp.Request, PdnArpOp.Request)]
    [InlineData(OurArpOp.Reply, PdnArpOp.Response)]
    public void Ethernet_arp_written_by_us_decodes_in_PacketDotNet(OurArpOp op, PdnArpOp expected)
    {
        var targetMac = op == OurArpOp.Request ? MacAddress.Zero : MacB;
        var bytes = EthArp(op, MacA, IpA, targetMac, IpB, minLength: 60);

        var eth = Decode(bytes);
        AssertEthernet(eth, MacA, op == OurArpOp.Request ? MacAddress.Broadcast : MacB, EthernetType.Arp);

        var arp = Assert.IsType<PdnArp>(eth.PayloadPacket);
        Assert.Equal(expected, arp.Operation);
        Assert.Equal(LinkLayers.Ethernet, arp.HardwareAddressType);
        Assert.Equal(EthernetType.IPv4, arp.ProtocolAddressType);
        Assert.Equal(6, arp.HardwareAddressLength);
        Assert.Equal(4, arp.ProtocolAddressLength);
        Assert.Equal(MacA, FromPhysical(arp.SenderHardwareAddress));
        Assert.Equal(IpA.ToIPAddress(), arp.SenderProtocolAddress);
        Assert.Equal(targetMac, FromPhysical(arp.TargetHardwareAddress));
        Assert.Equal(IpB.ToIPAddress(), arp.TargetProtocolAddress);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(100)]
    public void Ethernet_ipv4_udp_written_by_us_decodes_in_PacketDotNet(int payloadLength)
    {
        var payload = Pattern(payloadLength, seed: 9);
        var bytes = EthIpv4Udp(MacA, MacB, IpA, IpB, 33333, 4444, payload, ttl: 3, ipId: 0x0101, dscp: 46, dontFragment: false);

        var eth = Decode(bytes);
        AssertEthernet(eth, MacA, MacB, EthernetType.IPv4);

        var ip = Assert.IsType<IPv4Packet>(eth.PayloadPacket);
        Assert.Equal(IpA.ToIPAddress(), ip.SourceAddress);
        Assert.Equal(IpB.ToIPAddress(), ip.DestinationAddress);
        Assert.Equal(3, ip.TimeToLive);
        Assert.Equal(ProtocolType.Udp, ip.Protocol);
        Assert.Equal(0x0101, ip.Id);
        Assert.Equal(46 << 2, ip.TypeOfService);
        Assert.Equal(0, ip.FragmentFlags);
        Assert.Equal(0, ip.FragmentOffset);
        Assert.Equal(5, ip.HeaderLength); // PacketDotNet counts 32-bit words
        Assert.True(ip.ValidIPChecksum);

        var udp = Assert.IsType<UdpPacket>(ip.PayloadPacket);
        Assert.Equal(33333, udp.SourcePort);
        Assert.Equal(4444, udp.DestinationPort);
        Assert.Equal(8 + payloadLength, udp.Length);
        Assert.Equal(udp.CalculateUdpChecksum(), udp.Checksum);
        Assert.True(udp.ValidUdpChecksum);
        Assert.True(udp.ValidChecksum);
        Assert.Equal(payload, udp.PayloadData ?? []);
    }

    [Fact]
    public void Dont_fragment_flag_written_by_us_is_seen_by_PacketDotNet()
    {
        var ip = Decode(EthIpv4Udp(MacA, MacB, IpA, IpB, 1, 2, [])).Extract<IPv4Packet>();
        Assert.Equal(0b010, ip.FragmentFlags);
    }

    [Theory]
    [InlineData(6)]
    [InlineData(15)]
    public void Ipv4_options_we_skip_are_skipped_identically_by_PacketDotNet(int ihl)
    {
        var icmp = IcmpMessage(IcmpEcho.EchoRequest, 0x0A0B, 3, Pattern(12));
        var ipBytes = Ipv4WithOptions(ihl, IpProtocols.Icmp, icmp);
        var frame = new byte[14 + ipBytes.Length];
        EthernetFrame.WriteHeader(frame, MacB, MacA, EtherTypes.Ipv4);
        ipBytes.CopyTo(frame, 14);

        Assert.Equal(PacketError.None, Ipv4Header.TryParse(ipBytes, out var ours));
        var ip = Decode(frame).Extract<IPv4Packet>();
        Assert.Equal(ours.HeaderLength, ip.HeaderLength * 4);
        Assert.True(ip.ValidIPChecksum);
        Assert.Equal(ours.HeaderLength, ip.HeaderData.Length);
        Assert.Equal(ours.Payload.ToArray(), ip.PayloadPacket.Bytes);
        var pdnIcmp = Assert.IsType<IcmpV4Packet>(ip.PayloadPacket);
        Assert.Equal(0x0A0B, pdnIcmp.Id);
    }

    [Fact]
    public void Vlan_tagged_frame_written_by_us_decodes_in_PacketDotNet()
    {
        var untagged = EthIpv4Icmp();
        var frame = new byte[untagged.Length + 4];
        EthernetFrame.WriteTaggedHeader(frame, MacB, MacA, 3001, EtherTypes.Ipv4);
        untagged.AsSpan(14).CopyTo(frame.AsSpan(18));

        var eth = Decode(frame);
        AssertEthernet(eth, MacA, MacB, EthernetType.VLanTaggedFrame);
        var tag = Assert.IsType<Ieee8021QPacket>(eth.PayloadPacket);
        Assert.Equal(3001, tag.VlanIdentifier);
        Assert.Equal(EthernetType.IPv4, tag.Type);
        var ip = Assert.IsType<IPv4Packet>(tag.PayloadPacket);
        Assert.Equal(IpA.ToIPAddress(), ip.SourceAddress);
        Assert.True(ip.ValidIPChecksum);
        Assert.True(Assert.IsType<IcmpV4Packet>(ip.PayloadPacket).ValidIcmpChecksum);
    }

    [Fact]
    public void Vxlan_packet_from_WriteOuter_decodes_in_PacketDotNet_outer_and_inner()
    {
        var innerData = Pattern(24);
        var inner = EthIpv4Icmp(MacA, MacB, IpA, IpB, IcmpEcho.EchoRequest, 0x4321, 17, innerData, ttl: 64);
        var bytes = Vxlan(inner, 0xABCDEF, srcPort: 61000, ttl: 32);

        // Outer headers: PacketDotNet as the decoder.
        var eth = Decode(bytes);
        AssertEthernet(eth, VtepMacA, VtepMacB, EthernetType.IPv4);
        var ip = Assert.IsType<IPv4Packet>(eth.PayloadPacket);
        Assert.Equal(VtepA.ToIPAddress(), ip.SourceAddress);
        Assert.Equal(VtepB.ToIPAddress(), ip.DestinationAddress);
        Assert.Equal(32, ip.TimeToLive);
        Assert.Equal(ProtocolType.Udp, ip.Protocol);
        Assert.Equal(20 + 8 + 8 + inner.Length, ip.TotalLength);
        Assert.True(ip.ValidIPChecksum);
        var udp = Assert.IsType<UdpPacket>(ip.PayloadPacket);
        Assert.Equal(61000, udp.SourcePort);
        Assert.Equal(4789, udp.DestinationPort);
        Assert.Equal(8 + 8 + inner.Length, udp.Length);
        Assert.True(udp.ValidUdpChecksum);

        // The UDP payload bytes, as PacketDotNet delimits them, go through our VxlanHeader...
        Assert.True(udp.HasPayloadPacket);
        var vxlanBytes = udp.PayloadPacket.BytesSegment.ActualBytes();
        Assert.Equal(8 + inner.Length, vxlanBytes.Length);
        Assert.Equal(PacketError.None, VxlanHeader.TryParse(vxlanBytes, out var vx));
        Assert.Equal(0xABCDEF, vx.Vni);
        Assert.Equal("08000000ABCDEF00", Convert.ToHexString(vxlanBytes, 0, 8));

        // ... and PacketDotNet 1.4.8 turns out to have a VXLAN dissector of its own (UDP port 4789), so compare with it too.
        var pdnVxlan = Assert.IsType<VxlanPacket>(udp.PayloadPacket);
        Assert.Equal(VxlanHeader.FlagI, pdnVxlan.Flags);
        Assert.Equal(0xABCDEFu, pdnVxlan.Vni);
        AssertEthernet(Assert.IsType<EthernetPacket>(pdnVxlan.PayloadPacket), MacA, MacB, EthernetType.IPv4);

        // ... and the inner frame back through PacketDotNet.
        var innerEth = Decode(vx.Inner.ToArray());
        AssertEthernet(innerEth, MacA, MacB, EthernetType.IPv4);
        var innerIp = Assert.IsType<IPv4Packet>(innerEth.PayloadPacket);
        Assert.Equal(IpA.ToIPAddress(), innerIp.SourceAddress);
        Assert.Equal(IpB.ToIPAddress(), innerIp.DestinationAddress);
        Assert.Equal(64, innerIp.TimeToLive);
        Assert.Equal(ProtocolType.Icmp, innerIp.Protocol);
        Assert.True(innerIp.ValidIPChecksum);
        var icmp = Assert.IsType<IcmpV4Packet>(innerIp.PayloadPacket);
        Assert.Equal(IcmpV4TypeCode.EchoRequest, icmp.TypeCode);
        Assert.Equal(0x4321, icmp.Id);
        Assert.Equal(17, icmp.Sequence);
        Assert.Equal(innerData, icmp.Data);
        Assert.True(icmp.ValidIcmpChecksum);
    }
}

/// <summary>Where PacketDotNet 1.4.8 and our readers agree, and where they knowingly differ.</summary>
public class PacketDotNetEdgeCaseTests
{
    private const int VxlanOffset = 14 + 20 + 8;

    private static UdpPacket DecodeUdp(byte[] bytes)
        => Packet.ParsePacket(LinkLayers.Ethernet, bytes).Extract<UdpPacket>() ?? throw new Xunit.Sdk.XunitException("no UDP");

    [Fact]
    public void Vxlan_reserved_bits_set_to_one_are_ignored_by_us_and_by_PacketDotNet()
    {
        var bytes = Vxlan(EthIpv4Icmp(), 0x123456);
        bytes[VxlanOffset] = 0xFF;
        bytes[VxlanOffset + 1] = bytes[VxlanOffset + 2] = bytes[VxlanOffset + 3] = bytes[VxlanOffset + 7] = 0xFF;

        Assert.Equal(PacketError.None, VxlanHeader.TryParse(bytes.AsSpan(VxlanOffset), out var ours));
        Assert.Equal(0x123456, ours.Vni);
        var theirs = Assert.IsType<VxlanPacket>(DecodeUdp(bytes).PayloadPacket);
        Assert.Equal(0x123456u, theirs.Vni);
    }

    [Fact]
    public void Vxlan_without_the_I_flag_is_refused_by_us_though_PacketDotNet_still_dissects_it()
    {
        var bytes = Vxlan(EthIpv4Icmp(), 0x123456);
        bytes[VxlanOffset] = 0x00;
        Assert.Equal(PacketError.VxlanFlagNotSet, VxlanHeader.TryParse(bytes.AsSpan(VxlanOffset), out _));
        // PacketDotNet decides by UDP port 4789 alone; RFC 7348 says the I flag MUST be set for a valid VNI.
        Assert.IsType<VxlanPacket>(DecodeUdp(bytes).PayloadPacket);
    }

    [Fact]
    public void Zero_udp_checksum_is_accepted_by_us_though_PacketDotNet_calls_it_invalid()
    {
        var bytes = EthIpv4Udp(MacA, MacB, IpA, IpB, 1, 2, Pattern(5), computeChecksum: false);
        Assert.Equal(PacketError.None, EthernetFrame.TryParse(bytes, out var eth));
        Assert.Equal(PacketError.None, Ipv4Header.TryParse(eth.Payload, out var ip));
        Assert.Equal(PacketError.None, UdpHeader.TryParse(ip.Payload, out var ours));
        Assert.True(ours.ChecksumValid(ip.Source, ip.Destination)); // RFC 768: zero means "not computed"
        var theirs = DecodeUdp(bytes);
        Assert.Equal(0, theirs.Checksum);
        Assert.False(theirs.ValidUdpChecksum); // PacketDotNet recomputes and compares, ignoring the zero convention
    }
}

/// <summary>Frames built by PacketDotNet, read by our codecs.</summary>
public class PacketDotNetFramesReadByUsTests
{
    private static readonly IPAddress PdnIpA = IPAddress.Parse("172.16.0.1");
    private static readonly IPAddress PdnIpB = IPAddress.Parse("172.16.0.2");

    private static EthernetPacket Ethernet(EthernetType type, Packet payload)
        => new(ToPhysical(MacA), ToPhysical(MacB), type) { PayloadPacket = payload };

    private static IPv4Packet Ipv4(Packet payload, ProtocolType protocol, int ttl = 64)
    {
        var ip = new IPv4Packet(PdnIpA, PdnIpB) { PayloadPacket = payload, TimeToLive = ttl, Protocol = protocol, Id = 0x5150 };
        return ip;
    }

    private static IcmpV4Packet Icmp(IcmpV4TypeCode typeCode, ushort id, ushort seq, byte[] data)
    {
        var icmp = new IcmpV4Packet(new ByteArraySegment(new byte[8 + data.Length]))
        {
            TypeCode = typeCode, Id = id, Sequence = seq, Data = data,
        };
        return icmp;
    }

    private static byte[] Finish(EthernetPacket eth)
    {
        eth.UpdateCalculatedValues();
        foreach (var ip in Layers(eth).OfType<IPv4Packet>()) ip.UpdateIPChecksum();
        foreach (var icmp in Layers(eth).OfType<IcmpV4Packet>()) icmp.UpdateIcmpChecksum();
        foreach (var udp in Layers(eth).OfType<UdpPacket>()) udp.UpdateUdpChecksum();
        return eth.Bytes;
    }

    private static IEnumerable<Packet> Layers(Packet p)
    {
        for (Packet? q = p; q is not null; q = q.PayloadPacket) yield return q;
    }

    private static Ipv4Address Ours(IPAddress a) => Ipv4Address.FromIPAddress(a);

    [Fact]
    public void PacketDotNet_icmp_echo_reads_through_our_ethernet_ipv4_and_icmp()
    {
        var data = Pattern(32);
        var bytes = Finish(Ethernet(EthernetType.IPv4, Ipv4(Icmp(IcmpV4TypeCode.EchoRequest, 0x1111, 0x2222, data), ProtocolType.Icmp, ttl: 128)));

        Assert.Equal(PacketError.None, EthernetFrame.TryParse(bytes, out var eth));
        Assert.Equal(MacA, eth.Source);
        Assert.Equal(MacB, eth.Destination);
        Assert.Equal(EtherTypes.Ipv4, eth.EtherType);
        Assert.Equal(PacketError.None, Ipv4Header.TryParse(eth.Payload, out var ip));
        Assert.Equal(Ours(PdnIpA), ip.Source);
        Assert.Equal(Ours(PdnIpB), ip.Destination);
        Assert.Equal(128, ip.Ttl);
        Assert.Equal(IpProtocols.Icmp, ip.Protocol);
        Assert.Equal(0x5150, ip.Identification);
        Assert.Equal(PacketError.None, IcmpEcho.TryParse(ip.Payload, out var icmp));
        Assert.True(icmp.IsEchoRequest);
        Assert.Equal(0x1111, icmp.Identifier);
        Assert.Equal(0x2222, icmp.Sequence);
        Assert.Equal(data, icmp.Data.ToArray());
    }

    [Theory]
    [InlineData(PdnArpOp.Request, OurArpOp.Request)]
    [InlineData(PdnArpOp.Response, OurArpOp.Reply)]
    public void PacketDotNet_arp_reads_through_our_arp(PdnArpOp op, OurArpOp expected)
    {
        var arp = new PdnArp(op, ToPhysical(MacB), PdnIpB, ToPhysical(MacA), PdnIpA);
        var bytes = Finish(Ethernet(EthernetType.Arp, arp));

        Assert.Equal(PacketError.None, EthernetFrame.TryParse(bytes, out var eth));
        Assert.Equal(EtherTypes.Arp, eth.EtherType);
        Assert.Equal(PacketError.None, OurArp.TryParse(eth.Payload, out var ours));
        Assert.Equal(expected, ours.Operation);
        Assert.Equal(MacA, ours.SenderMac);
        Assert.Equal(Ours(PdnIpA), ours.SenderIp);
        Assert.Equal(MacB, ours.TargetMac);
        Assert.Equal(Ours(PdnIpB), ours.TargetIp);
        Assert.False(ours.IsGratuitous);
    }

    [Fact]
    public void PacketDotNet_rarp_is_an_unsupported_operation_for_us()
    {
        var arp = new PdnArp(PdnArpOp.RequestReverse, ToPhysical(MacB), PdnIpB, ToPhysical(MacA), PdnIpA);
        var bytes = Finish(Ethernet(EthernetType.Arp, arp));
        Assert.Equal(PacketError.None, EthernetFrame.TryParse(bytes, out var eth));
        Assert.Equal(PacketError.UnsupportedArpOperation, OurArp.TryParse(eth.Payload, out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(200)]
    public void PacketDotNet_udp_reads_through_our_udp_with_a_valid_checksum(int payloadLength)
    {
        var payload = Pattern(payloadLength, seed: 5);
        var udp = new UdpPacket(1234, 53) { PayloadData = payload };
        var bytes = Finish(Ethernet(EthernetType.IPv4, Ipv4(udp, ProtocolType.Udp)));

        Assert.Equal(PacketError.None, EthernetFrame.TryParse(bytes, out var eth));
        Assert.Equal(PacketError.None, Ipv4Header.TryParse(eth.Payload, out var ip));
        Assert.Equal(IpProtocols.Udp, ip.Protocol);
        Assert.Equal(28 + payloadLength, ip.TotalLength);
        Assert.Equal(PacketError.None, UdpHeader.TryParse(ip.Payload, out var ours));
        Assert.Equal(1234, ours.SourcePort);
        Assert.Equal(53, ours.DestinationPort);
        Assert.Equal(8 + payloadLength, ours.DatagramLength);
        Assert.NotEqual(0, ours.Checksum);
        Assert.True(ours.ChecksumValid(ip.Source, ip.Destination));
        Assert.Equal(payload, ours.Payload.ToArray());
    }

    [Fact]
    public void PacketDotNet_vlan_tagged_frame_reads_through_our_tag_handling()
    {
        // PayloadPacket must be set while Type is still 0: with Type = IPv4 first, PacketDotNet lazily parses the
        // (empty) old payload as IPv4 inside the setter and throws IndexOutOfRangeException.
        var tag = new Ieee8021QPacket(new ByteArraySegment(new byte[4]))
        {
            PayloadPacket = Ipv4(Icmp(IcmpV4TypeCode.EchoReply, 9, 9, Pattern(8)), ProtocolType.Icmp),
            VlanIdentifier = 2049,
            Type = EthernetType.IPv4,
            PriorityControlPoint = IeeeP8021PPriority.CriticalApplications,
        };
        var bytes = Finish(Ethernet(EthernetType.VLanTaggedFrame, tag));

        Assert.Equal(PacketError.None, EthernetFrame.TryParse(bytes, out var eth));
        Assert.True(eth.HasVlanTag);
        Assert.Equal(2049, eth.VlanId);
        Assert.Equal(EtherTypes.Ipv4, eth.EtherType);
        Assert.Equal(18, eth.PayloadOffset);
        Assert.Equal(PacketError.None, Ipv4Header.TryParse(eth.Payload, out var ip));
        Assert.Equal(PacketError.None, IcmpEcho.TryParse(ip.Payload, out var icmp));
        Assert.True(icmp.IsEchoReply);
    }

    [Fact]
    public void PacketDotNet_outer_udp_carrying_our_vxlan_header_reads_through_our_whole_stack()
    {
        var innerEth = Ethernet(EthernetType.IPv4, Ipv4(Icmp(IcmpV4TypeCode.EchoRequest, 7, 8, Pattern(16)), ProtocolType.Icmp));
        var inner = Finish(innerEth);
        var vxlan = new byte[8 + inner.Length];
        VxlanHeader.Write(vxlan, 4242);
        inner.CopyTo(vxlan, 8);
        var udp = new UdpPacket(49999, VxlanHeader.DefaultPort) { PayloadData = vxlan };
        var outer = new EthernetPacket(ToPhysical(VtepMacA), ToPhysical(VtepMacB), EthernetType.IPv4)
        {
            PayloadPacket = new IPv4Packet(VtepA.ToIPAddress(), VtepB.ToIPAddress()) { PayloadPacket = udp, Protocol = ProtocolType.Udp },
        };
        var bytes = Finish(outer);

        Assert.Equal(PacketError.None, EthernetFrame.TryParse(bytes, out var eth));
        Assert.Equal(VtepMacA, eth.Source);
        Assert.Equal(PacketError.None, Ipv4Header.TryParse(eth.Payload, out var ip));
        Assert.Equal(VtepB, ip.Destination);
        Assert.Equal(PacketError.None, UdpHeader.TryParse(ip.Payload, out var ourUdp));
        Assert.True(ourUdp.ChecksumValid(ip.Source, ip.Destination));
        Assert.Equal(VxlanHeader.DefaultPort, ourUdp.DestinationPort);
        Assert.Equal(PacketError.None, VxlanHeader.TryParse(ourUdp.Payload, out var vx));
        Assert.Equal(4242, vx.Vni);
        Assert.Equal(PacketError.None, EthernetFrame.TryParse(vx.Inner, out var ie));
        Assert.Equal(MacA, ie.Source);
        Assert.Equal(PacketError.None, Ipv4Header.TryParse(ie.Payload, out var iip));
        Assert.Equal(Ours(PdnIpA), iip.Source);
        Assert.Equal(PacketError.None, IcmpEcho.TryParse(iip.Payload, out var icmp));
        Assert.Equal(7, icmp.Identifier);
        Assert.Equal(8, icmp.Sequence);
    }
}

