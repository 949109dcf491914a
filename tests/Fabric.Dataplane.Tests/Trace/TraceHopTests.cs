using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Pipeline;
using Fabric.Dataplane.Tables;
using Fabric.Dataplane.Tests.Pipeline;
using Fabric.Dataplane.Tracing;
using static Fabric.Dataplane.Tests.Pipeline.Topology;

namespace Fabric.Dataplane.Tests.Trace;

/// <summary>Issue 12, live trace: what each pipeline stage records for a traced packet, and the VXLAN mark.</summary>
public class TraceHopTests
{
    private const int Probe = 0x1234;

    private static NodeHarness Traced(IEnumerable<VtepEndpoint>? members = null)
    {
        var node = Node();
        node.Pipeline.Trace.FabricMembers = (members ?? [A, B, C]).ToHashSet();
        return node;
    }

    private static Outcome FromPort(NodeHarness node, int port, byte[] frame, int trace = Probe)
        => node.Run(b => { b.AddFromPort(port, frame); b.Meta(b.Count - 1).Trace = trace; });

    private static List<TraceHop> Hops(NodeHarness node, int probe = Probe) => node.Pipeline.Trace.Read([probe]);

    private static (TraceStage, TraceAction)[] Steps(NodeHarness node, int probe = Probe)
        => Hops(node, probe).Select(h => (h.Stage, h.Action)).ToArray();

    private static byte[] Marked(byte[] vxlan, int trace)
    {
        TraceMark.Write(vxlan, trace, marked: true);
        return vxlan;
    }

    [Fact]
    public void An_untraced_packet_records_nothing()
    {
        var node = Traced();
        node.FromPort(PWeb1, Frames.Udp(VpcGatewayMac, Web1, Web1Ip, Web2Ip));
        node.FromUnderlay(B, Frames.Vxlan(Blue, Frames.Udp(M2, R21, IpR21, Ip2)));
        Assert.Equal(0, node.Pipeline.Trace.Written);
    }

    [Fact]
    public void A_routed_probe_to_a_member_records_input_route_and_encapsulation_and_leaves_marked()
    {
        var node = Traced();
        var o = FromPort(node, PWeb1, Frames.Udp(VpcGatewayMac, Web1, Web1Ip, Db1Ip));
        Assert.Equal([(TraceStage.Input, TraceAction.Received), (TraceStage.Router, TraceAction.Routed), (TraceStage.Router, TraceAction.Encapsulated)],
            Steps(node));
        var hops = Hops(node);
        Assert.Equal(PWeb1, hops[0].PortId);
        Assert.Equal(Vpc, hops[1].Vni);
        Assert.Equal(Ipv4Prefix.Parse("10.20.0.0/16"), new Ipv4Prefix(new Ipv4Address(hops[1].PrefixAddress), hops[1].PrefixLength));
        Assert.Equal((byte)(RouteTargetKind.Local + 1), hops[1].RouteKind);
        Assert.Equal(Db1.Value, hops[1].Mac);
        Assert.Equal(C, hops[2].Vtep);
        Assert.All(hops, h => Assert.Equal(node.Snapshot.Version, h.SnapshotVersion));
        Assert.True(hops[1].AtTicks >= hops[0].AtTicks);

        var sent = o.Single.Bytes;
        Assert.Equal(VxlanHeader.FlagI | TraceMark.FlagTraced, sent[0]);
        Assert.Equal(Probe, TraceMark.Read(sent));
    }

    [Fact]
    public void A_probe_to_an_external_vtep_leaves_as_an_ordinary_frame()
    {
        var node = Traced(members: [A, B]); // C is not a Fabric node here
        var o = FromPort(node, PWeb1, Frames.Udp(VpcGatewayMac, Web1, Web1Ip, Db1Ip));
        Assert.Equal(TraceAction.SentExternal, Hops(node)[^1].Action);
        Assert.Equal(new byte[] { VxlanHeader.FlagI, 0, 0, 0 }, o.Single.Bytes[..4]);
    }

