using System.Buffers.Binary;
using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Events;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Tables;
using Fabric.Dataplane.Tracing;

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
                net.Counters.Lane(ctx.Lane).GatewayEchoReplies++;
                if (m.Trace != 0) ctx.TraceHop(ref m, TraceAction.GatewayEcho, port.Id, mac: net.GatewayMac.Value);
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
            if (m.Trace != 0) ctx.TraceRoute(ref m, in route, nextMac);
            if (!outNet.Fdb.TryGet(nextMac, out var entry)) { ctx.Drop(ref m, DropReason.NoNeighbour); continue; }
            if (!entry.Location.IsLocal && !ctx.FitsUnderlay(in m))
            {
                // As a router whose next hop has a smaller MTU: the gateway answers "fragmentation needed" (RFC 1191)
                // and the packet goes no further. Sampled first: the answer is written over the frame.
                ctx.SampleNow(i, ref m, DropReason.TooBig);
                if (FragmentationNeeded.TryAnswer(frame, m.L3Offset, ip, subnet.Gateway, net.GatewayMac,
                        ctx.UnderlayMtu - PipelineContext.OuterOverhead - EthernetFrame.HeaderLength, out var answer))
                {
                    m.Length = answer;
                    ctx.EmitToPort(i, ref m, port.Id);
                }
                ctx.Drop(ref m, DropReason.TooBig);
                continue;
            }

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

/// <summary>
/// ICMP destination unreachable, fragmentation needed (type 3 code 4, RFC 792/1191), from the sender's gateway, for a
/// packet that does not fit the underlay. Written in place over the too-big frame (which is always long enough).
/// Sent whether or not the packet had DF set: Fabric never fragments (a batch has no spare slots to cut fragments into,
/// and RFC 7348 §4.3 forbids a VTEP to fragment VXLAN), and a host that gets this answer records the next-hop MTU for
/// the destination (Linux does even for DF-clear traffic) and fragments or shrinks its later packets itself, so the
/// flow recovers after its first loss instead of vanishing into a black hole.
/// </summary>
public static class FragmentationNeeded
{
    public const byte DestinationUnreachable = 3;
    public const byte CodeFragmentationNeeded = 4;
    public const int HeaderLength = 8;

    /// <summary>
    /// Rewrites the frame into the answer and gives its length; false when none is due (RFC 1812 §4.3.2.7: never about
    /// an ICMP error message or a fragment other than the first). The answer quotes the IP header and 8 payload bytes.
    /// </summary>
    public static bool TryAnswer(Span<byte> frame, int l3Offset, in Ipv4Header ip, Ipv4Address gateway, MacAddress gatewayMac, int nextHopMtu,
        out int length)
    {
        length = 0;
        if (ip.FragmentOffset != 0) return false;
        if (ip.Protocol == IpProtocols.Icmp && (ip.Payload.Length == 0 || IsError(ip.Payload[0]))) return false;
        var quoteLength = Math.Min(ip.HeaderLength + 8, (int)ip.TotalLength);
        Span<byte> quote = stackalloc byte[60 + 8];
        ip.Bytes.Slice(0, quoteLength).CopyTo(quote);
        var sender = ip.Source;
        var requester = MacAddress.Read(frame.Slice(6));
        // From here on the frame is the answer: ip, which points into it, is not read again.
        requester.Write(frame);
        gatewayMac.Write(frame.Slice(6));
        BinaryPrimitives.WriteUInt16BigEndian(frame.Slice(12), EtherTypes.Ipv4);
        var ipOut = frame.Slice(EthernetFrame.HeaderLength);
        Ipv4Header.Write(ipOut, gateway, sender, IpProtocols.Icmp, HeaderLength + quoteLength, GatewayEcho.ReplyTtl, dontFragment: false);
        var icmp = ipOut.Slice(Ipv4Header.MinLength, HeaderLength + quoteLength);
        icmp[0] = DestinationUnreachable;
        icmp[1] = CodeFragmentationNeeded;
        icmp[2] = icmp[3] = icmp[4] = icmp[5] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(icmp.Slice(6), (ushort)Math.Clamp(nextHopMtu, 68, 65535));
        quote.Slice(0, quoteLength).CopyTo(icmp.Slice(HeaderLength));
        BinaryPrimitives.WriteUInt16BigEndian(icmp.Slice(2), InternetChecksum.Compute(icmp));
        length = EthernetFrame.HeaderLength + Ipv4Header.MinLength + HeaderLength + quoteLength;
        return true;
    }

    /// <summary>ICMP error types (RFC 1122 §3.2.2): unreachable, source quench, redirect, time exceeded, parameter problem.</summary>
    private static bool IsError(byte type) => type is 3 or 4 or 5 or 11 or 12;
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
