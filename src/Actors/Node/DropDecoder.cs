using System.Buffers.Binary;
using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Tables;

namespace Fabric.Actors.Node;

/// <summary>
/// Decodes a sampled drop's first bytes for people: Ethernet, then ARP or IPv4, then a TCP/UDP/ICMP summary. Lenient
/// by design, unlike the dataplane's readers: a sample holds only the first 128 bytes of the frame, and the frames
/// worth looking at are often the malformed ones, so it decodes whatever is there and stops where the bytes end.
/// </summary>
public static class DropDecoder
{
    public static DropRow Decode(DropSample s, DateTimeOffset at, string? port)
    {
        ReadOnlySpan<byte> b = s.Bytes;
        string? vxlan = null;
        if (s.Encapsulated)
        {
            if (b.Length < VxlanHeader.Length) return Row(s, at, port, null, null, null, null, null, "truncated VXLAN header");
            vxlan = $"flags 0x{b[0]:x2} vni {BinaryPrimitives.ReadUInt32BigEndian(b.Slice(4)) >> 8}";
            b = b.Slice(VxlanHeader.Length);
        }
        if (b.Length < EthernetFrame.HeaderLength) return Row(s, at, port, null, null, null, null, vxlan, $"{s.Length} bytes, too short for Ethernet");
        var dst = MacAddress.Read(b);
        var src = MacAddress.Read(b.Slice(6));
        var type = BinaryPrimitives.ReadUInt16BigEndian(b.Slice(12));
        var l3 = EthernetFrame.HeaderLength;
        int? vlan = null;
        if ((type == EtherTypes.Vlan || type == EtherTypes.QinQ) && b.Length >= 18)
        {
            vlan = BinaryPrimitives.ReadUInt16BigEndian(b.Slice(14)) & 0x0FFF;
            type = BinaryPrimitives.ReadUInt16BigEndian(b.Slice(16));
            l3 = 18;
        }
        var eth = new DropEthernet(src.ToString(), dst.ToString(), $"0x{type:x4}", vlan);
        var p = b.Slice(l3);
        if (type == EtherTypes.Arp && p.Length >= ArpPacket.Length)
        {
            var op = BinaryPrimitives.ReadUInt16BigEndian(p.Slice(6));
            var arp = new DropArp(op switch { 1 => "request", 2 => "reply", _ => $"op {op}" }, MacAddress.Read(p.Slice(8)).ToString(),
                Ipv4Address.Read(p.Slice(14)).ToString(), MacAddress.Read(p.Slice(18)).ToString(), Ipv4Address.Read(p.Slice(24)).ToString());
            return Row(s, at, port, eth, arp, null, null, vxlan,
                arp.Operation == "request" ? $"arp who-has {arp.TargetIp} tell {arp.SenderIp}" : $"arp {arp.Operation} {arp.SenderIp} is-at {arp.SenderMac}");
        }
        if (type != EtherTypes.Ipv4 || p.Length < Ipv4Header.MinLength || p[0] >> 4 != 4)
            return Row(s, at, port, eth, null, null, null, vxlan, $"{src} → {dst} ethertype 0x{type:x4}{(vlan is { } v ? $" vlan {v}" : "")}, {s.Length} bytes");
        var ihl = (p[0] & 0x0F) * 4;
        var proto = p[9];
        var flags = BinaryPrimitives.ReadUInt16BigEndian(p.Slice(6));
        var fragment = (flags & 0x2000) != 0 || (flags & 0x1FFF) != 0;
        var ip = new DropIpv4(Ipv4Address.Read(p.Slice(12)).ToString(), Ipv4Address.Read(p.Slice(16)).ToString(), ProtocolName(proto), p[8],
            BinaryPrimitives.ReadUInt16BigEndian(p.Slice(2)), (flags & 0x4000) != 0, fragment);
        var l4 = ihl >= Ipv4Header.MinLength && ihl <= p.Length && (flags & 0x1FFF) == 0 ? p.Slice(ihl) : default;
        DropTransport? t = null;
        var what = $"{ip.Protocol}";
        if (proto is IpProtocols.Tcp or IpProtocols.Udp && l4.Length >= 4)
        {
            var sp = BinaryPrimitives.ReadUInt16BigEndian(l4);
            var dp = BinaryPrimitives.ReadUInt16BigEndian(l4.Slice(2));
            var tcpFlags = proto == IpProtocols.Tcp && l4.Length >= 14 ? TcpFlags(l4[13]) : null;
            t = new DropTransport(ip.Protocol, sp, dp, tcpFlags, null, null);
            what = $"{ip.Protocol} {sp} → {dp}{(tcpFlags is null ? "" : $" [{tcpFlags}]")}";
        }
        else if (proto == IpProtocols.Icmp && l4.Length >= 2)
        {
            t = new DropTransport(ip.Protocol, null, null, null, l4[0], l4[1]);
            what = l4[0] switch
            {
                8 when l4.Length >= 8 => $"icmp echo-request id {BinaryPrimitives.ReadUInt16BigEndian(l4.Slice(4))} seq {BinaryPrimitives.ReadUInt16BigEndian(l4.Slice(6))}",
                0 when l4.Length >= 8 => $"icmp echo-reply id {BinaryPrimitives.ReadUInt16BigEndian(l4.Slice(4))} seq {BinaryPrimitives.ReadUInt16BigEndian(l4.Slice(6))}",
                _ => $"icmp type {l4[0]} code {l4[1]}",
            };
        }
        return Row(s, at, port, eth, null, ip, t, vxlan, $"{ip.Source} → {ip.Destination} {what}, {s.Length} bytes");
    }

    private static DropRow Row(DropSample s, DateTimeOffset at, string? port, DropEthernet? eth, DropArp? arp, DropIpv4? ip, DropTransport? t,
        string? vxlan, string summary)
        => new(DropReasons.Name(s.Reason), at, port, s.PortId < 0 && s.Vtep != default ? s.Vtep.ToString() : null, s.Vni == 0 ? null : s.Vni,
            s.Length, eth, arp, ip, t, vxlan, summary, Convert.ToHexString(s.Bytes).ToLowerInvariant());

    private static string ProtocolName(byte p) => p switch
    {
        IpProtocols.Icmp => "icmp",
        IpProtocols.Tcp => "tcp",
        IpProtocols.Udp => "udp",
        _ => $"proto {p}",
    };

    private static string TcpFlags(byte f)
    {
        var names = new List<string>(6);
        if ((f & 0x02) != 0) names.Add("SYN");
        if ((f & 0x10) != 0) names.Add("ACK");
        if ((f & 0x01) != 0) names.Add("FIN");
        if ((f & 0x04) != 0) names.Add("RST");
        if ((f & 0x08) != 0) names.Add("PSH");
        if ((f & 0x20) != 0) names.Add("URG");
        return string.Join(',', names);
    }
}
