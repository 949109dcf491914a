using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Events;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Tables;
using Fabric.Dataplane.Tracing;

namespace Fabric.Dataplane.Pipeline.Nodes;

/// <summary>
/// ARP from local ports of an <c>l2</c> network: source check on the ARP body, gratuitous ARP reported (and still
/// flooded, as a switch would), and requests for a target whose location is known answered here (ARP suppression)
/// instead of being flooded to every VTEP.
/// </summary>
public static class ArpSuppressionNode
{
    public static void Run(PipelineContext ctx)
    {
        var batch = ctx.Batch;
        for (int i = 0; i < batch.Count; i++)
        {
            ref var m = ref batch.Meta(i);
            if (m.Next != PipelineStep.ArpSuppression) continue;
            var frame = batch.Frame(i);
            if (!ArpIngress.TryAccept(ctx, ref m, frame, out var arp)) continue;
            var net = m.Network!;
            var port = m.Port!;
            var senderIp = arp.SenderIp;
            var senderMac = arp.SenderMac;

            if (arp.IsGratuitous)
            {
                if (net.Neighbours.TryGet(senderIp, out var owner) && owner != senderMac)
                    ctx.Raise(DataplaneEventKind.AddressConflict, net.Vni, senderMac, senderIp, Location.Local(port.Id), owner);
                else
                    ctx.Raise(DataplaneEventKind.GratuitousArp, net.Vni, senderMac, senderIp, Location.Local(port.Id));
                m.Next = PipelineStep.Bridge;
                continue;
            }

            if (arp.Operation == ArpOperation.Request && net.Neighbours.TryGet(arp.TargetIp, out var known) && known != senderMac)
            {
                ArpReply.WriteInPlace(frame, m.L3Offset, known, arp.TargetIp, senderMac, senderIp);
                net.Counters.Lane(ctx.Lane).ArpAnswered++;
                if (m.Trace != 0) ctx.TraceHop(ref m, TraceAction.ArpAnswered, port.Id, mac: known.Value);
                ctx.EmitToPort(i, ref m, port.Id);
                m.Next = PipelineStep.Done;
                continue;
            }
            m.Next = PipelineStep.Bridge;
        }
    }
}
