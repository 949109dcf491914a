using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Tracing;

namespace Fabric.Dataplane.Pipeline.Nodes;

/// <summary>
/// <c>l2</c> forwarding: known unicast to its port or VTEP; broadcast, multicast and unknown unicast flooded to the
/// other local ports and, for frames from a local port only, to every member of the VNI's flood group (head-end
/// replication). Split horizon: a frame that came from the overlay never goes back into it; one for an endpoint that
/// just moved away still reaches its old port while that drains (<see cref="Tables.NetworkState.Draining"/>). A frame
/// that would not fit the underlay is not sent into it (TooBig; no ICMP: a switch has no address to answer from).
/// </summary>
public static class BridgeNode
{
    public static void Run(PipelineContext ctx)
    {
        var batch = ctx.Batch;
        for (int i = 0; i < batch.Count; i++)
        {
            ref var m = ref batch.Meta(i);
            if (m.Next != PipelineStep.Bridge) continue;
            m.Next = PipelineStep.Done;
            var net = m.Network!;
            var dst = MacAddress.Read(batch.Frame(i));
            var fromPort = m.Origin == PacketOrigin.LocalPort;

            if (!dst.IsMulticast && net.Fdb.TryGet(dst, out var entry))
            {
                if (m.Trace != 0) ctx.TraceHop(ref m, TraceAction.FdbHit, entry.Location.PortId, entry.Location.Vtep, dst.Value);
                if (entry.Location.IsLocal)
                {
                    if (fromPort && entry.Location.PortId == m.InPort) ctx.Drop(ref m, DropReason.Hairpin);
                    else ctx.EmitToPort(i, ref m, entry.Location.PortId);
                }
                else if (fromPort && !ctx.FitsUnderlay(in m)) ctx.Drop(ref m, DropReason.TooBig);
                else if (fromPort) ctx.EmitToVtep(i, ref m, entry.Location.Vtep, net.Vni, net.Counters);
                // Sent by a peer before it learned of a move: the old port still takes it while it drains.
                else if (net.TryGetDraining(dst, out var drainPort))
                {
                    if (m.Trace != 0) ctx.TraceHop(ref m, TraceAction.Draining, drainPort, mac: dst.Value);
                    ctx.EmitToPort(i, ref m, drainPort);
                }
                else ctx.Drop(ref m, DropReason.SplitHorizon);
                continue;
            }

            net.Counters.Lane(ctx.Lane).Flooded++;
            var ports = net.LocalPorts;
            if (m.Trace != 0) ctx.TraceHop(ref m, TraceAction.Flooded, mac: dst.Value, count: ports.Length + (fromPort ? net.FloodList.Length : 0));
            for (int p = 0; p < ports.Length; p++)
                if (!(fromPort && ports[p] == m.InPort)) ctx.EmitToPort(i, ref m, ports[p]);
            if (!fromPort) continue;
            var flood = net.FloodList;
            // A switch drops a frame too big for a port on that port only: the local copies above went out; the
            // copies for the overlay are not made and the frame counts once as TooBig.
            if (flood.Length > 0 && !ctx.FitsUnderlay(in m))
            {
                m.Drop = DropReason.TooBig;
                if (m.Trace != 0) ctx.TraceDrop(ref m, DropReason.TooBig);
                continue;
            }
            for (int v = 0; v < flood.Length; v++) ctx.EmitToVtep(i, ref m, flood[v], net.Vni, net.Counters);
        }
    }
}
