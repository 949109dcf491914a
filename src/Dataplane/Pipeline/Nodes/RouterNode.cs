using System.Buffers.Binary;
using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Events;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Tables;

namespace Fabric.Dataplane.Pipeline.Nodes;

/// <summary>
/// <c>l3</c> forwarding of IPv4 from local ports (VPC semantics). Only unicast passes; the own subnet's gateway
/// answers ping; another subnet's gateway is unreachable; everything else is looked up in the route table bound to
/// the sender's subnet and resolved to the destination endpoint, whose MAC the frame then carries. The TTL is never
/// touched: the whole network is one hop. The decision is final here; the egress node only delivers.
/// </summary>
public static class RouterNode
{
    public static void Run(PipelineContext ctx)
    {
        var batch = ctx.Batch;
        var snapshot = ctx.Snapshot;
        for (int i = 0; i < batch.Count; i++)
        {
            ref var m = ref batch.Meta(i);
            if (m.Next != PipelineStep.Router) continue;
            var frame = batch.Frame(i);
            var dstMac = MacAddress.Read(frame);
            if (dstMac.IsMulticast) { ctx.Drop(ref m, dstMac.IsBroadcast ? DropReason.BroadcastInL3 : DropReason.MulticastInL3); continue; }
            if (Ipv4Header.TryParse(frame.Slice(m.L3Offset), out var ip) != PacketError.None) { ctx.Drop(ref m, DropReason.Malformed); continue; }
            var net = m.Network!;
            var port = m.Port!;
            if (port.SourceCheck && ip.Source != port.Ip) { ctx.Drop(ref m, DropReason.SpoofedSource); continue; }
            var dst = ip.Destination;
            if (dst.IsLimitedBroadcast || net.IsSubnetBroadcast(dst)) { ctx.Drop(ref m, DropReason.BroadcastInL3); continue; }
            if (dst.IsMulticast) { ctx.Drop(ref m, DropReason.MulticastInL3); continue; }
            if ((uint)port.SubnetIndex >= (uint)net.Subnets.Length) { ctx.Drop(ref m, DropReason.NoRoute); continue; }
            var subnet = net.Subnets[port.SubnetIndex];

            if (dst == subnet.Gateway)
            {
                if (!GatewayEcho.TryAnswer(frame, m.L3Offset, ip, net.GatewayMac)) { ctx.Drop(ref m, DropReason.GatewayNotEcho); continue; }
                net.Counters.GatewayEchoReplies++;
                ctx.EmitToPort(i, ref m, port.Id);
                m.Next = PipelineStep.Done;
                continue;
            }
            if (net.GatewaySubnetIndex(dst) >= 0) { ctx.Drop(ref m, DropReason.OtherSubnetGateway); continue; }

            if (!net.RouteTables[subnet.RouteTableIndex].TryLookup(dst, out var route)) { ctx.Drop(ref m, DropReason.NoRoute); continue; }
            var outNet = net;
            MacAddress nextMac;
            switch (route.Target.Kind)
            {
                case RouteTargetKind.Blackhole:
                    ctx.Drop(ref m, DropReason.Blackhole);
                    continue;
                case RouteTargetKind.Endpoint:
                    nextMac = route.Target.EndpointMac;
                    break;
                case RouteTargetKind.Network:
                    if (!snapshot.TryGetNetwork(route.Target.Vni, out outNet)) { ctx.Drop(ref m, DropReason.UnknownNetwork); continue; }
                    goto default;
                default:
                    if (!outNet.Neighbours.TryGet(dst, out nextMac))
                    {
                        ctx.Raise(DataplaneEventKind.Unresolved, outNet.Vni, default, dst, Location.Local(port.Id));
                        ctx.Drop(ref m, DropReason.NoNeighbour);
                        continue;
                    }
                    break;
            }
            if (!outNet.Fdb.TryGet(nextMac, out var entry)) { ctx.Drop(ref m, DropReason.NoNeighbour); continue; }

            // Rewrite the Ethernet header as a router would, but leave the IP header (and so the TTL) alone.
            nextMac.Write(frame);
            var routed = route.Target.Kind != RouteTargetKind.Local || !subnet.Prefix.Contains(dst);
            if (routed) net.GatewayMac.Write(frame.Slice(6));

            m.Next = PipelineStep.Done;
            if (entry.Location.IsLocal)
            {
                if (entry.Location.PortId == m.InPort) ctx.Drop(ref m, DropReason.Hairpin);
                else ctx.EmitToPort(i, ref m, entry.Location.PortId, outNet.Counters);
            }
            else
            {
                ctx.EmitToVtep(i, ref m, entry.Location.Vtep, outNet.Vni, outNet.Counters);
            }
        }
    }
}

/// <summary>The subnet gateway's only service: it answers ICMP echo, turned around in place.</summary>
public static class GatewayEcho
{
    public const byte ReplyTtl = 64;

    public static bool TryAnswer(Span<byte> frame, int l3Offset, in Ipv4Header ip, MacAddress gatewayMac)
    {
        if (ip.Protocol != IpProtocols.Icmp || ip.IsFragment) return false;
        if (IcmpEcho.TryParse(ip.Payload, out var icmp) != PacketError.None || !icmp.IsEchoRequest) return false;
        var src = ip.Source;
        var dst = ip.Destination;
        var hl = ip.HeaderLength;
        var requester = MacAddress.Read(frame.Slice(6));
        requester.Write(frame);
        gatewayMac.Write(frame.Slice(6));
        var ipBytes = frame.Slice(l3Offset);
        dst.Write(ipBytes.Slice(12));
        src.Write(ipBytes.Slice(16));
        ipBytes[8] = ReplyTtl;
        Ipv4Header.WriteChecksum(ipBytes.Slice(0, hl));
        var icmpBytes = ipBytes.Slice(hl);
        icmpBytes[0] = IcmpEcho.EchoReply;
        var old = BinaryPrimitives.ReadUInt16BigEndian(icmpBytes.Slice(2));
        BinaryPrimitives.WriteUInt16BigEndian(icmpBytes.Slice(2), InternetChecksum.Update(old, IcmpEcho.EchoRequest << 8, IcmpEcho.EchoReply << 8));
        return true;
    }
}
