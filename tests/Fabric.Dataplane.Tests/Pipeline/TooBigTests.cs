using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Pipeline;
using PacketDotNet;
using static Fabric.Dataplane.Tests.Pipeline.Topology;
using ProtocolType = PacketDotNet.ProtocolType;

namespace Fabric.Dataplane.Tests.Pipeline;

/// <summary>
/// Issue 11, too-big frames: a frame that will not fit the underlay once encapsulated (inner IPv4 packet + 50 bytes
/// above the underlay MTU) is not sent into it. An l3 network answers as a router: ICMP fragmentation needed from the
/// sender's gateway, checked here by PacketDotNet; an l2 network only counts it. Both count TooBig.
/// </summary>
public class TooBigTests
{
    private const int UnderlayMtu = 1500;

    private static NodeHarness Node(int underlayMtu = UnderlayMtu) => new(Snapshot(), underlayMtu: underlayMtu);

    /// <summary>An Ethernet frame with an IPv4/UDP packet of exactly <paramref name="ipLength"/> bytes.</summary>
    private static byte[] UdpOfIpLength(MacAddress dstMac, MacAddress srcMac, Ipv4Address src, Ipv4Address dst, int ipLength, bool dontFragment = true,
        byte protocol = IpProtocols.Udp)
    {
        var f = new byte[14 + ipLength];
        EthernetFrame.WriteHeader(f, dstMac, srcMac, EtherTypes.Ipv4);
        Ipv4Header.Write(f.AsSpan(14), src, dst, protocol, ipLength - 20, identification: 0x1234, dontFragment: dontFragment);
        if (protocol == IpProtocols.Udp) UdpHeader.Write(f.AsSpan(34), 5000, 6000, ipLength - 28);
        for (int i = 42; i < f.Length; i++) f[i] = (byte)i;
        return f;
    }

    private static MacAddress Mac(System.Net.NetworkInformation.PhysicalAddress a) => MacAddress.Read(a.GetAddressBytes());

