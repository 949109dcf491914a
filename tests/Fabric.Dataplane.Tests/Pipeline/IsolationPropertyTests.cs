using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Events;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Pipeline;
using Fabric.Dataplane.Tables;
using Fabric.Tests.Shared;

namespace Fabric.Dataplane.Tests.Pipeline;

/// <summary>
/// Tenant isolation, the first security property, checked on generated topologies: two tenants (random kinds, often
/// with the very same CIDR, sometimes the same MACs) spread over three nodes, hammered with generated frames that name
/// the other tenant's MACs and IPs, broadcasts, ARP and garbage. Every frame that reaches a port must have started in
/// that port's network, every VXLAN packet must carry the sender's VNI, and nothing decapsulated is sent back out.
/// </summary>
public class IsolationPropertyTests(IsolationPropertyTests.Tally tally) : IClassFixture<IsolationPropertyTests.Tally>
{
    /// <summary>
    /// What the generated cases did, summed over the class; written as row B7 once every property of the class has
    /// run, unless a case failed (a shrinking run passes cases too, so a row per case could claim a failed property held).
    /// </summary>
    public sealed class Tally : IDisposable
    {
        public long LeakCases, Frames, Delivered, Encapsulated, DecapCases, DecapFrames, DecapDelivered;
        public volatile bool Failed;

        public void Dispose()
        {
            if (Failed || LeakCases + DecapCases == 0) return;
            ReliabilityLog.Record(new("B7", "generated two-tenant topologies on 3 nodes (random kinds, shared CIDRs and MACs), frames naming the other tenant, broadcasts, ARP, garbage, forged VNIs",
                $"{LeakCases} topologies × 20 rounds: {Frames} frames, {Delivered} deliveries ({Encapsulated} via VXLAN), each in the sender's network; {DecapCases} topologies × {DecapFrames / Math.Max(1, DecapCases)} forged-VNI datagrams: {DecapDelivered} deliveries, each to the header's VNI, and a unicast frame to every endpoint delivered to exactly its port",
                "per frame, asserted", "n/a (no outage)", "0 frames leaked across networks", "n/a",
                $"{nameof(Generated_two_tenant_topologies_never_leak_a_frame_across_networks)}, {nameof(Decapsulated_frames_reach_only_ports_of_the_vni_in_their_header)}"));
        }
    }

    private static readonly VtepEndpoint[] Nodes =
        [new(Ipv4Address.Parse("192.0.2.1")), new(Ipv4Address.Parse("192.0.2.2")), new(Ipv4Address.Parse("192.0.2.3"))];

    private sealed record Ep(int Tenant, int Node, int Port, MacAddress Mac, Ipv4Address Ip, bool SourceCheck, int Subnet);

    private sealed class World
    {
        public readonly List<Ep> Endpoints = new();
        public readonly ForwardingSnapshot[] Snapshots = new ForwardingSnapshot[Nodes.Length];
        public readonly ForwardingPipeline[] Pipelines = new ForwardingPipeline[Nodes.Length];
        public readonly EventRing[] Rings = new EventRing[Nodes.Length];
        public readonly int[] Vnis = new int[2];
        public readonly NetworkKind[] Kinds = new NetworkKind[2];
        public readonly Ipv4Prefix[] Cidrs = new Ipv4Prefix[2];
    }

