using System.Buffers.Binary;
using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Pipeline;
using Fabric.Dataplane.Tables;

namespace Fabric.Benchmarks;

/// <summary>
/// The topologies the benchmarks forward through, seen from node A (192.0.2.1). Every source MAC is a configured FDB
/// entry at the location it sends from, so steady state raises no learning event. Tables are padded with filler
/// endpoints so that lookups run on the hashing paths of the frozen dictionaries, not on their tiny-collection scans.
/// </summary>
public static class Scenarios
{
    public const int FrameLength = 64;
    public const int L2Vni = 5001, VpcVni = 7001, PartnerVni = 7002;
    public const int RouteCount = 10_000;
    public const int RouteSeed = 20_240_601;
    public const int FillerEndpoints = 1_000;

    public static readonly VtepEndpoint A = Vtep("192.0.2.1");
    /// <summary>Eight remote members, B first.</summary>
    public static readonly VtepEndpoint[] Remotes = Enumerable.Range(2, 8).Select(i => Vtep($"192.0.2.{i}")).ToArray();
    public static VtepEndpoint B => Remotes[0];
    public static VtepEndpoint C => Remotes[1];

    // l2 network
    public const int PortM1 = 1;
    public static readonly MacAddress M1 = MacAddress.Parse("02:00:00:00:01:01"), R21 = MacAddress.Parse("02:00:00:00:01:21");
    public static readonly Ipv4Address Ip1 = Ipv4Address.Parse("10.1.0.11"), IpR21 = Ipv4Address.Parse("10.1.0.21");

    // l3 network 10.0.0.0/16: subnet front 10.0.1.0/24 (bound to the 10,000-route table), subnet back 10.0.2.0/24.
    public const int PortWeb1 = 10;
    public static readonly Ipv4Prefix VpcCidr = Ipv4Prefix.Parse("10.0.0.0/16");
    public static readonly Ipv4Prefix Front = Ipv4Prefix.Parse("10.0.1.0/24"), Back = Ipv4Prefix.Parse("10.0.2.0/24");
    public static readonly MacAddress Web1 = MacAddress.Parse("02:00:00:00:20:10"), Web2 = MacAddress.Parse("02:00:00:00:20:20"),
        Db2 = MacAddress.Parse("02:00:00:00:22:20");
    public static readonly Ipv4Address Web1Ip = Ipv4Address.Parse("10.0.1.10"), Web2Ip = Ipv4Address.Parse("10.0.1.20"),
        Db2Ip = Ipv4Address.Parse("10.0.2.20");
    public static readonly MacAddress VpcGatewayMac = NetworkStateBuilder.GatewayMacFor(VpcVni);

    // A second l3 network the big table leaks into; the hot /28 leak points at an endpoint of it on C.
    public static readonly Ipv4Prefix PartnerCidr = Ipv4Prefix.Parse("100.64.0.0/16");
    public static readonly Ipv4Prefix HotLeak = Ipv4Prefix.Parse("100.64.7.16/28");
    public static readonly MacAddress P20 = MacAddress.Parse("02:00:00:00:30:20");
    public static readonly Ipv4Address P20Ip = Ipv4Address.Parse("100.64.7.20");

    private static VtepEndpoint Vtep(string ip) => new(Ipv4Address.Parse(ip));

    // ---------------------------------------------------------------- snapshots

    private static NetworkState L2Network()
    {
        var b = new NetworkStateBuilder(L2Vni, "blue", NetworkKind.L2) { LocalVtep = A }.Member(A);
        foreach (var r in Remotes) b.Member(r);
        b.Endpoint(M1, Ip1, Location.Local(PortM1));
        b.Endpoint(R21, IpR21, Location.Remote(B));
        for (int k = 0; k < FillerEndpoints; k++)
            b.Endpoint(new MacAddress(0x02_00_00_10_00_00UL + (ulong)k), new Ipv4Address(Ipv4Address.Parse("10.1.16.0").Value + (uint)k),
                Location.Remote(Remotes[k % Remotes.Length]));
        return b.Build();
    }

