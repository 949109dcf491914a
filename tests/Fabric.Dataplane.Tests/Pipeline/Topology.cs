using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Tables;

namespace Fabric.Dataplane.Tests.Pipeline;

/// <summary>
/// The standard test topology, seen from node A (192.0.2.1), with members B and C.
///  l2 "blue" VNI 5001: port 1 (m1, 10.1.0.11), port 2 (m2, 10.1.0.12), port 3 (m3, no IP, source check off),
///                      remote r21 (10.1.0.21) on B.
///  l3 "vpc" VNI 7001 10.20.0.0/16: subnet web 10.20.1.0/24 → table main, subnet db 10.20.2.0/24 → table private.
///      port 10 web1 10.20.1.10; port 11 db2 10.20.2.20; port 12 nat 10.20.1.6 (source check off);
///      web2 10.20.1.20 on B; fw 10.20.1.5 on B (appliance); db1 10.20.2.10 on C.
///      main: 0.0.0.0/0 → endpoint fw, 198.51.100.0/24 → blackhole, 203.0.113.0/24 → network 7002.
///      private: 10.99.0.0/16 → blackhole (no default route).
///  l3 "other" VNI 7002 203.0.113.0/24: port 13 o20 203.0.113.20; o10 203.0.113.10 on C.
/// </summary>
public static class Topology
{
    public const int Blue = 5001, Vpc = 7001, Other = 7002;
    public static readonly MacAddress M1 = MacAddress.Parse("02:00:00:00:01:01"), M2 = MacAddress.Parse("02:00:00:00:01:02"),
        M3 = MacAddress.Parse("02:00:00:00:01:03"), R21 = MacAddress.Parse("02:00:00:00:01:21");
    public static readonly Ipv4Address Ip1 = Ipv4Address.Parse("10.1.0.11"), Ip2 = Ipv4Address.Parse("10.1.0.12"), IpR21 = Ipv4Address.Parse("10.1.0.21");

    public static readonly MacAddress Web1 = MacAddress.Parse("02:00:00:00:20:10"), Web2 = MacAddress.Parse("02:00:00:00:20:20"),
        Db1 = MacAddress.Parse("02:00:00:00:22:10"), Db2 = MacAddress.Parse("02:00:00:00:22:20"), Fw = MacAddress.Parse("02:00:00:00:20:05"),
        Nat = MacAddress.Parse("02:00:00:00:20:06"), O10 = MacAddress.Parse("02:00:00:00:30:10"), O20 = MacAddress.Parse("02:00:00:00:30:20");
    public static readonly Ipv4Address Web1Ip = Ipv4Address.Parse("10.20.1.10"), Web2Ip = Ipv4Address.Parse("10.20.1.20"),
        Db1Ip = Ipv4Address.Parse("10.20.2.10"), Db2Ip = Ipv4Address.Parse("10.20.2.20"), FwIp = Ipv4Address.Parse("10.20.1.5"),
        NatIp = Ipv4Address.Parse("10.20.1.6"), O10Ip = Ipv4Address.Parse("203.0.113.10"), O20Ip = Ipv4Address.Parse("203.0.113.20");
    public static readonly Ipv4Address WebGw = Ipv4Address.Parse("10.20.1.1"), DbGw = Ipv4Address.Parse("10.20.2.1");
    public static readonly MacAddress VpcGatewayMac = NetworkStateBuilder.GatewayMacFor(Vpc);

    public const int P1 = 1, P2 = 2, P3 = 3, PWeb1 = 10, PDb2 = 11, PNat = 12, PO20 = 13;
    public static readonly VtepEndpoint A = NodeHarness.NodeA, B = NodeHarness.NodeB, C = NodeHarness.NodeC;

    public static NetworkStateBuilder BlueBuilder() => new NetworkStateBuilder(Blue, "blue", NetworkKind.L2) { LocalVtep = A }
        .Member(A).Member(B).Member(C)
        .Endpoint(M1, Ip1, Location.Local(P1))
        .Endpoint(M2, Ip2, Location.Local(P2))
        .Endpoint(M3, default, Location.Local(P3))
        .Endpoint(R21, IpR21, Location.Remote(B), EntrySource.Gossip, 1);

    public static NetworkStateBuilder VpcBuilder() => new NetworkStateBuilder(Vpc, "vpc", NetworkKind.L3, Ipv4Prefix.Parse("10.20.0.0/16")) { LocalVtep = A }
        .Member(A).Member(B).Member(C)
        .Subnet("web", Ipv4Prefix.Parse("10.20.1.0/24"))
        .Subnet("db", Ipv4Prefix.Parse("10.20.2.0/24"), "private")
        .Route("main", Ipv4Prefix.Parse("0.0.0.0/0"), RouteTarget.ToEndpoint(Fw))
        .Route("main", Ipv4Prefix.Parse("198.51.100.0/24"), RouteTarget.Blackhole)
        .Route("main", Ipv4Prefix.Parse("203.0.113.0/24"), RouteTarget.ToNetwork(Other))
        .Route("private", Ipv4Prefix.Parse("10.99.0.0/16"), RouteTarget.Blackhole)
        .Endpoint(Web1, Web1Ip, Location.Local(PWeb1))
        .Endpoint(Db2, Db2Ip, Location.Local(PDb2))
        .Endpoint(Nat, NatIp, Location.Local(PNat))
        .Endpoint(Web2, Web2Ip, Location.Remote(B), EntrySource.Gossip, 1)
        .Endpoint(Fw, FwIp, Location.Remote(B), EntrySource.Gossip, 1)
        .Endpoint(Db1, Db1Ip, Location.Remote(C), EntrySource.Gossip, 1);

    public static NetworkStateBuilder OtherBuilder() => new NetworkStateBuilder(Other, "other", NetworkKind.L3, Ipv4Prefix.Parse("203.0.113.0/24")) { LocalVtep = A }
        .Member(A).Member(B).Member(C)
        .Subnet("all", Ipv4Prefix.Parse("203.0.113.0/24"))
        .Endpoint(O20, O20Ip, Location.Local(PO20))
        .Endpoint(O10, O10Ip, Location.Remote(C), EntrySource.Gossip, 1);

    public static IReadOnlyList<PortState> Ports(NetworkState vpc) =>
    [
        new(P1, "m1", Blue, M1, Ip1, true, -1, new PortCounters()),
        new(P2, "m2", Blue, M2, Ip2, true, -1, new PortCounters()),
        new(P3, "m3", Blue, M3, default, false, -1, new PortCounters()),
        new(PWeb1, "web1", Vpc, Web1, Web1Ip, true, 0, new PortCounters()),
        new(PDb2, "db2", Vpc, Db2, Db2Ip, true, 1, new PortCounters()),
        new(PNat, "nat", Vpc, Nat, NatIp, false, 0, new PortCounters()),
        new(PO20, "o20", Other, O20, O20Ip, true, 0, new PortCounters()),
    ];

    public static ForwardingSnapshot Snapshot(Func<NetworkStateBuilder, NetworkStateBuilder>? blue = null,
        Func<NetworkStateBuilder, NetworkStateBuilder>? vpc = null)
    {
        var b = (blue ?? (x => x))(BlueBuilder()).Build();
        var v = (vpc ?? (x => x))(VpcBuilder()).Build();
        var o = OtherBuilder().Build();
        return ForwardingSnapshot.Create(A, [b, v, o], Ports(v));
    }

    public static NodeHarness Node(Func<NetworkStateBuilder, NetworkStateBuilder>? blue = null,
        Func<NetworkStateBuilder, NetworkStateBuilder>? vpc = null) => new(Snapshot(blue, vpc));
}
