using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Events;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Pipeline;
using Fabric.Dataplane.Pipeline.Nodes;
using Fabric.Dataplane.Tables;
using static Fabric.Dataplane.Tests.Pipeline.Topology;

namespace Fabric.Dataplane.Tests.Pipeline;

/// <summary>DESIGN.md's table, column <c>l3</c>: routed subnets, every VM alone with its gateway (AWS VPC style).</summary>
public class L3NetworkTests
{
    private static readonly MacAddress Gw = VpcGatewayMac;

    [Fact]
    public void L3_forwards_ipv4_unicast_to_a_same_subnet_endpoint_on_another_node()
    {
        var o = Node().FromPort(PWeb1, Frames.Udp(Web2, Web1, Web1Ip, Web2Ip));
        var s = o.Single;
        Assert.Equal(TxKind.Underlay, s.Kind);
        Assert.Equal(B, s.Vtep);
        Assert.Equal(Vpc, s.Vni);
        Assert.Equal(Web2, Frames.Dst(s.Frame));
        Assert.Equal(Web1, Frames.Src(s.Frame)); // same subnet: not routed, the sender's MAC stays
    }

    [Fact]
    public void L3_non_ipv4_is_dropped_and_counted()
    {
        var node = Node();
        Assert.Equal(DropReason.NotIpv4, node.FromPort(PWeb1, Frames.Ethernet(Gw, Web1, EtherTypes.Ipv6)).SingleDrop);
        Assert.Equal(DropReason.NotIpv4, node.FromPort(PWeb1, Frames.Ethernet(Web2, Web1, 0x88B5)).SingleDrop);
        Assert.Equal(2, node.Snapshot.Networks[Vpc].Counters.Drop(DropReason.NotIpv4));
        Assert.Equal(2, node.Snapshot.Ports[PWeb1]!.Counters.Drop(DropReason.NotIpv4));
    }

    [Fact]
    public void L3_broadcast_mac_is_dropped_and_counted()
        => Assert.Equal(DropReason.BroadcastInL3, Node().FromPort(PWeb1, Frames.Udp(MacAddress.Broadcast, Web1, Web1Ip, Web2Ip)).SingleDrop);

    [Fact]
    public void L3_limited_broadcast_address_is_dropped()
        => Assert.Equal(DropReason.BroadcastInL3, Node().FromPort(PWeb1, Frames.Udp(Gw, Web1, Web1Ip, Ipv4Address.LimitedBroadcast)).SingleDrop);

    [Fact]
    public void L3_subnet_directed_broadcast_is_dropped()
        => Assert.Equal(DropReason.BroadcastInL3, Node().FromPort(PWeb1, Frames.Ping(Gw, Web1, Web1Ip, Ipv4Address.Parse("10.20.1.255"))).SingleDrop);

    [Fact]
    public void L3_multicast_is_dropped_and_counted()
    {
        var node = Node();
        Assert.Equal(DropReason.MulticastInL3, node.FromPort(PWeb1, Frames.Udp(MacAddress.Parse("01:00:5e:00:00:fb"), Web1, Web1Ip, Ipv4Address.Parse("224.0.0.251"))).SingleDrop);
        Assert.Equal(DropReason.MulticastInL3, node.FromPort(PWeb1, Frames.Udp(Gw, Web1, Web1Ip, Ipv4Address.Parse("239.1.1.1"))).SingleDrop);
    }

    [Fact]
    public void L3_vlan_tagged_frames_are_not_forwarded_into_the_network()
        => Assert.Equal(DropReason.VlanTagInL3, Node().FromPort(PWeb1, Frames.Tagged(Gw, Web1, 7, EtherTypes.Ipv4)).SingleDrop);

    [Fact]
    public void L3_proxy_arp_answers_a_same_subnet_target_with_the_target_vms_mac()
    {
        var o = Node().FromPort(PWeb1, Frames.ArpRequest(Web1, Web1Ip, Web2Ip));
        var s = o.Single;
        Assert.Equal(PWeb1, s.PortId);
        Assert.Equal(ArpOperation.Reply, L2NetworkTests.ArpOf(s.Frame, out var arp));
        Assert.Equal(Web2, arp.SenderMac);
        Assert.Equal(Web2Ip, arp.SenderIp);
        Assert.Equal(Web1, arp.TargetMac);
    }

    [Fact]
    public void L3_proxy_arp_answers_an_off_subnet_target_with_the_gateway_mac()
    {
        var node = Node();
        L2NetworkTests.ArpOf(node.FromPort(PWeb1, Frames.ArpRequest(Web1, Web1Ip, Db1Ip)).Single.Frame, out var other);
        Assert.Equal(Gw, other.SenderMac);
        L2NetworkTests.ArpOf(node.FromPort(PWeb1, Frames.ArpRequest(Web1, Web1Ip, Ipv4Address.Parse("8.8.8.8"))).Single.Frame, out var outside);
        Assert.Equal(Gw, outside.SenderMac);
    }