    private static World Generate(Random rng)
    {
        var w = new World();
        w.Vnis[0] = rng.Next(1, 1 << 24);
        do w.Vnis[1] = rng.Next(1, 1 << 24); while (w.Vnis[1] == w.Vnis[0]);
        var sameSpace = rng.Next(2) == 0;
        for (int t = 0; t < 2; t++)
        {
            w.Kinds[t] = rng.Next(2) == 0 ? NetworkKind.L2 : NetworkKind.L3;
            w.Cidrs[t] = Ipv4Prefix.Parse(sameSpace || t == 0 ? "10.0.0.0/16" : "10.1.0.0/16");
        }
        var port = 1;
        for (int t = 0; t < 2; t++)
        {
            var n = rng.Next(2, 7);
            for (int i = 0; i < n; i++)
            {
                var subnet = rng.Next(2);
                // Tenants reuse addresses freely; with probability 1/4 the MAC is shared with the other tenant too.
                var mac = new MacAddress(0x02_00_00_00_00_00UL | (uint)(rng.Next(4) == 0 ? i + 1 : (t + 1) * 0x100 + i + 1));
                var ip = new Ipv4Address(w.Cidrs[t].Network.Value + (uint)(subnet << 8) + (uint)(10 + i));
                w.Endpoints.Add(new Ep(t, rng.Next(Nodes.Length), port++, mac, ip, rng.Next(4) != 0, subnet));
            }
        }
        for (int node = 0; node < Nodes.Length; node++)
        {
            var nets = new List<NetworkState>();
            var ports = new List<PortState>();
            for (int t = 0; t < 2; t++)
            {
                var b = new NetworkStateBuilder(w.Vnis[t], $"t{t}", w.Kinds[t], w.Cidrs[t]) { LocalVtep = Nodes[node] };
                foreach (var v in Nodes) b.Member(v);
                b.Subnet("s0", new Ipv4Prefix(w.Cidrs[t].Network, 24)).Subnet("s1", new Ipv4Prefix(new Ipv4Address(w.Cidrs[t].Network.Value + 256), 24), "rt2");
                var mine = w.Endpoints.Where(e => e.Tenant == t).ToList();
                b.Route("main", Ipv4Prefix.Parse("0.0.0.0/0"), RouteTarget.ToEndpoint(mine[0].Mac));
                b.Route("rt2", Ipv4Prefix.Parse("192.168.0.0/16"), RouteTarget.Blackhole);
                foreach (var e in mine)
                {
                    var loc = e.Node == node ? Location.Local(e.Port) : Location.Remote(Nodes[e.Node]);
                    b.Endpoint(e.Mac, e.Ip, loc, e.Node == node ? EntrySource.Config : EntrySource.Gossip, 1);
                    if (e.Node == node) ports.Add(new PortState(e.Port, $"p{e.Port}", w.Vnis[t], e.Mac, e.Ip, e.SourceCheck, e.Subnet, new PortCounters()));
                }
                nets.Add(b.Build());
            }
            w.Snapshots[node] = ForwardingSnapshot.Create(Nodes[node], nets, ports);
            w.Rings[node] = new EventRing(4096);
            w.Pipelines[node] = new ForwardingPipeline(w.Rings[node]);
        }
        return w;
    }

    private static byte[] RandomFrame(Random rng, World w, Ep from)
    {
        var other = w.Endpoints[rng.Next(w.Endpoints.Count)]; // often the other tenant's
        var srcMac = rng.Next(8) == 0 ? new MacAddress((ulong)rng.NextInt64(1, 1L << 48) & ~0x0100_0000_0000UL) : from.Mac;
        var srcIp = rng.Next(8) == 0 ? other.Ip : from.Ip;
        var dstMac = rng.Next(5) switch
        {
            0 => MacAddress.Broadcast,
            1 => NetworkStateBuilder.GatewayMacFor(w.Vnis[rng.Next(2)]),
            2 => new MacAddress(0x01_00_5e_00_00_01UL),
            _ => other.Mac,
        };
        var dstIp = rng.Next(6) switch
        {
            0 => Ipv4Address.LimitedBroadcast,
            1 => new Ipv4Address(w.Cidrs[other.Tenant].Network.Value + 1), // a gateway
            2 => new Ipv4Address((uint)rng.NextInt64(0, 1L << 32)),
            _ => other.Ip,
        };
        byte[] f = rng.Next(7) switch
        {
            0 => Frames.ArpRequest(srcMac, srcIp, dstIp),
            1 => Frames.GratuitousArp(srcMac, rng.Next(2) == 0 ? srcIp : other.Ip),
            2 => Frames.Ethernet(dstMac, srcMac, 0x88B5),
            3 => Frames.Ping(dstMac, srcMac, srcIp, dstIp, (byte)rng.Next(1, 255)),
            4 => Frames.Tagged(dstMac, srcMac, 5, EtherTypes.Ipv4),
            _ => Frames.Udp(dstMac, srcMac, srcIp, dstIp),
        };
        if (rng.Next(10) == 0) f[rng.Next(f.Length)] ^= (byte)rng.Next(1, 256); // sometimes corrupt
        return f;
    }

