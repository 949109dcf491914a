using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Events;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Pipeline;
using Fabric.Dataplane.Tables;
using static Fabric.Dataplane.Tests.Pipeline.Topology;

namespace Fabric.Dataplane.Tests.Pipeline;

/// <summary>DESIGN.md's table, column <c>l2</c>: one Ethernet segment stretched over hosts.</summary>
public class L2NetworkTests
{
    private static readonly MacAddress Unknown = MacAddress.Parse("02:00:00:00:09:99");

    [Fact]
    public void L2_forwards_any_ethernet_frame_of_the_vni_including_non_ip()
    {
        var node = Node();
        var o = node.FromPort(P1, Frames.Ethernet(R21, M1, 0x88B5));
        var s = o.Single;
        Assert.Equal(TxKind.Underlay, s.Kind);
        Assert.Equal(B, s.Vtep);
        Assert.Equal(Blue, s.Vni);
        Assert.Equal(0x88B5, Frames.EtherType(s.Frame));
    }

    [Fact]
    public void L2_known_unicast_is_encapsulated_to_its_vtep_only()
    {
        var o = Node().FromPort(P1, Frames.Udp(R21, M1, Ip1, IpR21));
        var s = o.Single;
        Assert.Equal(B, s.Vtep);
        Assert.Equal(Blue, s.Vni);
        Assert.Empty(o.Drops);
    }

    [Fact]
    public void L2_known_local_unicast_is_delivered_to_its_port_without_encapsulation()
    {
        var o = Node().FromPort(P1, Frames.Udp(M2, M1, Ip1, Ip2));
        var s = o.Single;
        Assert.Equal(TxKind.LocalPort, s.Kind);
        Assert.Equal(P2, s.PortId);
    }

    [Fact]
    public void L2_broadcast_is_replicated_to_every_flood_group_member_head_end()
    {
        var node = Node();
        var o = node.FromPort(P1, Frames.Ethernet(MacAddress.Broadcast, M1, 0x88B5));
        var vteps = o.Sent.Where(s => s.Kind == TxKind.Underlay).Select(s => s.Vtep).OrderBy(v => v.Address).ToArray();
        Assert.Equal(new[] { B, C }, vteps); // every member but ourselves
        Assert.All(o.Sent.Where(s => s.Kind == TxKind.Underlay), s => Assert.Equal(Blue, s.Vni));
        Assert.Equal(new[] { P2, P3 }, o.Sent.Where(s => s.Kind == TxKind.LocalPort).Select(s => s.PortId).Order().ToArray());
        Assert.Equal(1, node.Snapshot.Networks[Blue].Counters.Flooded);
    }

    [Fact]
    public void L2_unknown_unicast_is_flooded_like_broadcast()
    {
        var o = Node().FromPort(P1, Frames.Ethernet(Unknown, M1, 0x88B5));
        Assert.Equal(2, o.Sent.Count(s => s.Kind == TxKind.Underlay));
        Assert.Equal(2, o.Sent.Count(s => s.Kind == TxKind.LocalPort));
    }

    [Fact]
    public void L2_multicast_is_flooded_to_the_flood_group()
    {
        var o = Node().FromPort(P1, Frames.Ethernet(MacAddress.Parse("01:00:5e:00:00:fb"), M1, EtherTypes.Ipv4));
        Assert.Equal(2, o.Sent.Count(s => s.Kind == TxKind.Underlay));
    }

    [Fact]
    public void L2_flood_group_with_external_vtep_on_another_port_replicates_there_too()
    {
        var kernel = new VtepEndpoint(Ipv4Address.Parse("192.0.2.50"), 8472);
        var o = Node(blue: b => b.Member(kernel)).FromPort(P1, Frames.Ethernet(MacAddress.Broadcast, M1, 0x88B5));
        Assert.Contains(o.Sent, s => s.Kind == TxKind.Underlay && s.Vtep == kernel);
    }

    [Fact]
    public void L2_ttl_is_untouched_when_bridged()
    {
        var o = Node().FromPort(P1, Frames.Udp(R21, M1, Ip1, IpR21, ttl: 3));
        Assert.Equal(3, Frames.Ttl(o.Single.Frame));
    }

    [Fact]
    public void L2_arp_request_for_a_known_target_is_answered_locally_arp_suppression()
    {
        var node = Node();
        var o = node.FromPort(P1, Frames.ArpRequest(M1, Ip1, IpR21));
        var s = o.Single;
        Assert.Equal(TxKind.LocalPort, s.Kind);
        Assert.Equal(P1, s.PortId);
        Assert.Equal(ArpOperation.Reply, ArpOf(s.Frame, out var arp));
        Assert.Equal(R21, arp.SenderMac);
        Assert.Equal(IpR21, arp.SenderIp);
        Assert.Equal(M1, arp.TargetMac);
        Assert.Equal(Ip1, arp.TargetIp);
        Assert.Equal(M1, Frames.Dst(s.Frame));
        Assert.Equal(R21, Frames.Src(s.Frame));
        Assert.Equal(1, node.Snapshot.Networks[Blue].Counters.ArpAnswered);
    }

