using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Pipeline;
using Fabric.Dataplane.Tables;
using static Fabric.Dataplane.Tests.Pipeline.Topology;

namespace Fabric.Dataplane.Tests.Pipeline;

/// <summary>Rules that hold in both kinds of network: underlay admission, source check, split horizon, counting.</summary>
public class BothKindsTests
{
    [Fact]
    public void Underlay_frame_for_a_vni_this_node_does_not_serve_is_dropped_and_counted_globally()
    {
        var node = Node();
        Assert.Equal(DropReason.UnknownVni, node.FromUnderlay(B, Frames.Vxlan(4242, Frames.Ethernet(M1, R21, 0x88B5))).SingleDrop);
        Assert.Equal(1, node.Pipeline.Counters.Drop(DropReason.UnknownVni));
    }

    [Fact]
    public void Underlay_frame_from_a_vtep_that_is_not_a_member_is_dropped()
    {
        var stranger = new VtepEndpoint(Ipv4Address.Parse("198.18.0.9"));
        var node = Node();
        Assert.Equal(DropReason.NotFromMember, node.FromUnderlay(stranger, Frames.Vxlan(Blue, Frames.Ethernet(M1, R21, 0x88B5))).SingleDrop);
        Assert.Equal(DropReason.NotFromMember, node.FromUnderlay(stranger, Frames.Vxlan(Vpc, Frames.Ping(Web1, Web2, Web2Ip, Web1Ip))).SingleDrop);
        Assert.Equal(1, node.Snapshot.Networks[Blue].Counters.Drop(DropReason.NotFromMember));
    }

    [Fact]
    public void Underlay_frame_without_the_vxlan_i_flag_is_dropped()
        => Assert.Equal(DropReason.VxlanFlagNotSet, Node().FromUnderlay(B, Frames.Vxlan(Blue, Frames.Ethernet(M1, R21, 0x88B5), flags: 0)).SingleDrop);

    [Fact]
    public void Underlay_vxlan_reserved_bits_are_ignored_on_receive()
    {
        var d = Frames.Vxlan(Blue, Frames.Ethernet(M1, R21, 0x88B5), flags: 0xFF);
        d[1] = d[2] = d[3] = d[7] = 0xFF;
        Assert.Equal(P1, Node().FromUnderlay(B, d).Single.PortId);
    }