    // DoNotSize: a plain int seed stays within ±100, which is 201 fixed topologies however many runs there are.
    [Property(MaxTest = 150)]
    public void Generated_two_tenant_topologies_never_leak_a_frame_across_networks(DoNotSize<int> seed)
    {
        try { LeakCase(seed.Item); }
        catch { tally.Failed = true; throw; }
    }

    private void LeakCase(int seed)
    {
        var rng = new Random(seed);
        var w = Generate(rng);
        var tenantOfVni = new Dictionary<int, int> { [w.Vnis[0]] = 0, [w.Vnis[1]] = 1 };
        var batch = new PacketBatch(64, 2048);
        var tx = new TxBatch(4096);
        var rx = new PacketBatch(64, 2048);
        var rxTx = new TxBatch(4096);
        var delivered = 0;
        var encapsulated = 0;
        for (int round = 0; round < 20; round++)
        {
            var from = w.Endpoints[rng.Next(w.Endpoints.Count)];
            var node = from.Node;
            batch.Clear();
            tx.Clear();
            var senders = new List<Ep>();
            for (int k = 0; k < 16; k++)
            {
                var s = w.Endpoints.Where(e => e.Node == node).ElementAt(rng.Next(w.Endpoints.Count(e => e.Node == node)));
                batch.AddFromPort(s.Port, RandomFrame(rng, w, s));
                senders.Add(s);
            }
            w.Pipelines[node].Process(w.Snapshots[node], batch, tx, round * 10);
            foreach (var e in tx.Entries)
            {
                var sender = senders[e.Slot];
                if (e.Kind == TxKind.LocalPort)
                {
                    var dest = w.Endpoints.Single(x => x.Port == e.PortId);
                    Assert.True(dest.Tenant == sender.Tenant, $"seed {seed}: frame from tenant {sender.Tenant} reached port {e.PortId} of tenant {dest.Tenant}");
                    delivered++;
                    continue;
                }
                encapsulated++;
                var datagram = batch.SlotBytes(e.Slot, e.Offset, e.Length).ToArray();
                Assert.Equal(PacketError.None, VxlanHeader.TryParse(datagram, out var vx));
                Assert.True(tenantOfVni[vx.Vni] == sender.Tenant, $"seed {seed}: tenant {sender.Tenant} encapsulated into VNI {vx.Vni}");
                var target = Array.IndexOf(Nodes, e.Destination);
                Assert.True(target >= 0 && target != node, $"seed {seed}: sent to {e.Destination}");
                // Deliver at the receiving node, as its UDP socket would.
                rx.Clear();
                rxTx.Clear();
                rx.AddFromUnderlay(Nodes[node] with { Port = 50000 }, datagram);
                w.Pipelines[target].Process(w.Snapshots[target], rx, rxTx, round * 10);
                foreach (var d in rxTx.Entries)
                {
                    Assert.True(d.Kind == TxKind.LocalPort, $"seed {seed}: a decapsulated frame went back into the overlay");
                    var dest = w.Endpoints.Single(x => x.Port == d.PortId);
                    Assert.True(dest.Tenant == sender.Tenant, $"seed {seed}: tenant {sender.Tenant} reached port {d.PortId} of tenant {dest.Tenant} on node {target}");
                    Assert.Equal(target, dest.Node);
                    delivered++;
                }
            }
            for (int n = 0; n < Nodes.Length; n++) while (w.Rings[n].TryRead(out _)) { }
        }
        // The property is only worth something if traffic really flowed.
        Assert.True(delivered > 0, $"seed {seed}: nothing was delivered at all");
        Interlocked.Increment(ref tally.LeakCases);
        Interlocked.Add(ref tally.Frames, 20 * 16);
        Interlocked.Add(ref tally.Delivered, delivered);
        Interlocked.Add(ref tally.Encapsulated, encapsulated);
    }