    public static ForwardingSnapshot L2Snapshot()
        => ForwardingSnapshot.Create(A, [L2Network()], [new PortState(PortM1, "m1", L2Vni, M1, Ip1, true, -1, new PortCounters())]);

    /// <summary>The route table of subnet front: <see cref="RouteCount"/> routes including the hot /28 leak.</summary>
    public static List<Route> BigTable()
    {
        var rng = new Random(RouteSeed);
        var taken = new List<(uint Lo, uint Hi)> { Range(VpcCidr), Range(HotLeak) };
        var routes = new List<Route> { new(HotLeak, RouteTarget.ToNetwork(PartnerVni)) };
        while (routes.Count < RouteCount)
        {
            // Roughly the shape of a real table: a few short prefixes, mostly /17-/24, a tail of long ones.
            var roll = rng.Next(100);
            var len = roll < 2 ? rng.Next(8, 13) : roll < 12 ? rng.Next(13, 17) : roll < 72 ? rng.Next(17, 25) : rng.Next(25, 33);
            var p = new Ipv4Prefix(new Ipv4Address((uint)rng.NextInt64(0, 1L << 32)), len);
            var r = Range(p);
            if (taken.Any(t => r.Lo <= t.Hi && t.Lo <= r.Hi)) continue;
            taken.Add(r);
            routes.Add(new Route(p, rng.Next(2) == 0 ? RouteTarget.ToNetwork(PartnerVni) : RouteTarget.Blackhole));
        }
        return routes;
    }

    private static (uint Lo, uint Hi) Range(Ipv4Prefix p) => (p.Network.Value, p.Broadcast.Value);

    public static ForwardingSnapshot L3Snapshot()
    {
        var vpc = new NetworkStateBuilder(VpcVni, "vpc", NetworkKind.L3, VpcCidr) { LocalVtep = A }.Member(A);
        foreach (var r in Remotes) vpc.Member(r);
        vpc.Subnet("front", Front, "big").Subnet("back", Back);
        foreach (var route in BigTable()) vpc.Route("big", route.Destination, route.Target);
        vpc.Endpoint(Web1, Web1Ip, Location.Local(PortWeb1));
        vpc.Endpoint(Web2, Web2Ip, Location.Remote(B));
        vpc.Endpoint(Db2, Db2Ip, Location.Remote(B));
        for (int k = 0; k < 150; k++)
        {
            vpc.Endpoint(new MacAddress(0x02_00_00_21_00_00UL + (ulong)k), new Ipv4Address(Front.Network.Value + 100 + (uint)k), Location.Remote(Remotes[k % 8]));
            vpc.Endpoint(new MacAddress(0x02_00_00_22_00_00UL + (ulong)k), new Ipv4Address(Back.Network.Value + 100 + (uint)k), Location.Remote(Remotes[k % 8]));
        }
        var frontIndex = vpc.SubnetIndexOf(Web1Ip);

        var partner = new NetworkStateBuilder(PartnerVni, "partner", NetworkKind.L3, PartnerCidr) { LocalVtep = A }.Member(A);
        foreach (var r in Remotes) partner.Member(r);
        partner.Subnet("all", PartnerCidr);
        partner.Endpoint(P20, P20Ip, Location.Remote(C));
        for (int k = 0; k < 150; k++)
            partner.Endpoint(new MacAddress(0x02_00_00_30_00_00UL + (ulong)k), new Ipv4Address(PartnerCidr.Network.Value + 0x0100 + (uint)k), Location.Remote(Remotes[k % 8]));

        var vpcState = vpc.Build();
        if (vpcState.RouteTables[vpcState.Subnets[frontIndex].RouteTableIndex].Count != RouteCount + 1)
            throw new InvalidOperationException("the front subnet's table should hold 10,000 routes plus the local route");
        return ForwardingSnapshot.Create(A, [vpcState, partner.Build()],
            [new PortState(PortWeb1, "web1", VpcVni, Web1, Web1Ip, true, frontIndex, new PortCounters())]);
    }

    // ---------------------------------------------------------------- frames (the project's own writers)