    [Fact]
    public void L3_proxy_arp_answers_the_own_gateway_with_the_gateway_mac()
    {
        L2NetworkTests.ArpOf(Node().FromPort(PWeb1, Frames.ArpRequest(Web1, Web1Ip, WebGw)).Single.Frame, out var arp);
        Assert.Equal(Gw, arp.SenderMac);
        Assert.Equal(WebGw, arp.SenderIp);
    }

    [Fact]
    public void L3_proxy_arp_for_an_unknown_same_subnet_address_gets_no_answer_and_is_reported()
    {
        var o = Node().FromPort(PWeb1, Frames.ArpRequest(Web1, Web1Ip, Ipv4Address.Parse("10.20.1.77")));
        Assert.Empty(o.Sent);
        Assert.Equal(DropReason.ArpUnresolved, o.SingleDrop);
        Assert.Equal(DataplaneEventKind.Unresolved, Assert.Single(o.Events).Kind);
    }

    [Fact]
    public void L3_arp_never_leaves_the_host()
    {
        var node = Node();
        var frames = new[]
        {
            Frames.ArpRequest(Web1, Web1Ip, Web2Ip), Frames.ArpRequest(Web1, Web1Ip, Ipv4Address.Parse("10.20.1.77")),
            Frames.GratuitousArp(Web1, Web1Ip), Frames.Arp(ArpOperation.Reply, Web2, Web1, Web1Ip, Web2, Web2Ip),
        };
        foreach (var f in frames) Assert.DoesNotContain(node.FromPort(PWeb1, f).Sent, s => s.Kind == TxKind.Underlay);
    }

    [Fact]
    public void L3_arp_arriving_from_the_overlay_is_dropped()
        => Assert.Equal(DropReason.ArpFromOverlay, Node().FromUnderlay(B, Frames.Vxlan(Vpc, Frames.ArpRequest(Web2, Web2Ip, Web1Ip))).SingleDrop);

    [Fact]
    public void L3_routing_between_subnets_leaves_the_ttl_untouched()
    {
        var o = Node().FromPort(PWeb1, Frames.Ping(Gw, Web1, Web1Ip, Db1Ip, ttl: 5));
        var s = o.Single;
        Assert.Equal(C, s.Vtep);
        Assert.Equal(5, Frames.Ttl(s.Frame));
        Assert.Equal(Db1, Frames.Dst(s.Frame));
        Assert.Equal(Gw, Frames.Src(s.Frame)); // routed: the router's MAC, as a real router would
        Assert.Equal(PacketError.None, Ipv4Header.TryParse(s.Frame.AsSpan(14), out _)); // checksum still valid
    }

    [Fact]
    public void L3_routing_to_a_local_endpoint_of_another_subnet_delivers_to_its_port()
    {
        var o = Node().FromPort(PWeb1, Frames.Ping(Gw, Web1, Web1Ip, Db2Ip, ttl: 9));
        Assert.Equal(PDb2, o.Single.PortId);
        Assert.Equal(9, Frames.Ttl(o.Single.Frame));
    }

    [Fact]
    public void L3_the_subnet_gateway_answers_ping()
    {
        var node = Node();
        var o = node.FromPort(PWeb1, Frames.Ping(Gw, Web1, Web1Ip, WebGw, ttl: 17, id: 0x1234, seq: 9));
        var s = o.Single;
        Assert.Equal(PWeb1, s.PortId);
        Assert.Equal(Web1, Frames.Dst(s.Frame));
        Assert.Equal(Gw, Frames.Src(s.Frame));
        Assert.Equal(PacketError.None, Ipv4Header.TryParse(s.Frame.AsSpan(14), out var ip));
        Assert.Equal(WebGw, ip.Source);
        Assert.Equal(Web1Ip, ip.Destination);
        Assert.Equal(GatewayEcho.ReplyTtl, ip.Ttl);
        Assert.Equal(PacketError.None, IcmpEcho.TryParse(ip.Payload, out var icmp));
        Assert.True(icmp.IsEchoReply);
        Assert.Equal(0x1234, icmp.Identifier);
        Assert.Equal(9, icmp.Sequence);
        Assert.Equal(1, node.Snapshot.Networks[Vpc].Counters.GatewayEchoReplies);
    }

    [Fact]
    public void L3_ping_to_the_gateway_of_another_subnet_is_dropped()
    {
        var o = Node().FromPort(PWeb1, Frames.Ping(Gw, Web1, Web1Ip, DbGw));
        Assert.Empty(o.Sent);
        Assert.Equal(DropReason.OtherSubnetGateway, o.SingleDrop);
    }

