using System.Buffers.Binary;
using System.Net.NetworkInformation;
using Fabric.Dataplane.Packets;

namespace Fabric.Dataplane.Tests.Packets;

/// <summary>Frames built with the codecs' own writers, plus independent reference arithmetic to check them against.</summary>
internal static class TestFrames
{
    public static readonly MacAddress MacA = MacAddress.Parse("02:00:00:00:00:0a");
    public static readonly MacAddress MacB = MacAddress.Parse("02:00:00:00:00:0b");
    public static readonly MacAddress VtepMacA = MacAddress.Parse("52:54:00:12:34:56");
    public static readonly MacAddress VtepMacB = MacAddress.Parse("52:54:00:ab:cd:ef");
    public static readonly Ipv4Address IpA = Ipv4Address.Parse("10.0.1.10");
    public static readonly Ipv4Address IpB = Ipv4Address.Parse("10.0.1.11");
    public static readonly Ipv4Address VtepA = Ipv4Address.Parse("192.168.50.1");
    public static readonly Ipv4Address VtepB = Ipv4Address.Parse("192.168.50.2");

    public static byte[] Pattern(int length, int seed = 0)
    {
        var b = new byte[length];
        for (int i = 0; i < length; i++) b[i] = (byte)(i * 7 + seed + 1);
        return b;
    }

    /// <summary>Ethernet + IPv4 (20 bytes) + ICMP echo; <paramref name="minLength"/> adds zero Ethernet padding.</summary>
    public static byte[] EthIpv4Icmp(MacAddress src, MacAddress dst, Ipv4Address srcIp, Ipv4Address dstIp, byte icmpType,
        ushort id, ushort seq, byte[] data, byte ttl = 64, ushort ipId = 0, int minLength = 0)
    {
        var icmpLen = IcmpEcho.HeaderLength + data.Length;
        var buf = new byte[Math.Max(EthernetFrame.HeaderLength + Ipv4Header.MinLength + icmpLen, minLength)];
        var o = EthernetFrame.WriteHeader(buf, dst, src, EtherTypes.Ipv4);
        o += Ipv4Header.Write(buf.AsSpan(o), srcIp, dstIp, IpProtocols.Icmp, icmpLen, ttl, ipId);
        IcmpEcho.Write(buf.AsSpan(o), icmpType, id, seq, data);
        return buf;
    }

    public static byte[] EthIpv4Icmp(byte[]? data = null, int minLength = 0)
        => EthIpv4Icmp(MacA, MacB, IpA, IpB, IcmpEcho.EchoRequest, 0x1234, 7, data ?? Pattern(32), minLength: minLength);

    public static byte[] EthArp(ArpOperation op, MacAddress senderMac, Ipv4Address senderIp, MacAddress targetMac, Ipv4Address targetIp,
        MacAddress? ethDst = null, int minLength = 0)
    {
        var buf = new byte[Math.Max(EthernetFrame.HeaderLength + ArpPacket.Length, minLength)];
        var o = EthernetFrame.WriteHeader(buf, ethDst ?? (op == ArpOperation.Request ? MacAddress.Broadcast : targetMac), senderMac, EtherTypes.Arp);
        ArpPacket.Write(buf.AsSpan(o), op, senderMac, senderIp, targetMac, targetIp);
        return buf;
    }

    public static byte[] EthIpv4Udp(MacAddress src, MacAddress dst, Ipv4Address srcIp, Ipv4Address dstIp, ushort srcPort, ushort dstPort,
        byte[] payload, bool computeChecksum = true, byte ttl = 64, ushort ipId = 0, byte dscp = 0, bool dontFragment = true)
    {
        var udpLen = UdpHeader.Length + payload.Length;
        var buf = new byte[EthernetFrame.HeaderLength + Ipv4Header.MinLength + udpLen];
        var o = EthernetFrame.WriteHeader(buf, dst, src, EtherTypes.Ipv4);
        o += Ipv4Header.Write(buf.AsSpan(o), srcIp, dstIp, IpProtocols.Udp, udpLen, ttl, ipId, dontFragment, dscp);
        payload.CopyTo(buf, o + UdpHeader.Length);
        UdpHeader.Write(buf.AsSpan(o), srcPort, dstPort, payload.Length, computeChecksum, srcIp, dstIp);
        return buf;
    }

