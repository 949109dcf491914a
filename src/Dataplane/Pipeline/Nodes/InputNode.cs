using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Packets;

namespace Fabric.Dataplane.Pipeline.Nodes;

/// <summary>
/// First node: binds every packet to its network. Frames from a port take the port's network; VXLAN from the
/// underlay is checked (I flag, VNI served here, sender is a member VTEP) and decapsulated in place.
/// </summary>
public static class InputNode
{
    public static void Run(PipelineContext ctx)
    {
        var batch = ctx.Batch;
        var snapshot = ctx.Snapshot;
        for (int i = 0; i < batch.Count; i++)
        {
            ref var m = ref batch.Meta(i);
            if (m.Next != PipelineStep.Input) continue;
            if (m.Origin == PacketOrigin.LocalPort)
            {
                var port = snapshot.Port(m.InPort);
                if (port is null || !snapshot.TryGetNetwork(port.Vni, out var net)) { ctx.Drop(ref m, DropReason.UnknownPort); continue; }
                m.Port = port;
                m.Network = net;
                port.Counters.Lane(ctx.Lane).RxPackets++;
                port.Counters.Lane(ctx.Lane).RxBytes += m.Length;
                net.Counters.Lane(ctx.Lane).RxPackets++;
                net.Counters.Lane(ctx.Lane).RxBytes += m.Length;
                m.Next = PipelineStep.Ethernet;
                continue;
            }

            var err = VxlanHeader.TryParse(batch.Frame(i), out var vx);
            if (err != PacketError.None)
            {
                ctx.Drop(ref m, err == PacketError.VxlanFlagNotSet ? DropReason.VxlanFlagNotSet : DropReason.Malformed);
                continue;
            }
            if (!snapshot.TryGetNetwork(vx.Vni, out var network)) { ctx.Drop(ref m, DropReason.UnknownVni); continue; }
            m.Network = network;
            if (!network.IsMember(m.OuterSource.Address, out var member)) { ctx.Drop(ref m, DropReason.NotFromMember); continue; }
            // From here on the sender is known by the endpoint it listens on, not the ephemeral port it sent from.
            m.OuterSource = member;
            m.Offset += VxlanHeader.Length;
            m.Length -= VxlanHeader.Length;
            network.Counters.Lane(ctx.Lane).Decapsulated++;
            network.Counters.Lane(ctx.Lane).RxBytes += m.Length;
            m.Next = PipelineStep.Ethernet;
        }
    }
}