    [Fact]
    public void L3_a_packet_that_fits_the_underlay_exactly_is_sent()
    {
        var o = Node().FromPort(PWeb1, UdpOfIpLength(Web2, Web1, Web1Ip, Web2Ip, UnderlayMtu - 50));
        Assert.Equal(TxKind.Underlay, o.Single.Kind);
        Assert.Empty(o.Drops);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void L3_a_packet_one_byte_too_big_is_answered_with_fragmentation_needed_from_the_gateway(bool dontFragment)
    {
        var node = Node();
        var original = UdpOfIpLength(Web2, Web1, Web1Ip, Web2Ip, UnderlayMtu - 49, dontFragment);
        var o = node.FromPort(PWeb1, original);

        Assert.Equal(DropReason.TooBig, o.SingleDrop);
        Assert.Equal(1, node.Snapshot.Networks[Vpc].Counters.Drop(DropReason.TooBig));
        Assert.Equal(1, node.Snapshot.Ports[PWeb1]!.Counters.Drop(DropReason.TooBig));
        var answer = o.Single;
        Assert.Equal(TxKind.LocalPort, answer.Kind);
        Assert.Equal(PWeb1, answer.PortId);

        var eth = Assert.IsType<EthernetPacket>(Packet.ParsePacket(LinkLayers.Ethernet, answer.Frame));
        Assert.Equal(Web1, Mac(eth.DestinationHardwareAddress));
        Assert.Equal(VpcGatewayMac, Mac(eth.SourceHardwareAddress));
        var ip = Assert.IsType<IPv4Packet>(eth.PayloadPacket);
        Assert.Equal(WebGw.ToIPAddress(), ip.SourceAddress);
        Assert.Equal(Web1Ip.ToIPAddress(), ip.DestinationAddress);
        Assert.Equal(ProtocolType.Icmp, ip.Protocol);
        Assert.True(ip.ValidIPChecksum);
        Assert.Equal(answer.Frame.Length - 14, ip.TotalLength);
        var icmp = Assert.IsType<IcmpV4Packet>(ip.PayloadPacket);
        Assert.Equal(IcmpV4TypeCode.UnreachableFragmentationNeeded, icmp.TypeCode);
        Assert.True(icmp.ValidIcmpChecksum);
        Assert.Equal(UnderlayMtu - 50, icmp.Sequence); // bytes 6-7: the next-hop MTU (RFC 1191)
        // The quote: the original IP header and the first 8 bytes of its payload, as they were.
        Assert.Equal(original.AsSpan(14, 28).ToArray(), icmp.Data);
    }

    [Fact]
    public void L3_a_routed_packet_to_another_subnet_is_answered_too()
    {
        var node = Node(1400);
        var o = node.FromPort(PWeb1, UdpOfIpLength(VpcGatewayMac, Web1, Web1Ip, Db1Ip, 1400 - 49));
        Assert.Equal(DropReason.TooBig, o.SingleDrop);
        var icmp = Packet.ParsePacket(LinkLayers.Ethernet, o.Single.Frame).Extract<IcmpV4Packet>();
        Assert.Equal(IcmpV4TypeCode.UnreachableFragmentationNeeded, icmp.TypeCode);
        Assert.Equal(1350, icmp.Sequence);
    }

    [Fact]
    public void L3_an_icmp_error_that_is_too_big_is_dropped_without_an_answer()
    {
        var frame = UdpOfIpLength(Web2, Web1, Web1Ip, Web2Ip, UnderlayMtu, protocol: IpProtocols.Icmp);
        frame[34] = 3; // destination unreachable: no ICMP error about an ICMP error (RFC 1812 4.3.2.7)
        var o = Node().FromPort(PWeb1, frame);
        Assert.Equal(DropReason.TooBig, o.SingleDrop);
        Assert.Empty(o.Sent);
    }

    [Fact]
    public void L3_delivery_to_a_local_port_is_not_limited_by_the_underlay()
    {
        var o = Node().FromPort(PWeb1, UdpOfIpLength(Nat, Web1, Web1Ip, NatIp, 1900));
        Assert.Equal(PNat, o.Single.PortId);
        Assert.Empty(o.Drops);
    }

    [Fact]
    public void Without_an_underlay_mtu_nothing_is_checked()
        => Assert.Equal(TxKind.Underlay, Node(0).FromPort(PWeb1, UdpOfIpLength(Web2, Web1, Web1Ip, Web2Ip, 1900)).Single.Kind);

    [Fact]
    public void A_gso_super_frame_is_judged_by_its_segment_size_not_its_length()
    {
        var node = Node();
        var frame = UdpOfIpLength(Web2, Web1, Web1Ip, Web2Ip, 1900);
        var fits = node.Run(b => { b.AddFromPort(PWeb1, frame); b.Meta(b.Count - 1).GsoSegmentLength = 14 + UnderlayMtu - 50; });
        Assert.Equal(TxKind.Underlay, fits.Single.Kind);
        var tooBig = node.Run(b => { b.AddFromPort(PWeb1, frame); b.Meta(b.Count - 1).GsoSegmentLength = 14 + UnderlayMtu - 49; });
        Assert.Equal(DropReason.TooBig, tooBig.SingleDrop);
    }

    [Fact]
    public void L2_a_unicast_frame_too_big_for_the_underlay_is_counted_and_dropped()
    {
        var node = Node();
        var o = node.FromPort(P1, UdpOfIpLength(R21, M1, Ip1, IpR21, UnderlayMtu - 49));
        Assert.Equal(DropReason.TooBig, o.SingleDrop);
        Assert.Empty(o.Sent);
        Assert.Equal(1, node.Snapshot.Networks[Blue].Counters.Drop(DropReason.TooBig));
        Assert.Equal(TxKind.Underlay, node.FromPort(P1, UdpOfIpLength(R21, M1, Ip1, IpR21, UnderlayMtu - 50)).Single.Kind);
    }

    [Fact]
    public void L2_a_flooded_frame_too_big_for_the_underlay_still_reaches_local_ports_but_not_the_overlay()
    {
        var node = Node();
        var o = node.FromPort(P1, UdpOfIpLength(MacAddress.Broadcast, M1, Ip1, Ipv4Address.LimitedBroadcast, UnderlayMtu - 49));
        Assert.Equal(DropReason.TooBig, o.SingleDrop);
        Assert.All(o.Sent, s => Assert.Equal(TxKind.LocalPort, s.Kind));
        Assert.Equal([P2, P3], o.Sent.Select(s => s.PortId).Order());
    }
}