    [Fact]
    public void Encapsulated_frames_carry_a_vxlan_header_with_the_i_flag_and_zero_reserved_bits()
    {
        var s = Node().FromPort(P1, Frames.Ethernet(R21, M1, 0x88B5)).Single;
        Assert.Equal(new byte[] { 0x08, 0, 0, 0, 0x00, 0x13, 0x89, 0 }, s.Bytes[..8]); // VNI 5001 = 0x001389
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    [InlineData(13)]
    public void Truncated_or_empty_frames_are_dropped_as_malformed(int length)
    {
        var node = Node();
        Assert.Equal(DropReason.Malformed, node.FromPort(P1, new byte[length]).SingleDrop);
        Assert.Equal(DropReason.Malformed, node.FromUnderlay(B, Frames.Vxlan(Blue, new byte[length])).SingleDrop);
    }

    [Fact]
    public void Ipv4_with_a_bad_header_checksum_is_dropped_as_malformed_in_l3()
    {
        var f = Frames.Udp(Web2, Web1, Web1Ip, Web2Ip);
        f[14 + 10] ^= 0x55;
        Assert.Equal(DropReason.Malformed, Node().FromPort(PWeb1, f).SingleDrop);
    }

    [Fact]
    public void Source_check_drops_a_frame_from_a_foreign_mac()
    {
        var node = Node();
        Assert.Equal(DropReason.SpoofedSource, node.FromPort(P1, Frames.Ethernet(R21, M2, 0x88B5)).SingleDrop);
        Assert.Equal(DropReason.SpoofedSource, node.FromPort(PWeb1, Frames.Udp(Web2, Db2, Web1Ip, Web2Ip)).SingleDrop);
        Assert.Equal(1, node.Snapshot.Ports[P1]!.Counters.Drop(DropReason.SpoofedSource));
    }

    [Fact]
    public void Source_check_drops_a_packet_from_a_foreign_ip()
        => Assert.Equal(DropReason.SpoofedSource, Node().FromPort(PWeb1, Frames.Udp(Web2, Web1, Db2Ip, Web2Ip)).SingleDrop);

    [Fact]
    public void Source_check_drops_group_and_zero_source_macs_even_when_disabled()
    {
        var node = Node();
        Assert.Equal(DropReason.SpoofedSource, node.FromPort(P3, Frames.Ethernet(M1, MacAddress.Broadcast, 0x88B5)).SingleDrop);
        Assert.Equal(DropReason.SpoofedSource, node.FromPort(P3, Frames.Ethernet(M1, MacAddress.Zero, 0x88B5)).SingleDrop);
    }

    [Fact]
    public void Source_check_can_be_disabled_per_endpoint()
        => Assert.Single(Node().FromPort(P3, Frames.Ethernet(R21, MacAddress.Parse("02:00:00:00:07:07"), 0x88B5)).Sent);

    [Fact]
    public void A_frame_from_a_port_the_snapshot_does_not_know_is_dropped()
        => Assert.Equal(DropReason.UnknownPort, Node().FromPort(99, Frames.Ethernet(R21, M1, 0x88B5)).SingleDrop);

    [Fact]
    public void Counters_track_rx_tx_encap_and_decap_per_vni_and_port()
    {
        var node = Node();
        node.FromPort(P1, Frames.Ethernet(R21, M1, 0x88B5, 50));
        node.FromUnderlay(B, Frames.Vxlan(Blue, Frames.Ethernet(M2, R21, 0x88B5, 50)));
        var c = node.Snapshot.Networks[Blue].Counters;
        Assert.Equal(1, c.RxPackets);
        Assert.Equal(1, c.Encapsulated);
        Assert.Equal(1, c.Decapsulated);
        Assert.Equal(1, c.TxPackets);
        Assert.Equal(1, node.Snapshot.Ports[P1]!.Counters.RxPackets);
        Assert.Equal(64, node.Snapshot.Ports[P1]!.Counters.RxBytes);
        Assert.Equal(1, node.Snapshot.Ports[P2]!.Counters.TxPackets);
        Assert.Equal(0, c.TotalDrops());
    }

    [Fact]
    public void A_published_snapshot_takes_effect_with_the_next_batch()
    {
        var node = Node();
        Assert.Equal(B, node.FromPort(P1, Frames.Ethernet(R21, M1, 0x88B5)).Single.Vtep);
        var holder = new SnapshotHolder(node.Snapshot);
        // R21 moves to C with a higher sequence: one new network state, one swap.
        var moved = BlueBuilder().Endpoint(R21, IpR21, Location.Remote(C), EntrySource.Gossip, 2);
        holder.Publish(node.Snapshot.WithNetwork(moved.Build()));
        node.Snapshot = holder.Current;
        Assert.Equal(C, node.FromPort(P1, Frames.Ethernet(R21, M1, 0x88B5)).Single.Vtep);
    }

    [Fact]
    public void A_full_transmit_list_drops_with_a_reason_instead_of_overrunning()
    {
        var snapshot = Snapshot();
        var events = new Fabric.Dataplane.Events.EventRing(16);
        var pipeline = new ForwardingPipeline(events);
        var batch = new PacketBatch(4, 2048);
        var tx = new TxBatch(3); // a broadcast needs 4 (2 ports, 2 VTEPs)
        batch.AddFromPort(P1, Frames.Ethernet(MacAddress.Broadcast, M1, 0x88B5));
        pipeline.Process(snapshot, batch, tx, 0);
        Assert.Equal(3, tx.Count);
        Assert.Equal(DropReason.TxOverflow, batch.Meta(0).Drop);
        Assert.Equal(1, snapshot.Networks[Blue].Counters.Drop(DropReason.TxOverflow));
    }

    [Fact]
    public void Every_packet_of_a_mixed_batch_is_either_sent_answered_absorbed_or_dropped_with_a_reason()
    {
        var node = Node();
        var frames = new (int Port, byte[] Frame)[]
        {
            (P1, Frames.Ethernet(R21, M1, 0x88B5)), (P1, Frames.Ethernet(MacAddress.Broadcast, M1, 0x88B5)),
            (PWeb1, Frames.Ping(VpcGatewayMac, Web1, Web1Ip, WebGw)), (PWeb1, Frames.GratuitousArp(Web1, Web1Ip)),
            (PWeb1, Frames.Ethernet(VpcGatewayMac, Web1, EtherTypes.Ipv6)), (P2, new byte[3]),
        };
        var o = node.Run(b => { foreach (var (p, f) in frames) b.AddFromPort(p, f); });
        Assert.Equal(1 + 4 + 1, o.Sent.Count);
        Assert.Equal(new[] { DropReason.NotIpv4, DropReason.Malformed }, o.Drops);
        for (int i = 0; i < node.Batch.Count; i++)
            Assert.Contains(node.Batch.Meta(i).Next, new[] { PipelineStep.Done, PipelineStep.Dropped });
    }
}