    /// <summary>A whole VXLAN packet: outer headers written by <see cref="VxlanEncapsulation.WriteOuter"/> in front of <paramref name="inner"/>.</summary>
    public static byte[] Vxlan(byte[] inner, int vni, ushort srcPort = 50000, byte ttl = 64)
    {
        var buf = new byte[VxlanEncapsulation.OuterLength + inner.Length];
        inner.CopyTo(buf, VxlanEncapsulation.OuterLength);
        VxlanEncapsulation.WriteOuter(buf, VtepMacA, VtepMacB, VtepA, VtepB, srcPort, VxlanHeader.DefaultPort, vni, inner.Length, ttl);
        return buf;
    }

    /// <summary>A bare IPv4 packet whose header has IHL <paramref name="ihl"/> (options filled with NOPs), valid checksum.</summary>
    public static byte[] Ipv4WithOptions(int ihl, byte protocol, byte[] payload, int trailing = 0)
    {
        var hl = ihl * 4;
        var buf = new byte[hl + payload.Length + trailing];
        buf[0] = (byte)(0x40 | ihl);
        BinaryPrimitives.WriteUInt16BigEndian(buf.AsSpan(2), (ushort)(hl + payload.Length));
        BinaryPrimitives.WriteUInt16BigEndian(buf.AsSpan(4), 0xBEEF);
        buf[8] = 33;
        buf[9] = protocol;
        IpA.Write(buf.AsSpan(12));
        IpB.Write(buf.AsSpan(16));
        for (int i = Ipv4Header.MinLength; i < hl; i++) buf[i] = 0x01; // NOP options
        payload.CopyTo(buf, hl);
        Ipv4Header.WriteChecksum(buf.AsSpan(0, hl));
        return buf;
    }

    public static byte[] IcmpMessage(byte type, ushort id, ushort seq, byte[] data)
    {
        var b = new byte[IcmpEcho.HeaderLength + data.Length];
        IcmpEcho.Write(b, type, id, seq, data);
        return b;
    }

    /// <summary>RFC 1071 done the textbook way: 16-bit words, one at a time, end-around carry folded at the end.</summary>
    public static ushort ReferenceChecksum(ReadOnlySpan<byte> data)
    {
        long sum = 0;
        for (int i = 0; i < data.Length; i += 2)
            sum += i + 1 < data.Length ? (data[i] << 8) | data[i + 1] : data[i] << 8;
        while (sum >> 16 != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }

    /// <summary>UDP checksum by literally laying out the RFC 768 pseudo-header in front of the datagram.</summary>
    public static ushort ReferenceUdpChecksum(Ipv4Address src, Ipv4Address dst, ReadOnlySpan<byte> datagramWithZeroChecksum)
    {
        var b = new byte[12 + datagramWithZeroChecksum.Length];
        src.Write(b);
        dst.Write(b.AsSpan(4));
        b[9] = IpProtocols.Udp;
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(10), (ushort)datagramWithZeroChecksum.Length);
        datagramWithZeroChecksum.CopyTo(b.AsSpan(12));
        var c = ReferenceChecksum(b);
        return c == 0 ? (ushort)0xFFFF : c;
    }

    public static PhysicalAddress ToPhysical(MacAddress mac)
    {
        var b = new byte[6];
        mac.Write(b);
        return new PhysicalAddress(b);
    }

    public static MacAddress FromPhysical(PhysicalAddress mac) => MacAddress.Read(mac.GetAddressBytes());
}