    [Fact]
    public void A_flood_that_reaches_an_external_vtep_is_unmarked_for_every_replica()
    {
        var node = Traced(members: [A, B]);
        var o = FromPort(node, P1, Frames.Ethernet(MacAddress.Broadcast, M1, 0x88B5));
        var underlay = o.Sent.Where(s => s.Kind == TxKind.Underlay).ToArray();
        Assert.Equal(2, underlay.Length);
        Assert.All(underlay, s => Assert.Equal(VxlanHeader.FlagI, s.Bytes[0]));
        Assert.Contains((TraceStage.Bridge, TraceAction.Flooded), Steps(node));
    }

    [Theory]
    [InlineData("198.51.100.7", PWeb1, DropReason.Blackhole)]
    [InlineData("8.8.8.8", PDb2, DropReason.NoRoute)]
    public void A_dropped_probe_names_the_stage_and_reason(string dst, int port, DropReason reason)
    {
        var node = Traced();
        var mac = port == PWeb1 ? Web1 : Db2;
        var ip = port == PWeb1 ? Web1Ip : Db2Ip;
        FromPort(node, port, Frames.Udp(VpcGatewayMac, mac, ip, Ipv4Address.Parse(dst)));
        var last = Hops(node)[^1];
        Assert.Equal((TraceStage.Router, TraceAction.Dropped, reason), (last.Stage, last.Action, last.Reason));
        Assert.Equal(port, last.PortId);
    }

    [Fact]
    public void A_marked_frame_from_a_member_is_traced_there_and_split_horizon_names_the_bridge()
    {
        var node = Traced();
        // For r21, which this node places on B, sent by C: never back into the overlay.
        var o = node.FromUnderlay(C, Marked(Frames.Vxlan(Blue, Frames.Ethernet(R21, MacAddress.Parse("02:00:00:00:0c:01"), 0x88B5)), Probe));
        Assert.Equal(DropReason.SplitHorizon, o.SingleDrop);
        Assert.Equal([(TraceStage.Input, TraceAction.Decapsulated), (TraceStage.Bridge, TraceAction.FdbHit), (TraceStage.Bridge, TraceAction.Dropped)],
            Steps(node));
        Assert.Equal(C, Hops(node)[0].Vtep);
        Assert.Equal(B, Hops(node)[1].Vtep);
        Assert.Equal(DropReason.SplitHorizon, Hops(node)[2].Reason);
    }

    [Fact]
    public void A_mark_from_a_vtep_that_is_no_fabric_member_is_ignored()
    {
        var node = Traced(members: [A, B]);
        node.FromUnderlay(C, Marked(Frames.Vxlan(Blue, Frames.Udp(M2, R21, IpR21, Ip2)), Probe));
        Assert.Equal(0, node.Pipeline.Trace.Written);
    }

    [Fact]
    public void A_delivered_probe_reaches_the_port_and_its_answer_is_traced_with_the_reply_bit()
    {
        var node = Traced();
        var o = node.FromUnderlay(B, Marked(Frames.Vxlan(Vpc, Frames.Ping(Web1, VpcGatewayMac, Web2Ip, Web1Ip)), Probe));
        Assert.Equal(PWeb1, o.Single.PortId);
        Assert.Equal(0, o.Single.Bytes[0] & 1); // the VM gets the inner frame only
        Assert.Equal((TraceStage.OverlayDeliver, TraceAction.Delivered), Steps(node)[^1]);

        // Another echo between the same two (another identifier) is not the probe's answer.
        node.FromPort(PWeb1, Frames.Ping(VpcGatewayMac, Web1, Web1Ip, Web2Ip, id: 8));
        Assert.DoesNotContain(Hops(node), h => TraceMark.IsReply(h.Probe));

        // The VM answers: its frame from the port is recognised and traced as the reply, towards B, marked.
        var reply = node.FromPort(PWeb1, Frames.Ping(VpcGatewayMac, Web1, Web1Ip, Web2Ip));
        Assert.Equal(Probe | TraceMark.ReplyBit, TraceMark.Read(reply.Single.Bytes));
        var replyHops = Hops(node).Where(h => TraceMark.IsReply(h.Probe)).Select(h => h.Action).ToArray();
        Assert.Equal([TraceAction.Received, TraceAction.Routed, TraceAction.Encapsulated], replyHops);

        // Only once: the next frame is ordinary traffic.
        node.FromPort(PWeb1, Frames.Ping(VpcGatewayMac, Web1, Web1Ip, Web2Ip));
        Assert.Equal(replyHops.Length, Hops(node).Count(h => TraceMark.IsReply(h.Probe)));
    }