    [Fact]
    public void L2_arp_request_for_an_unknown_target_is_flooded()
    {
        var o = Node().FromPort(P1, Frames.ArpRequest(M1, Ip1, Ipv4Address.Parse("10.1.0.99")));
        Assert.Equal(2, o.Sent.Count(s => s.Kind == TxKind.Underlay));
        Assert.All(o.Sent, s => Assert.Equal(ArpOperation.Request, ArpOf(s.Frame, out _)));
    }

    [Fact]
    public void L2_arp_from_the_overlay_is_bridged_not_answered()
    {
        var req = Frames.ArpRequest(R21, IpR21, Ip1);
        var o = Node().FromUnderlay(B, Frames.Vxlan(Blue, req));
        Assert.All(o.Sent, s => Assert.Equal(TxKind.LocalPort, s.Kind));
        Assert.Equal(3, o.Sent.Count);
    }

    [Fact]
    public void L2_source_mac_from_a_port_is_learned()
    {
        var node = Node();
        var newMac = MacAddress.Parse("02:00:00:00:03:33");
        var o = node.FromPort(P3, Frames.Ethernet(M1, newMac, 0x88B5)); // port 3 has source check off: a bridge behind it
        var e = Assert.Single(o.Events);
        Assert.Equal(DataplaneEventKind.MacLearned, e.Kind);
        Assert.Equal(newMac, e.Mac);
        Assert.Equal(Location.Local(P3), e.Location);
        Assert.Equal(Blue, e.Vni);
        Assert.Equal(P1, o.Single.PortId);
    }

    [Fact]
    public void L2_source_mac_of_a_decapsulated_frame_is_learned_against_the_member_vtep()
    {
        var kernel = new VtepEndpoint(Ipv4Address.Parse("192.0.2.50"), 8472);
        var node = Node(blue: b => b.Member(kernel));
        var behindKernel = MacAddress.Parse("02:00:00:00:05:50");
        // The kernel sends from an ephemeral UDP port; the learned location is the port it listens on.
        var o = node.FromUnderlay(kernel with { Port = 40123 }, Frames.Vxlan(Blue, Frames.Ethernet(M1, behindKernel, 0x88B5)));
        var e = Assert.Single(o.Events);
        Assert.Equal(DataplaneEventKind.MacLearned, e.Kind);
        Assert.Equal(Location.Remote(kernel), e.Location);
        Assert.Equal(P1, o.Single.PortId);
    }

    [Fact]
    public void L2_learning_reports_are_rate_limited_and_refresh_learned_entries()
    {
        var node = Node();
        var mac = MacAddress.Parse("02:00:00:00:03:34");
        Assert.Single(node.FromPort(P3, Frames.Ethernet(M1, mac, 0x88B5)).Events);
        Assert.Empty(node.FromPort(P3, Frames.Ethernet(M1, mac, 0x88B5)).Events);
        node.NowMs += 1_001;
        Assert.Single(node.FromPort(P3, Frames.Ethernet(M1, mac, 0x88B5)).Events);
    }

    [Fact]
    public void L2_a_configured_mac_at_its_own_port_raises_no_event()
        => Assert.Empty(Node().FromPort(P1, Frames.Ethernet(M2, M1, 0x88B5)).Events);

    [Fact]
    public void L2_a_mac_seen_at_a_new_location_is_reported_as_a_move()
    {
        var node = Node();
        var o = node.FromPort(P3, Frames.Ethernet(M1, R21, 0x88B5)); // R21 appears locally: it moved here
        var e = Assert.Single(o.Events);
        Assert.Equal(Location.Local(P3), e.Location);
        Assert.Equal(R21, e.Mac);
    }

    [Fact]
    public void L2_vlan_tagged_frames_are_forwarded_with_their_tag_and_counted()
    {
        var node = Node();
        var o = node.FromPort(P1, Frames.Tagged(R21, M1, 42, EtherTypes.Ipv4));
        Assert.Equal(EtherTypes.Vlan, Frames.EtherType(o.Single.Frame));
        Assert.Equal(1, node.Snapshot.Networks[Blue].Counters.VlanTagged);
    }

    [Fact]
    public void L2_decapsulated_broadcast_goes_to_local_ports_only_split_horizon()
    {
        var o = Node().FromUnderlay(B, Frames.Vxlan(Blue, Frames.Ethernet(MacAddress.Broadcast, R21, 0x88B5)));
        Assert.Equal(3, o.Sent.Count);
        Assert.All(o.Sent, s => Assert.Equal(TxKind.LocalPort, s.Kind));
    }