    [Fact]
    public void L3_the_gateway_answers_nothing_but_echo()
        => Assert.Equal(DropReason.GatewayNotEcho, Node().FromPort(PWeb1, Frames.Udp(Gw, Web1, Web1Ip, WebGw)).SingleDrop);

    [Fact]
    public void L3_each_subnet_is_routed_by_its_own_route_table()
    {
        var node = Node();
        var internet = Ipv4Address.Parse("8.8.8.8");
        // web uses main (default route to the firewall appliance); db uses private, which has no default.
        Assert.Equal(B, node.FromPort(PWeb1, Frames.Udp(Gw, Web1, Web1Ip, internet)).Single.Vtep);
        Assert.Equal(DropReason.NoRoute, node.FromPort(PDb2, Frames.Udp(Gw, Db2, Db2Ip, internet)).SingleDrop);
        Assert.Equal(DropReason.Blackhole, node.FromPort(PDb2, Frames.Udp(Gw, Db2, Db2Ip, Ipv4Address.Parse("10.99.1.1"))).SingleDrop);
        Assert.Equal(B, node.FromPort(PWeb1, Frames.Udp(Gw, Web1, Web1Ip, Ipv4Address.Parse("10.99.1.1"))).Single.Vtep);
    }

    [Fact]
    public void L3_the_longest_prefix_wins()
    {
        var node = Node();
        // 198.51.100.0/24 is a blackhole inside the 0.0.0.0/0 to the firewall.
        Assert.Equal(DropReason.Blackhole, node.FromPort(PWeb1, Frames.Udp(Gw, Web1, Web1Ip, Ipv4Address.Parse("198.51.100.7"))).SingleDrop);
        Assert.Single(node.FromPort(PWeb1, Frames.Udp(Gw, Web1, Web1Ip, Ipv4Address.Parse("198.51.101.7"))).Sent);
    }

    [Fact]
    public void L3_a_blackhole_route_drops_and_counts()
    {
        var node = Node();
        node.FromPort(PWeb1, Frames.Udp(Gw, Web1, Web1Ip, Ipv4Address.Parse("198.51.100.1")));
        Assert.Equal(1, node.Snapshot.Networks[Vpc].Counters.Drop(DropReason.Blackhole));
    }

    [Fact]
    public void L3_a_route_to_an_endpoint_delivers_to_the_appliance_with_the_destination_ip_untouched()
    {
        var dst = Ipv4Address.Parse("8.8.4.4");
        var s = Node().FromPort(PWeb1, Frames.Udp(Gw, Web1, Web1Ip, dst, ttl: 33)).Single;
        Assert.Equal(B, s.Vtep);
        Assert.Equal(Fw, Frames.Dst(s.Frame));
        Assert.Equal(PacketError.None, Ipv4Header.TryParse(s.Frame.AsSpan(14), out var ip));
        Assert.Equal(dst, ip.Destination);
        Assert.Equal(33, ip.Ttl);
    }

    [Fact]
    public void L3_networks_are_isolated_unless_a_route_says_otherwise()
    {
        var node = Node();
        // db's table (private) has no route to 203.0.113.0/24: the other network is unreachable from there.
        Assert.Equal(DropReason.NoRoute, node.FromPort(PDb2, Frames.Udp(Gw, Db2, Db2Ip, O10Ip)).SingleDrop);
        // other has no route back into vpc at all.
        Assert.Equal(DropReason.NoRoute, node.FromPort(PO20, Frames.Udp(NetworkStateBuilder.GatewayMacFor(Other), O20, O20Ip, Web1Ip)).SingleDrop);
    }

    [Fact]
    public void L3_a_network_route_is_an_explicit_leak_into_the_other_network()
    {
        var node = Node();
        var remote = node.FromPort(PWeb1, Frames.Udp(Gw, Web1, Web1Ip, O10Ip)).Single;
        Assert.Equal(C, remote.Vtep);
        Assert.Equal(Other, remote.Vni);
        Assert.Equal(O10, Frames.Dst(remote.Frame));
        var local = node.FromPort(PWeb1, Frames.Udp(Gw, Web1, Web1Ip, O20Ip)).Single;
        Assert.Equal(PO20, local.PortId);
        // Delivery into the other network is charged to it, the encapsulation too.
        Assert.Equal(1, node.Snapshot.Networks[Other].Counters.TxPackets);
        Assert.Equal(1, node.Snapshot.Networks[Other].Counters.Encapsulated);
        Assert.Equal(0, node.Snapshot.Networks[Vpc].Counters.TxPackets);
    }