    /// <summary>A 64-byte Ethernet/IPv4/UDP frame (no FCS: 14 + 20 + 8 + 22 bytes of payload).</summary>
    public static byte[] UdpFrame(MacAddress dstMac, MacAddress srcMac, Ipv4Address src, Ipv4Address dst, ushort sport = 40000, ushort dport = 5001)
    {
        var f = new byte[FrameLength];
        var o = EthernetFrame.WriteHeader(f, dstMac, srcMac, EtherTypes.Ipv4);
        const int payload = FrameLength - 14 - 20 - UdpHeader.Length;
        for (int i = 0; i < payload; i++) f[o + 20 + UdpHeader.Length + i] = (byte)i;
        Ipv4Header.Write(f.AsSpan(o), src, dst, IpProtocols.Udp, UdpHeader.Length + payload);
        UdpHeader.Write(f.AsSpan(o + 20), sport, dport, payload, computeChecksum: true, src, dst);
        return f;
    }

    /// <summary>An ARP request, padded to 64 bytes like the other frames.</summary>
    public static byte[] ArpRequest(MacAddress senderMac, Ipv4Address senderIp, Ipv4Address targetIp)
    {
        var f = new byte[FrameLength];
        var o = EthernetFrame.WriteHeader(f, MacAddress.Broadcast, senderMac, EtherTypes.Arp);
        ArpPacket.Write(f.AsSpan(o), ArpOperation.Request, senderMac, senderIp, MacAddress.Zero, targetIp);
        return f;
    }

    /// <summary>What the UDP socket on 4789 hands the dataplane: the 8-byte VXLAN header and the inner frame.</summary>
    public static byte[] VxlanDatagram(int vni, ReadOnlySpan<byte> inner)
    {
        var d = new byte[VxlanHeader.Length + inner.Length];
        VxlanHeader.Write(d, vni);
        inner.CopyTo(d.AsSpan(VxlanHeader.Length));
        return d;
    }

    // ---------------------------------------------------------------- the scenarios

    public static Scenario L2KnownUnicastEncap()
        => Scenario.FromPort(nameof(L2KnownUnicastEncap), L2Snapshot(), PortM1, UdpFrame(R21, M1, Ip1, IpR21), Scenario.BatchSize,
            (int i, in TxEntry e, ReadOnlySpan<byte> b) =>
                e.Kind != TxKind.Underlay ? "not underlay"
                : e.Destination != B ? "wrong VTEP"
                : e.Slot != i ? "wrong slot"
                : b.Length != VxlanHeader.Length + FrameLength ? "wrong length"
                : VniOf(b) != L2Vni ? "wrong VNI"
                : MacAddress.Read(b.Slice(8)) != R21 ? "inner destination changed"
                : null);

    public static Scenario L2BumTo8Vteps()
        => Scenario.FromPort(nameof(L2BumTo8Vteps), L2Snapshot(), PortM1,
            UdpFrame(MacAddress.Broadcast, M1, Ip1, Ipv4Address.LimitedBroadcast, 68, 67), Scenario.BatchSize * Remotes.Length,
            (int i, in TxEntry e, ReadOnlySpan<byte> b) =>
                e.Kind != TxKind.Underlay ? "not underlay"
                : e.Slot != i / Remotes.Length ? "wrong slot"
                : e.Destination != Remotes[i % Remotes.Length] ? "wrong VTEP (flood order)"
                : VniOf(b) != L2Vni ? "wrong VNI"
                : !MacAddress.Read(b.Slice(8)).IsBroadcast ? "inner destination changed"
                : null);

    public static Scenario DecapAndDeliver()
    {
        var inner = UdpFrame(M1, R21, IpR21, Ip1);
        // Kernel peers send from an ephemeral UDP port; the pipeline maps the address to the member's endpoint.
        var outer = new VtepEndpoint(B.Address, 51_234);
        return Scenario.FromUnderlay(nameof(DecapAndDeliver), L2Snapshot(), outer, VxlanDatagram(L2Vni, inner), Scenario.BatchSize,
            (int i, in TxEntry e, ReadOnlySpan<byte> b) =>
                e.Kind != TxKind.LocalPort ? "not to a local port"
                : e.PortId != PortM1 ? "wrong port"
                : e.Slot != i ? "wrong slot"
                : !b.SequenceEqual(inner) ? "inner frame differs"
                : null);
    }