    /// <summary>
    /// R21 just moved from this node (its old port 3 drains) to B: local senders already go to B, but a frame a peer
    /// sent before it switched still reaches the old port instead of being dropped, and never goes back into the overlay.
    /// </summary>
    [Fact]
    public void L2_decapsulated_unicast_for_an_endpoint_that_just_moved_away_drains_to_its_old_port()
    {
        var node = Node(blue: b => b.Draining(R21, P3));
        var arrived = node.FromUnderlay(C, Frames.Vxlan(Blue, Frames.Ethernet(R21, MacAddress.Parse("02:00:00:00:0c:01"), 0x88B5)));
        Assert.Equal((TxKind.LocalPort, P3), (arrived.Single.Kind, arrived.Single.PortId));
        var local = node.FromPort(P1, Frames.Ethernet(R21, M1, 0x88B5));
        Assert.Equal((TxKind.Underlay, B), (local.Single.Kind, local.Single.Vtep));
    }

    [Fact]
    public void L2_decapsulated_unicast_for_a_remote_mac_is_never_sent_back_into_the_overlay()
    {
        var o = Node().FromUnderlay(C, Frames.Vxlan(Blue, Frames.Ethernet(R21, MacAddress.Parse("02:00:00:00:0c:01"), 0x88B5)));
        Assert.Empty(o.Sent);
        Assert.Equal(DropReason.SplitHorizon, o.SingleDrop);
    }

    [Fact]
    public void L2_decapsulated_unicast_is_delivered_to_its_local_port_only()
    {
        var o = Node().FromUnderlay(B, Frames.Vxlan(Blue, Frames.Udp(M2, R21, IpR21, Ip2)));
        Assert.Equal(P2, o.Single.PortId);
    }

    [Fact]
    public void L2_frame_to_the_port_it_came_from_is_dropped_as_hairpin()
        => Assert.Equal(DropReason.Hairpin, Node().FromPort(P1, Frames.Ethernet(M1, M1, 0x88B5)).SingleDrop);

    [Fact]
    public void L2_gratuitous_arp_is_reported_and_flooded_as_a_switch_would()
    {
        var o = Node().FromPort(P1, Frames.GratuitousArp(M1, Ip1));
        var e = Assert.Single(o.Events);
        Assert.Equal(DataplaneEventKind.GratuitousArp, e.Kind);
        Assert.Equal(Ip1, e.Ip);
        Assert.Equal(2, o.Sent.Count(s => s.Kind == TxKind.Underlay));
    }

    [Fact]
    public void L2_gratuitous_arp_for_another_endpoints_ip_from_an_unchecked_port_raises_a_conflict()
    {
        var o = Node().FromPort(P3, Frames.GratuitousArp(M3, Ip2));
        var e = Assert.Single(o.Events, x => x.Kind == DataplaneEventKind.AddressConflict);
        Assert.Equal(Ip2, e.Ip);
        Assert.Equal(M3, e.Mac);
        Assert.Equal(M2, e.OtherMac);
    }

    [Fact]
    public void L2_arp_claiming_another_endpoints_ip_from_a_checked_port_is_dropped_and_alarmed()
    {
        var o = Node().FromPort(P1, Frames.GratuitousArp(M1, Ip2));
        Assert.Equal(DropReason.SpoofedSource, o.SingleDrop);
        var e = Assert.Single(o.Events);
        Assert.Equal(DataplaneEventKind.AddressConflict, e.Kind);
        Assert.Equal(M2, e.OtherMac);
    }

    [Fact]
    public void L2_fdb_full_drops_frames_from_unknown_sources_while_known_ones_keep_forwarding()
    {
        var node = Node(blue: b => { b.FdbCapacity = 4; return b; }); // 4 configured entries: full
        Assert.True(node.Snapshot.Networks[Blue].Fdb.IsFull);
        var flood = node.FromPort(P3, Frames.Ethernet(M1, MacAddress.Parse("02:00:00:00:03:99"), 0x88B5));
        Assert.Equal(DropReason.FdbFull, flood.SingleDrop);
        Assert.Empty(flood.Sent);
        Assert.Single(node.FromPort(P1, Frames.Udp(R21, M1, Ip1, IpR21)).Sent);
        Assert.Equal(1, node.Snapshot.Networks[Blue].Counters.Drop(DropReason.FdbFull));
    }

    internal static ArpOperation ArpOf(byte[] frame, out ArpPacketCopy arp)
    {
        Assert.Equal(PacketError.None, ArpPacket.TryParse(frame.AsSpan(14), out var a));
        arp = new ArpPacketCopy(a.Operation, a.SenderMac, a.SenderIp, a.TargetMac, a.TargetIp);
        return a.Operation;
    }
}

public readonly record struct ArpPacketCopy(ArpOperation Operation, MacAddress SenderMac, Ipv4Address SenderIp, MacAddress TargetMac, Ipv4Address TargetIp);
