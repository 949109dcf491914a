using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Events;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Tables;
using Fabric.Dataplane.Tracing;

namespace Fabric.Dataplane.Pipeline.Nodes;

/// <summary>
/// Proxy ARP for <c>l3</c> networks: every ARP from a VM is answered (or absorbed) here and never leaves the host.
/// Same-subnet targets get the target VM's MAC; the own gateway and every off-subnet target get the gateway MAC;
/// an unknown same-subnet target gets no answer (and is reported). Gratuitous ARP from the owner of the address
/// announces a move; from anyone else it is a conflict.
/// </summary>
public static class ProxyArpNode
{
    public static void Run(PipelineContext ctx)
    {
        var batch = ctx.Batch;
        for (int i = 0; i < batch.Count; i++)
        {
            ref var m = ref batch.Meta(i);
            if (m.Next != PipelineStep.ProxyArp) continue;
            var frame = batch.Frame(i);
            if (!ArpIngress.TryAccept(ctx, ref m, frame, out var arp)) continue;
            var net = m.Network!;
            var port = m.Port!;
            var senderIp = arp.SenderIp;
            var senderMac = arp.SenderMac;

            if (arp.IsGratuitous)
            {
                if (net.Neighbours.TryGet(senderIp, out var owner) && owner != senderMac)
                {
                    ctx.Raise(DataplaneEventKind.AddressConflict, net.Vni, senderMac, senderIp, Location.Local(port.Id), owner);
                    ctx.Drop(ref m, DropReason.AddressConflict);
                    continue;
                }
                ctx.Raise(DataplaneEventKind.GratuitousArp, net.Vni, senderMac, senderIp, Location.Local(port.Id));
                Absorb(ctx, ref m, net);
                continue;
            }
            if (arp.Operation != ArpOperation.Request) { Absorb(ctx, ref m, net); continue; }

            var target = arp.TargetIp;
            // Asking for one's own address (duplicate address detection): silence means "free".
            if (target == senderIp || (target == port.Ip && arp.IsProbe)) { Absorb(ctx, ref m, net); continue; }
            if ((uint)port.SubnetIndex >= (uint)net.Subnets.Length) { ctx.Drop(ref m, DropReason.NoRoute); continue; }
            var subnet = net.Subnets[port.SubnetIndex];
            MacAddress answer;
            if (target != subnet.Gateway && subnet.Prefix.Contains(target))
            {
                if (!net.Neighbours.TryGet(target, out answer))
                {
                    ctx.Raise(DataplaneEventKind.Unresolved, net.Vni, default, target, Location.Local(port.Id));
                    ctx.Drop(ref m, DropReason.ArpUnresolved);
                    continue;
                }
            }
            else
            {
                answer = net.GatewayMac; // the own gateway, or anything beyond the subnet: the router answers
            }
            ArpReply.WriteInPlace(frame, m.L3Offset, answer, target, senderMac, senderIp);
            net.Counters.Lane(ctx.Lane).ArpAnswered++;
            if (m.Trace != 0) ctx.TraceHop(ref m, TraceAction.ArpAnswered, port.Id, mac: answer.Value);
            ctx.EmitToPort(i, ref m, port.Id);
            m.Next = PipelineStep.Done;
        }
    }

    private static void Absorb(PipelineContext ctx, ref PacketMeta m, NetworkState net)
    {
        net.Counters.Lane(ctx.Lane).ArpAbsorbed++;
        m.Next = PipelineStep.Done;
    }
}
