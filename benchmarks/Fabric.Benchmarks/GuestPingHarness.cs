using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Engine;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Ports;
using Fabric.Dataplane.Ports.Guest;
using Fabric.Dataplane.Tables;

namespace Fabric.Benchmarks;

/// <summary>
/// Guest-to-guest ICMP echo across two dataplane engines over real UDP on loopback (what
/// POST /api/v1/endpoints/{id}/ping measures, without the HTTP and actor hops): median and tail round trip.
/// </summary>
public static class GuestPingHarness
{
    public static async Task<int> Run(string[] args)
    {
        var count = args.SkipWhile(a => a != "--count").Skip(1).Select(int.Parse).FirstOrDefault(1000);
        var vteps = new[] { new VtepEndpoint(Ipv4Address.Parse("127.0.62.1"), 4789), new VtepEndpoint(Ipv4Address.Parse("127.0.62.2"), 4789) };
        var macs = new[] { MacAddress.Parse("02:00:00:00:62:0a"), MacAddress.Parse("02:00:00:00:62:14") };
        var ips = new[] { Ipv4Address.Parse("10.20.1.10"), Ipv4Address.Parse("10.20.1.20") };
        var prefix = Ipv4Prefix.Parse("10.20.1.0/24");
        var holders = new[] { new SnapshotHolder(), new SnapshotHolder() };
        for (int n = 0; n < 2; n++)
        {
            var b = new NetworkStateBuilder(7001, "ping", NetworkKind.L3, Ipv4Prefix.Parse("10.20.0.0/16")) { LocalVtep = vteps[n] }
                .Member(vteps[0]).Member(vteps[1]).Subnet("s", prefix);
            for (int k = 0; k < 2; k++) b.Endpoint(macs[k], ips[k], k == n ? Location.Local(1) : Location.Remote(vteps[k]));
            holders[n].Publish(ForwardingSnapshot.Create(vteps[n], [b.Build()], [new PortState(1, "g", 7001, macs[n], ips[n], true, 0, new PortCounters())]));
        }
        using var u0 = new UdpUnderlay(vteps[0]);
        using var u1 = new UdpUnderlay(vteps[1]);
        using var e0 = new DataplaneEngine(holders[0], u0);
        using var e1 = new DataplaneEngine(holders[1], u1);
        e0.Start();
        e1.Start();
        var g0 = new GuestMachine(macs[0], ips[0], prefix, prefix.FirstHost);
        var g1 = new GuestMachine(macs[1], ips[1], prefix, prefix.FirstHost);
        await e0.AddPortAsync(new GuestPort(1, "g0", g0));
        await e1.AddPortAsync(new GuestPort(1, "g1", g1));
        await g0.PingAsync(ips[1], 20); // warm up: ARP, JIT
        var r = await g0.PingAsync(ips[1], count, interval: TimeSpan.FromMilliseconds(2));
        var rtt = r.RttMs.Order().ToArray();
        double P(double p) => rtt[Math.Min(rtt.Length - 1, (int)Math.Ceiling(p * rtt.Length) - 1)];
        Console.WriteLine($"guest→guest across two engines over UDP loopback: {r.Received}/{r.Sent} answered, " +
            $"median {P(0.5):F3} ms, p90 {P(0.9):F3} ms, p99 {P(0.99):F3} ms, max {rtt[^1]:F3} ms");
        return r.Received == r.Sent ? 0 : 1;
    }
}
