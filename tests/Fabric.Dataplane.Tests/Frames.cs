using System.Buffers.Binary;
using Fabric.Dataplane.Packets;

namespace Fabric.Dataplane.Tests;

/// <summary>Builds test frames with the project's own writers (their correctness is cross-checked against PacketDotNet).</summary>
public static class Frames
{
    public static byte[] Ethernet(MacAddress dst, MacAddress src, ushort etherType, int payloadLength = 46)
    {
        var f = new byte[14 + payloadLength];
        EthernetFrame.WriteHeader(f, dst, src, etherType);
        for (int i = 14; i < f.Length; i++) f[i] = (byte)i;
        return f;
    }

    public static byte[] Tagged(MacAddress dst, MacAddress src, ushort vlan, ushort etherType, int payloadLength = 46)
    {
        var f = new byte[18 + payloadLength];
        EthernetFrame.WriteTaggedHeader(f, dst, src, vlan, etherType);
        return f;
    }

    public static byte[] Arp(ArpOperation op, MacAddress ethDst, MacAddress senderMac, Ipv4Address senderIp, MacAddress targetMac, Ipv4Address targetIp)
    {
        var f = new byte[14 + 28 + 18]; // padded to the 60-byte Ethernet minimum
        EthernetFrame.WriteHeader(f, ethDst, senderMac, EtherTypes.Arp);
        ArpPacket.Write(f.AsSpan(14), op, senderMac, senderIp, targetMac, targetIp);
        return f;
    }

    public static byte[] ArpRequest(MacAddress senderMac, Ipv4Address senderIp, Ipv4Address targetIp)
        => Arp(ArpOperation.Request, MacAddress.Broadcast, senderMac, senderIp, MacAddress.Zero, targetIp);

    public static byte[] GratuitousArp(MacAddress senderMac, Ipv4Address ip)
        => Arp(ArpOperation.Request, MacAddress.Broadcast, senderMac, ip, MacAddress.Zero, ip);

    public static byte[] Ipv4(MacAddress dstMac, MacAddress srcMac, Ipv4Address src, Ipv4Address dst, byte protocol, ReadOnlySpan<byte> payload, byte ttl = 64)
    {
        var f = new byte[14 + 20 + payload.Length];
        EthernetFrame.WriteHeader(f, dstMac, srcMac, EtherTypes.Ipv4);
        Ipv4Header.Write(f.AsSpan(14), src, dst, protocol, payload.Length, ttl);
        payload.CopyTo(f.AsSpan(34));
        return f;
    }

    public static byte[] Ping(MacAddress dstMac, MacAddress srcMac, Ipv4Address src, Ipv4Address dst, byte ttl = 64, ushort id = 7, ushort seq = 1)
    {
        var icmp = new byte[8 + 16];
        IcmpEcho.Write(icmp, IcmpEcho.EchoRequest, id, seq, "fabric-test-data"u8);
        return Ipv4(dstMac, srcMac, src, dst, IpProtocols.Icmp, icmp, ttl);
    }

    public static byte[] Udp(MacAddress dstMac, MacAddress srcMac, Ipv4Address src, Ipv4Address dst, byte ttl = 64)
    {
        var udp = new byte[8 + 10];
        UdpHeader.Write(udp, 5000, 6000, 10);
        return Ipv4(dstMac, srcMac, src, dst, IpProtocols.Udp, udp, ttl);
    }

    /// <summary>What a UDP socket on 4789 delivers: the VXLAN header and the inner frame.</summary>
    public static byte[] Vxlan(int vni, ReadOnlySpan<byte> inner, byte flags = VxlanHeader.FlagI)
    {
        var d = new byte[8 + inner.Length];
        VxlanHeader.Write(d, vni);
        d[0] = flags;
        inner.CopyTo(d.AsSpan(8));
        return d;
    }

    public static byte Ttl(ReadOnlySpan<byte> frame) => frame[14 + 8];
    public static MacAddress Dst(ReadOnlySpan<byte> frame) => MacAddress.Read(frame);
    public static MacAddress Src(ReadOnlySpan<byte> frame) => MacAddress.Read(frame.Slice(6));
    public static ushort EtherType(ReadOnlySpan<byte> frame) => BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(12));
}