    [Fact]
    public void L3_a_resolved_route_with_no_endpoint_for_the_address_is_dropped_and_reported()
    {
        var o = Node().FromPort(PWeb1, Frames.Udp(Gw, Web1, Web1Ip, Ipv4Address.Parse("10.20.3.3")));
        Assert.Equal(DropReason.NoNeighbour, o.SingleDrop);
        Assert.Equal(DataplaneEventKind.Unresolved, Assert.Single(o.Events).Kind);
    }

    [Fact]
    public void L3_decapsulated_unicast_is_delivered_to_its_local_endpoint()
    {
        var routed = Frames.Ping(Web1, Gw, Db1Ip, Web1Ip, ttl: 7);
        var s = Node().FromUnderlay(C, Frames.Vxlan(Vpc, routed)).Single;
        Assert.Equal(PWeb1, s.PortId);
        Assert.Equal(7, Frames.Ttl(s.Frame));
    }

    [Fact]
    public void L3_decapsulated_frame_for_a_mac_not_on_this_node_is_dropped_and_reported()
    {
        var o = Node().FromUnderlay(C, Frames.Vxlan(Vpc, Frames.Ping(Web2, Gw, Db1Ip, Web2Ip)));
        Assert.Equal(DropReason.NoLocalEndpoint, o.SingleDrop);
        Assert.Equal(DataplaneEventKind.Unresolved, Assert.Single(o.Events).Kind);
    }

    /// <summary>web2 just moved from this node (old port: the nat port here, draining) to B: a routed frame a peer sent
    /// before it switched still reaches the old port.</summary>
    [Fact]
    public void L3_decapsulated_unicast_for_an_endpoint_that_just_moved_away_drains_to_its_old_port()
    {
        var o = Node(vpc: v => v.Draining(Web2, PNat)).FromUnderlay(C, Frames.Vxlan(Vpc, Frames.Ping(Web2, Gw, Db1Ip, Web2Ip)));
        Assert.Equal((TxKind.LocalPort, PNat), (o.Single.Kind, o.Single.PortId));
        Assert.Empty(o.Events);
    }

    [Fact]
    public void L3_decapsulated_broadcast_never_enters_the_network()
        => Assert.Equal(DropReason.BroadcastInL3, Node().FromUnderlay(B, Frames.Vxlan(Vpc, Frames.Udp(MacAddress.Broadcast, Web2, Web2Ip, Ipv4Address.LimitedBroadcast))).SingleDrop);

    [Fact]
    public void L3_the_local_route_cannot_be_overridden()
    {
        Assert.Throws<ArgumentException>(() => VpcBuilder().Route("main", Ipv4Prefix.Parse("10.20.0.0/16"), RouteTarget.Blackhole).Build());
        Assert.Throws<ArgumentException>(() => VpcBuilder().Route("main", Ipv4Prefix.Parse("10.20.2.0/24"), RouteTarget.ToEndpoint(Fw)).Build());
    }

    [Fact]
    public void L3_gratuitous_arp_from_the_owner_announces_a_move_and_stays_on_the_host()
    {
        var o = Node().FromPort(PWeb1, Frames.GratuitousArp(Web1, Web1Ip));
        Assert.Empty(o.Sent);
        Assert.Empty(o.Drops);
        var e = Assert.Single(o.Events);
        Assert.Equal(DataplaneEventKind.GratuitousArp, e.Kind);
        Assert.Equal(Web1Ip, e.Ip);
        Assert.Equal(Location.Local(PWeb1), e.Location);
    }

    [Fact]
    public void L3_gratuitous_arp_for_another_endpoints_address_is_a_conflict()
    {
        // nat has source check off (it may send from other addresses), but still may not claim web1's address.
        var o = Node().FromPort(PNat, Frames.GratuitousArp(Nat, Web1Ip));
        Assert.Equal(DropReason.AddressConflict, o.SingleDrop);
        var e = Assert.Single(o.Events);
        Assert.Equal(DataplaneEventKind.AddressConflict, e.Kind);
        Assert.Equal(Nat, e.Mac);
        Assert.Equal(Web1, e.OtherMac);
    }

    [Fact]
    public void L3_arp_spoofing_from_a_checked_port_is_dropped_and_alarmed()
    {
        var o = Node().FromPort(PWeb1, Frames.GratuitousArp(Web1, Db2Ip));
        Assert.Equal(DropReason.SpoofedSource, o.SingleDrop);
        Assert.Equal(Db2, Assert.Single(o.Events).OtherMac);
    }

    [Fact]
    public void L3_an_appliance_without_source_check_may_forward_for_other_addresses()
    {
        var s = Node().FromPort(PNat, Frames.Udp(Gw, Nat, Ipv4Address.Parse("172.16.0.9"), Web2Ip)).Single;
        Assert.Equal(B, s.Vtep);
    }
}
