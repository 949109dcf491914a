using Fabric.Dataplane.Counters;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Tables;
using Fabric.Dataplane.Tracing;

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
                // Only while a delivered probe's answer may come: is this it? (One predictable branch otherwise.)
                if (m.Trace == 0 && ctx.Trace.ExpectingReplies) m.Trace = MatchReply(ctx, batch.Frame(i), net.Vni);
                if (m.Trace != 0) ctx.TraceHop(ref m, TraceAction.Received, m.InPort);
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
            if ((vx.Bytes[0] & TraceMark.FlagTraced) != 0) m.Trace = MarkOf(ctx, vx.Bytes, member);
            m.Offset += VxlanHeader.Length;
            m.Length -= VxlanHeader.Length;
            network.Counters.Lane(ctx.Lane).Decapsulated++;
            network.Counters.Lane(ctx.Lane).RxBytes += m.Length;
            m.Next = PipelineStep.Ethernet;
            if (m.Trace != 0) ctx.TraceHop(ref m, TraceAction.Decapsulated, -1, member);
        }
    }

    /// <summary>A traced packet's mark, honoured from Fabric members only (another VTEP's reserved bits mean nothing here).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int MarkOf(PipelineContext ctx, ReadOnlySpan<byte> vxlan, in VtepEndpoint member)
        => ctx.Trace.IsFabricMember(member) ? TraceMark.Read(vxlan) : 0;

    /// <summary>The trace value when this untagged IPv4 frame answers a probe delivered here, else 0.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int MatchReply(PipelineContext ctx, ReadOnlySpan<byte> frame, int vni)
    {
        if (frame.Length < EthernetFrame.HeaderLength + Ipv4Header.MinLength) return 0;
        if (BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(12)) != EtherTypes.Ipv4) return 0;
        var ip = frame.Slice(EthernetFrame.HeaderLength);
        var ihl = (ip[0] & 0x0F) * 4;
        if (ihl < Ipv4Header.MinLength || ip.Length < ihl) return 0;
        return ctx.Trace.MatchReply(vni, BinaryPrimitives.ReadUInt32BigEndian(ip.Slice(12)), BinaryPrimitives.ReadUInt32BigEndian(ip.Slice(16)),
            ip[9], TraceRecorder.L4Key(ip[9], ip.Slice(ihl), reverse: false), ctx.NowMs);
    }
}
