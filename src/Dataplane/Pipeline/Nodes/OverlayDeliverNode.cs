using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Events;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Tables;
using Fabric.Dataplane.Tracing;

namespace Fabric.Dataplane.Pipeline.Nodes;

/// <summary>
/// Egress of an <c>l3</c> network: the ingress node already routed the packet, so here a decapsulated frame only
/// reaches the local endpoint its destination MAC names. Broadcast and multicast never enter an <c>l3</c> network.
/// </summary>
public static class OverlayDeliverNode
{
    public static void Run(PipelineContext ctx)
    {
        var batch = ctx.Batch;
        for (int i = 0; i < batch.Count; i++)
        {
            ref var m = ref batch.Meta(i);
            if (m.Next != PipelineStep.OverlayDeliver) continue;
            var frame = batch.Frame(i);
            var dstMac = MacAddress.Read(frame);
            if (dstMac.IsMulticast) { ctx.Drop(ref m, dstMac.IsBroadcast ? DropReason.BroadcastInL3 : DropReason.MulticastInL3); continue; }
            if (Ipv4Header.TryParse(frame.Slice(m.L3Offset), out var ip) != PacketError.None) { ctx.Drop(ref m, DropReason.Malformed); continue; }
            var dst = ip.Destination;
            if (dst.IsLimitedBroadcast || m.Network!.IsSubnetBroadcast(dst)) { ctx.Drop(ref m, DropReason.BroadcastInL3); continue; }
            if (dst.IsMulticast) { ctx.Drop(ref m, DropReason.MulticastInL3); continue; }
            var net = m.Network!;
            int portId;
            if (net.Fdb.TryGet(dstMac, out var entry) && entry.Location.IsLocal)
            {
                portId = entry.Location.PortId;
                if (m.Trace != 0) ctx.TraceHop(ref m, TraceAction.FdbHit, portId, mac: dstMac.Value);
            }
            // Sent by a peer before it learned of a move: the old port still takes it while it drains.
            else if (net.TryGetDraining(dstMac, out portId))
            {
                if (m.Trace != 0) ctx.TraceHop(ref m, TraceAction.Draining, portId, mac: dstMac.Value);
            }
            else
            {
                ctx.Raise(DataplaneEventKind.Unresolved, net.Vni, dstMac, dst, Location.Remote(m.OuterSource));
                ctx.Drop(ref m, DropReason.NoLocalEndpoint);
                continue;
            }
            m.Next = PipelineStep.Done;
            ctx.EmitToPort(i, ref m, portId);
        }
    }
}