    /// <summary>Inter-subnet: front 10.0.1.10 to back 10.0.2.20 (on B), looked up in the 10,000-route table.</summary>
    public static Scenario L3RoutedEncap10kRoutes()
        => L3Routed(nameof(L3RoutedEncap10kRoutes), Db2Ip, Db2, B, VpcVni);

    /// <summary>Extra: the hot /28 leak into the partner network, an endpoint on C: a three-level trie lookup.</summary>
    public static Scenario L3RoutedLeak28In10kRoutes()
        => L3Routed(nameof(L3RoutedLeak28In10kRoutes), P20Ip, P20, C, PartnerVni);

    private static Scenario L3Routed(string name, Ipv4Address dst, MacAddress dstMac, VtepEndpoint vtep, int vni)
    {
        var frame = UdpFrame(VpcGatewayMac, Web1, Web1Ip, dst);
        return Scenario.FromPort(name, L3Snapshot(), PortWeb1, frame, Scenario.BatchSize,
            (int i, in TxEntry e, ReadOnlySpan<byte> b) =>
                e.Kind != TxKind.Underlay ? "not underlay"
                : e.Destination != vtep ? "wrong VTEP"
                : e.Slot != i ? "wrong slot"
                : VniOf(b) != vni ? "wrong VNI"
                : MacAddress.Read(b.Slice(8)) != dstMac ? "inner destination MAC not rewritten to the endpoint"
                : MacAddress.Read(b.Slice(14)) != VpcGatewayMac ? "inner source MAC not rewritten to the gateway"
                : !b.Slice(8 + 12).SequenceEqual(frame.AsSpan(12)) ? "IP header or payload touched (TTL must be left alone)"
                : null);
    }

    /// <summary>Same-subnet proxy ARP: web1 asks for web2 (on B); the reply carries web2's MAC and goes back to web1.</summary>
    public static Scenario ProxyArpAnswer()
        => Scenario.FromPort(nameof(ProxyArpAnswer), L3Snapshot(), PortWeb1, ArpRequest(Web1, Web1Ip, Web2Ip), Scenario.BatchSize,
            (int i, in TxEntry e, ReadOnlySpan<byte> b) =>
                e.Kind != TxKind.LocalPort ? "not to a local port"
                : e.PortId != PortWeb1 ? "not back to the asker"
                : e.Slot != i ? "wrong slot"
                : MacAddress.Read(b) != Web1 ? "Ethernet destination is not the asker"
                : ArpPacket.TryParse(b.Slice(14), out var arp) != PacketError.None ? "not ARP"
                : arp.Operation != ArpOperation.Reply ? "not a reply"
                : arp.SenderMac != Web2 || arp.SenderIp != Web2Ip ? "wrong answer"
                : arp.TargetMac != Web1 || arp.TargetIp != Web1Ip ? "wrong target"
                : null);

    private static int VniOf(ReadOnlySpan<byte> b)
        => b.Length >= 8 && (b[0] & VxlanHeader.FlagI) != 0 ? (int)(BinaryPrimitives.ReadUInt32BigEndian(b.Slice(4)) >> 8) : -1;

    /// <summary>Every scenario by name, in the order the documents list them.</summary>
    public static readonly (string Name, Func<Scenario> Build)[] Registry =
    [
        (nameof(L2KnownUnicastEncap), L2KnownUnicastEncap),
        (nameof(L2BumTo8Vteps), L2BumTo8Vteps),
        (nameof(DecapAndDeliver), DecapAndDeliver),
        (nameof(L3RoutedEncap10kRoutes), L3RoutedEncap10kRoutes),
        (nameof(L3RoutedLeak28In10kRoutes), L3RoutedLeak28In10kRoutes),
        (nameof(ProxyArpAnswer), ProxyArpAnswer),
    ];
}
