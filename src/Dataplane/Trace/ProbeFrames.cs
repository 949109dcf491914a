using System.Buffers.Binary;
using Fabric.Dataplane.Offload;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Tables;

namespace Fabric.Dataplane.Tracing;

public enum ProbeProtocol : byte { Icmp, Tcp, Udp }

/// <summary>A probe ready to inject: the port it enters at and the frame its VM would have sent.</summary>
/// <param name="Resolution">How the destination MAC was found, for the answer ("gateway", "neighbour", "arp").</param>
public sealed record ProbeFrame(int PortId, byte[] Frame, string Resolution);

/// <summary>
/// Builds live-trace probes from an endpoint's own addresses, as its VM would send them: in an <c>l3</c> network to
/// the gateway MAC (or, in its own subnet, the neighbour's MAC proxy ARP would give); in an <c>l2</c> network to the MAC
/// ARP suppression knows, else an ARP request (what the VM sends first), which the trace then follows.
/// </summary>
public static class ProbeFrames
{
    private static readonly byte[] Payload = "fabric trace probe"u8.ToArray();

    /// <summary>Null and the frame, or why no probe can be built.</summary>
    public static string? TryBuild(ForwardingSnapshot snapshot, int vni, MacAddress mac, Ipv4Address destination, ProbeProtocol protocol,
        ushort port, int probe, ushort sequence, out ProbeFrame? frame)
    {
        frame = null;
        if (!snapshot.TryGetNetwork(vni, out var net)) return $"this node serves no network with VNI {vni}";
        PortState? own = null;
        foreach (var p in snapshot.Ports)
            if (p is not null && p.Vni == vni && p.Mac == mac) { own = p; break; }
        if (own is null) return "the endpoint has no port on this node (not plugged yet, or moved away)";
        if (!own.HasIp) return "the endpoint has no IPv4 address to send from";

        MacAddress dstMac;
        string resolution;
        if (net.Kind == NetworkKind.L3)
        {
            var subnet = (uint)own.SubnetIndex < (uint)net.Subnets.Length ? net.Subnets[own.SubnetIndex] : null;
            if (subnet is not null && subnet.Prefix.Contains(destination) && destination != subnet.Gateway && net.Neighbours.TryGet(destination, out dstMac))
                resolution = "neighbour";
            else
            {
                dstMac = net.GatewayMac;
                resolution = "gateway";
            }
        }
        else if (net.Neighbours.TryGet(destination, out dstMac))
        {
            resolution = "neighbour";
        }
        else
        {
            var arp = new byte[EthernetFrame.HeaderLength + ArpPacket.Length];
            EthernetFrame.WriteHeader(arp, MacAddress.Broadcast, own.Mac, EtherTypes.Arp);
            ArpPacket.Write(arp.AsSpan(EthernetFrame.HeaderLength), ArpOperation.Request, own.Mac, own.Ip, default, destination);
            frame = new ProbeFrame(own.Id, arp, "arp");
            return null;
        }
        frame = new ProbeFrame(own.Id, Ip(own.Mac, dstMac, own.Ip, destination, protocol, port, probe, sequence), resolution);
        return null;
    }

    /// <summary>An IPv4 probe: ICMP echo (id = probe, seq), TCP SYN or UDP datagram to <paramref name="port"/>.</summary>
    public static byte[] Ip(MacAddress src, MacAddress dst, Ipv4Address srcIp, Ipv4Address dstIp, ProbeProtocol protocol, ushort port, int probe, ushort sequence)
    {
        var l4Length = protocol switch
        {
            ProbeProtocol.Tcp => 20,
            ProbeProtocol.Udp => UdpHeader.Length + Payload.Length,
            _ => IcmpEcho.HeaderLength + Payload.Length,
        };
        var frame = new byte[EthernetFrame.HeaderLength + Ipv4Header.MinLength + l4Length];
        var l3 = EthernetFrame.WriteHeader(frame, dst, src, EtherTypes.Ipv4);
        var proto = protocol switch { ProbeProtocol.Tcp => IpProtocols.Tcp, ProbeProtocol.Udp => IpProtocols.Udp, _ => IpProtocols.Icmp };
        Ipv4Header.Write(frame.AsSpan(l3), srcIp, dstIp, proto, l4Length, identification: (ushort)probe);
        var l4 = l3 + Ipv4Header.MinLength;
        var body = frame.AsSpan(l4);
        var sourcePort = (ushort)(49152 + (probe + sequence) % 16384);
        switch (protocol)
        {
            case ProbeProtocol.Tcp:
                BinaryPrimitives.WriteUInt16BigEndian(body, sourcePort);
                BinaryPrimitives.WriteUInt16BigEndian(body.Slice(2), port);
                BinaryPrimitives.WriteUInt32BigEndian(body.Slice(4), (uint)probe * 2654435761u + sequence);
                body[12] = 5 << 4;   // data offset: 20 bytes, no options
                body[13] = 0x02;     // SYN
                BinaryPrimitives.WriteUInt16BigEndian(body.Slice(14), 64240);
                ChecksumOffload.WriteTransport(frame, l3, l4, IpProtocols.Tcp);
                break;
            case ProbeProtocol.Udp:
                Payload.CopyTo(body.Slice(UdpHeader.Length));
                UdpHeader.Write(body, sourcePort, port, Payload.Length, computeChecksum: true, srcIp, dstIp);
                break;
            default:
                IcmpEcho.Write(body, IcmpEcho.EchoRequest, (ushort)probe, sequence, Payload);
                break;
        }
        return frame;
    }
}