    /// <summary>
    /// A frame from the underlay with a forged VNI still lands only in that VNI's ports, and never in the other's; and
    /// the decapsulation path does deliver: a well-formed unicast frame from a member VTEP to each local endpoint, in its
    /// own VNI, reaches exactly that endpoint's port (so a pipeline that dropped everything decapsulated would fail).
    /// </summary>
    [Property(MaxTest = 100)]
    public void Decapsulated_frames_reach_only_ports_of_the_vni_in_their_header(DoNotSize<int> seed)
    {
        try { DecapCase(seed.Item); }
        catch { tally.Failed = true; throw; }
    }

    private void DecapCase(int seed)
    {
        long deliveries = 0;
        var rng = new Random(seed);
        var w = Generate(rng);
        var rx = new PacketBatch(64, 2048);
        var tx = new TxBatch(4096);
        for (int node = 0; node < Nodes.Length; node++)
        {
            rx.Clear();
            tx.Clear();
            var vnis = new List<int>();
            for (int k = 0; k < 32; k++)
            {
                var t = rng.Next(2);
                var any = w.Endpoints[rng.Next(w.Endpoints.Count)];
                rx.AddFromUnderlay(Nodes[(node + 1) % Nodes.Length], Frames.Vxlan(w.Vnis[t], RandomFrame(rng, w, any)));
                vnis.Add(w.Vnis[t]);
            }
            // One frame that must arrive per endpoint here: unicast to its MAC and IP, from a same-tenant endpoint on
            // another node (sent from that node's VTEP) or, when there is none, from a remote MAC nobody has.
            var mustReach = new Dictionary<int, Ep>();
            foreach (var e in w.Endpoints.Where(e => e.Node == node))
            {
                var peer = w.Endpoints.FirstOrDefault(p => p.Tenant == e.Tenant && p.Node != node);
                var srcMac = peer?.Mac ?? new MacAddress(0x02_AA_00_00_00_01UL);
                var srcIp = peer?.Ip ?? new Ipv4Address(w.Cidrs[e.Tenant].Network.Value + 200);
                var from = Nodes[peer?.Node ?? (node + 1) % Nodes.Length];
                // In an l3 network the ingress node routed it already: the gateway is the source MAC on the wire.
                if (w.Kinds[e.Tenant] == NetworkKind.L3) srcMac = NetworkStateBuilder.GatewayMacFor(w.Vnis[e.Tenant]);
                mustReach[rx.Count] = e;
                rx.AddFromUnderlay(from, Frames.Vxlan(w.Vnis[e.Tenant], Frames.Udp(e.Mac, srcMac, srcIp, e.Ip)));
                vnis.Add(w.Vnis[e.Tenant]);
            }
            w.Pipelines[node].Process(w.Snapshots[node], rx, tx, 0);
            foreach (var d in tx.Entries)
            {
                Assert.Equal(TxKind.LocalPort, d.Kind);
                var dest = w.Endpoints.Single(x => x.Port == d.PortId);
                Assert.Equal(vnis[d.Slot], w.Vnis[dest.Tenant]);
                deliveries++;
            }
            foreach (var (slot, e) in mustReach)
            {
                var ports = tx.Entries.ToArray().Where(d => d.Slot == slot).Select(d => d.PortId).ToArray();
                Assert.True(ports.SequenceEqual([e.Port]), $"seed {seed}: a unicast frame decapsulated on node {node} for tenant {e.Tenant}'s port {e.Port} ({w.Kinds[e.Tenant]}) went to [{string.Join(", ", ports)}], dropped as {rx.Meta(slot).Drop}");
            }
        }
        Interlocked.Increment(ref tally.DecapCases);
        Interlocked.Add(ref tally.DecapFrames, Nodes.Length * 32);
        Interlocked.Add(ref tally.DecapDelivered, deliveries);
    }
}