    [Fact]
    public void A_probe_asked_not_to_be_delivered_stops_at_the_last_hop_counted()
    {
        var node = Traced();
        var o = node.FromUnderlay(B, Marked(Frames.Vxlan(Vpc, Frames.Ping(Web1, VpcGatewayMac, Web2Ip, Web1Ip)), Probe | TraceMark.NoDeliverBit));
        Assert.Empty(o.Sent);
        Assert.Empty(o.Drops);
        Assert.Equal((TraceAction.Stopped, PWeb1), (Hops(node)[^1].Action, Hops(node)[^1].PortId));
        Assert.Equal(1, node.Pipeline.Trace.Stopped);
    }

    [Fact]
    public void The_answer_to_a_probe_for_its_own_gateway_is_kept_from_the_vm()
    {
        var node = Traced();
        var o = FromPort(node, PWeb1, Frames.Ping(VpcGatewayMac, Web1, Web1Ip, WebGw));
        Assert.Empty(o.Sent);
        Assert.Equal([(TraceStage.Input, TraceAction.Received), (TraceStage.Router, TraceAction.GatewayEcho), (TraceStage.Router, TraceAction.Absorbed)],
            Steps(node));
    }

    [Fact]
    public void Proxy_arp_and_bridge_fdb_hits_are_recorded()
    {
        var node = Traced();
        FromPort(node, PWeb1, Frames.ArpRequest(Web1, Web1Ip, Web2Ip));
        Assert.Equal([(TraceStage.Input, TraceAction.Received), (TraceStage.ProxyArp, TraceAction.ArpAnswered), (TraceStage.ProxyArp, TraceAction.Absorbed)],
            Steps(node));
        Assert.Equal(Web2.Value, Hops(node)[1].Mac);

        var l2 = Traced();
        FromPort(l2, P1, Frames.Udp(M2, M1, Ip1, Ip2));
        Assert.Equal([(TraceStage.Input, TraceAction.Received), (TraceStage.Bridge, TraceAction.FdbHit), (TraceStage.Bridge, TraceAction.Delivered)],
            Steps(l2));
        Assert.Equal(P2, Hops(l2)[2].PortId);
    }

    [Fact]
    public void The_ring_keeps_the_last_hops_and_the_mark_round_trips()
    {
        var r = new TraceRecorder(4);
        for (int k = 1; k <= 6; k++) r.Record(new TraceHop { Probe = k, Stage = TraceStage.Input, Action = TraceAction.Received });
        Assert.Equal([3, 4, 5, 6], r.Read([1, 2, 3, 4, 5, 6]).Select(h => h.Probe));

        var vx = Frames.Vxlan(Blue, []);
        TraceMark.Write(vx, 0x7F_FFFF | TraceMark.ReplyBit | TraceMark.NoDeliverBit, marked: true);
        Assert.Equal(0x7F_FFFF | TraceMark.ReplyBit | TraceMark.NoDeliverBit, TraceMark.Read(vx));
        Assert.Equal(Blue, (BitConverter.ToInt32(vx.AsSpan(4).ToArray().Reverse().ToArray()) >> 8) & 0xFF_FFFF);
    }
}
