using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.Json;
using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Ports;
using Fabric.Dataplane.Ports.Guest;
using Fabric.Dataplane.Tables;
using Fabric.Tests.Shared;
using Xunit.Abstractions;

namespace Fabric.Dataplane.Tests.Engine;

/// <summary>
/// Bad input at a live node's TAP port, for a fixed time: raw frames written from inside the VM's namespace (an
/// AF_PACKET socket opened by a thread that entered the namespace with setns): random bytes, truncated and mutated
/// Ethernet, ARP and IPv4 (lying total length and IHL, bad checksums, wrong ARP sizes), spoofed sources, VLAN tags, and
/// frames aimed at the addresses of other networks. The engine must survive, the other networks must keep forwarding
/// and see nothing of it, and every frame the port read must be either forwarded or counted under a drop reason.
/// </summary>
public class TapFuzzTests(ITestOutputHelper output)
{
    private static readonly MacAddress MacF = MacAddress.Parse("02:00:00:00:fa:01"); // the fuzzed TAP
    private static readonly MacAddress MacR = MacAddress.Parse("02:00:00:00:fa:02"); // its peer, behind the fake VTEP
    private static readonly MacAddress MacA = MacAddress.Parse("02:00:00:00:fb:0a"), MacB = MacAddress.Parse("02:00:00:00:fb:0b");
    private static readonly MacAddress MacS = MacAddress.Parse("02:00:00:00:fc:05"); // a silent guest in a third network
    private static readonly Ipv4Address IpA = Ipv4Address.Parse("10.1.0.10"), IpB = Ipv4Address.Parse("10.1.0.11"), IpS = Ipv4Address.Parse("10.30.1.5");

    [RootFact]
    public Task A_fuzzed_tap_port_in_an_l3_network_never_crashes_never_leaks_and_every_frame_is_accounted()
        => Fuzz(NetworkKind.L3);

    [RootFact]
    public Task A_fuzzed_tap_port_in_an_l2_network_never_crashes_never_leaks_and_every_frame_is_accounted()
        => Fuzz(NetworkKind.L2);

    private async Task Fuzz(NetworkKind kind)
    {
        const int vni = 7001, otherVni = 5001, silentVni = 6002;
        var l3 = kind == NetworkKind.L3;
        var ipF = Ipv4Address.Parse(l3 ? "10.20.1.10" : "10.20.0.10");
        var ipR = Ipv4Address.Parse(l3 ? "10.20.2.20" : "10.20.0.20");
        var gateway = Ipv4Address.Parse("10.20.1.1");
        var nodeVtep = EngineNode.FreeLoopbackVtep();
        using var node = new EngineNode(nodeVtep);
        var peerEp = new IPEndPoint(new Ipv4Address(nodeVtep.Address.Value + 1).ToIPAddress(), nodeVtep.Port + 1);
        var peerVtep = new VtepEndpoint(Ipv4Address.FromIPAddress(peerEp.Address), (ushort)peerEp.Port);
        using var peer = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveBufferSize = 8 << 20 };
        peer.Bind(peerEp);

        // The fuzzed network: the TAP here and R at the fake peer VTEP, so everything the TAP gets forwarded is
        // either answered on the node (ARP, gateway echo) or encapsulated to the peer, where the test counts it.
        var fuzzed = new NetworkStateBuilder(vni, "fuzzed", kind, l3 ? Ipv4Prefix.Parse("10.20.0.0/16") : null) { LocalVtep = nodeVtep }
            .Member(nodeVtep).Member(peerVtep).Endpoint(MacF, ipF, Location.Local(1)).Endpoint(MacR, ipR, Location.Remote(peerVtep), EntrySource.Gossip, 1);
        if (l3) fuzzed.Subnet("s0", Ipv4Prefix.Parse("10.20.1.0/24")).Subnet("s1", Ipv4Prefix.Parse("10.20.2.0/24"));
        // Another network whose guests talk throughout, and a third one with a guest that must hear nothing.
        var other = new NetworkStateBuilder(otherVni, "other", NetworkKind.L2) { LocalVtep = nodeVtep }.Member(nodeVtep)
            .Endpoint(MacA, IpA, Location.Local(2)).Endpoint(MacB, IpB, Location.Local(3));
        var silent = new NetworkStateBuilder(silentVni, "silent", NetworkKind.L3, Ipv4Prefix.Parse("10.30.0.0/16")) { LocalVtep = nodeVtep }
            .Member(nodeVtep).Subnet("s", Ipv4Prefix.Parse("10.30.1.0/24")).Endpoint(MacS, IpS, Location.Local(4));
        var portF = new PortState(1, "fuzzed", vni, MacF, ipF, true, l3 ? 0 : -1, new PortCounters());
        node.Holder.Publish(ForwardingSnapshot.Create(nodeVtep, [fuzzed.Build(), other.Build(), silent.Build()],
        [
            portF, new PortState(2, "a", otherVni, MacA, IpA, true, -1, new PortCounters()), new PortState(3, "b", otherVni, MacB, IpB, true, -1, new PortCounters()),
            new PortState(4, "s", silentVni, MacS, IpS, true, 0, new PortCounters()),
        ]));
        var ga = new GuestMachine(MacA, IpA, Ipv4Prefix.Parse("10.1.0.0/24"));
        var gb = new GuestMachine(MacB, IpB, Ipv4Prefix.Parse("10.1.0.0/24"));
        var gs = new GuestMachine(MacS, IpS, Ipv4Prefix.Parse("10.30.1.0/24"), Ipv4Address.Parse("10.30.1.1"));
        await node.Engine.AddPortAsync(new GuestPort(2, "a", ga));
        await node.Engine.AddPortAsync(new GuestPort(3, "b", gb));
        await node.Engine.AddPortAsync(new GuestPort(4, "s", gs));

        var tag = $"{Environment.ProcessId % 1000}{Random.Shared.Next(100, 999)}";
        var ns = $"rt-fz-{tag}";
        var dev = $"rtfz{tag}";
        using var nsOwner = Netns.Create(ns);
        // No IPv6 chatter from the VM's own stack: what leaves the namespace is the fuzzer's (and counted anyway).
        Netns.Exec(ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
        await node.Engine.AddPortAsync(TapPort.Create(1, new TapSettings(dev, MacF, ipF, l3 ? 24 : 16, l3 ? gateway : default, ns)));
        await Task.Delay(300);

        var peerCounts = new Dictionary<int, long>();
        var peerLoop = new Thread(() =>
        {
            var buf = new byte[65536];
            while (true)
            {
                int n;
                try { n = peer.Receive(buf); } catch (ObjectDisposedException) { return; } catch (SocketException) { return; }
                var vniSeen = n >= 8 ? (buf[4] << 16) | (buf[5] << 8) | buf[6] : -1;
                lock (peerCounts) peerCounts[vniSeen] = peerCounts.GetValueOrDefault(vniSeen) + 1;
            }
        }) { IsBackground = true, Name = "fake-peer" };
        peerLoop.Start();

        var net = node.Holder.Current.Networks[vni];
        var otherNet = node.Holder.Current.Networks[otherVni];
        var silentNet = node.Holder.Current.Networks[silentVni];
        var (tx0, txDropped0) = DeviceTx(ns, dev);
        var rx0 = portF.Counters.RxPackets;
        var drops0 = portF.Counters.Drops.ToArray();
        var forwarded0 = Forwarded(net);
        var other0 = (otherNet.Counters.RxPackets, otherNet.Counters.TxPackets, otherNet.Counters.TotalDrops());
        var guestFrames0 = Interlocked.Read(ref ga.FramesReceived) + Interlocked.Read(ref gb.FramesReceived);

        var pingDuringFuzz = ga.PingAsync(IpB, count: 20, interval: TimeSpan.FromMilliseconds(100));
        var fuzz = new Fuzzer(new Random(7001 + (int)kind), MacF, ipF, MacR, ipR, gateway);
        var stats = RunInNamespace(ns, dev, TimeSpan.FromSeconds(3), fuzz);
        var ping = await pingDuringFuzz;

        Assert.True(node.Engine.Running, "the dataplane thread survived");
        Assert.Equal(20, ping.Received); // the other network kept forwarding throughout

        // The kernel's count moves before the engine has read the TAP and the peer before its socket is drained:
        // read everything until the books balance or stop changing, with a deadline, instead of sleeping.
        Books Read()
        {
            var (tx1, txDropped1) = DeviceTx(ns, dev);
            var read = portF.Counters.RxPackets - rx0;
            var byReason = new SortedDictionary<string, long>();
            long dropped = 0;
            for (int r = 1; r < DropReasons.Count; r++)
            {
                var d = portF.Counters.Drop((DropReason)r) - drops0[r];
                if (d == 0) continue;
                byReason[DropReasons.Name((DropReason)r)] = d;
                dropped += d;
            }
            Dictionary<int, long> atPeer;
            lock (peerCounts) atPeer = new(peerCounts);
            return new Books(tx1 - tx0, txDropped1 - txDropped0, read, dropped, string.Join(", ", byReason.Select(kv => $"{kv.Key} {kv.Value}")), byReason,
                Forwarded(net) - forwarded0, atPeer.GetValueOrDefault(vni), string.Join(", ", atPeer.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}: {kv.Value}")), atPeer,
                otherNet.Counters.RxPackets - other0.Item1, otherNet.Counters.TxPackets - other0.Item2, otherNet.Counters.TotalDrops() - other0.Item3,
                Interlocked.Read(ref ga.FramesReceived) + Interlocked.Read(ref gb.FramesReceived) - guestFrames0);
        }
        var books = await UnderlayFuzzTests.Settle(Read, k => stats.Sent == k.Tx + k.TxDropped && k.Tx == k.Read && k.Read == k.Dropped + k.Forwarded.Total
            && k.Forwarded.Encapsulated == k.AtPeerInVni && k.OtherRx - k.OtherDrops == k.OtherTx && k.OtherTx == k.GuestFrames);
        var (tx, txDropped, read, dropped, byReason, forwarded, atPeer) = (books.Tx, books.TxDropped, books.Read, books.Dropped, books.ByReason, books.Forwarded, books.AtPeer);

        output.WriteLine($"{kind}: {stats.Sent} frames written in 3 s ({stats.Refused} refused by the kernel: {string.Join(", ", stats.RefusedBy.Select(e => $"errno {e.Key} x{e.Value}"))}), by kind: {string.Join(", ", stats.ByKind.Select(k => $"{k.Key} {k.Value}"))}");
        output.WriteLine($"TAP device tx {tx}, tx_dropped {txDropped}; port rx {read} = dropped {dropped} + forwarded {forwarded.Total} ({forwarded})");
        output.WriteLine($"drops by reason: {string.Join(", ", byReason.Select(kv => $"{kv.Key} {kv.Value}"))}");
        output.WriteLine($"at the peer VTEP by VNI: {string.Join(", ", atPeer.Select(kv => $"{kv.Key}: {kv.Value}"))}");
        output.WriteLine($"other network rx {books.OtherRx}, tx {books.OtherTx}; silent guest frames {gs.FramesReceived}");

        // Every frame written went into the TAP (the kernel's own count) and the engine read each one.
        Assert.Equal(stats.Sent, tx + txDropped);
        Assert.Equal(tx, read);
        // Every frame read was forwarded or dropped with a named reason; none vanished.
        Assert.Equal(read, dropped + forwarded.Total);
        Assert.True(dropped > 0 && forwarded.Total > 0, $"dropped {dropped}, forwarded {forwarded.Total}");
        Assert.True(byReason.ContainsKey(nameof(DropReason.Malformed)) && byReason.ContainsKey(nameof(DropReason.SpoofedSource)), string.Join(", ", byReason.Keys));
        // What was encapsulated left in the fuzzed VNI only, every copy arrived at the one peer.
        Assert.Equal(forwarded.Encapsulated, atPeer.GetValueOrDefault(vni));
        Assert.Equal([vni], atPeer.Keys.Where(k => atPeer[k] > 0).ToArray());
        // Nothing crossed into the other networks: their ports got only their own frames, the silent guest nothing.
        Assert.Equal(books.OtherRx - books.OtherDrops, books.OtherTx);
        Assert.Equal(books.OtherTx, books.GuestFrames);
        Assert.Equal(0, Interlocked.Read(ref gs.FramesReceived));
        Assert.Equal(0, silentNet.Counters.TxPackets);
        peer.Close();

        ReliabilityLog.Record(new(l3 ? "B2" : "B3", $"TAP fuzz from inside the VM's namespace, {kind} network, 3 s: random, mutated, truncated, lying lengths/IHL/checksums, ARP sizes, spoofed MACs, other networks' addresses",
            $"engine kept running; other network pinged 20/20; {stats.Sent} frames written, {read} read = {dropped} dropped by reason ({string.Join(", ", byReason.Select(kv => $"{kv.Key} {kv.Value}"))}) + {forwarded.Total} forwarded; encapsulated only in VNI {vni}",
            "per frame, counted by reason", "n/a (no outage)", "0 leaked into other networks (silent guest 0 frames); 0 of 20 pings lost", "n/a",
            l3 ? nameof(A_fuzzed_tap_port_in_an_l3_network_never_crashes_never_leaks_and_every_frame_is_accounted) : nameof(A_fuzzed_tap_port_in_an_l2_network_never_crashes_never_leaks_and_every_frame_is_accounted)));
    }

    /// <summary>One reading of every counter the test balances (deltas since the fuzzing began). Records compare by value, the
    /// dictionaries by their text beside them.</summary>
    private sealed record Books(long Tx, long TxDropped, long Read, long Dropped, string Reasons, SortedDictionary<string, long> ByReason,
        ForwardedCount Forwarded, long AtPeerInVni, string Peer, Dictionary<int, long> AtPeer, long OtherRx, long OtherTx, long OtherDrops, long GuestFrames)
    {
        public bool Equals(Books? o) => o is not null && (Tx, TxDropped, Read, Dropped, Reasons, Forwarded, AtPeerInVni, Peer, OtherRx, OtherTx, OtherDrops, GuestFrames)
            == (o.Tx, o.TxDropped, o.Read, o.Dropped, o.Reasons, o.Forwarded, o.AtPeerInVni, o.Peer, o.OtherRx, o.OtherTx, o.OtherDrops, o.GuestFrames);
        public override int GetHashCode() => HashCode.Combine(Tx, Read, Dropped, Reasons, Peer, OtherTx, GuestFrames);
    }

    /// <summary>Everything the fuzzed network did with a frame other than dropping it: each outcome is one frame.</summary>
    private sealed record ForwardedCount(long Encapsulated, long ArpAnswered, long ArpAbsorbed, long GatewayEcho, long Flooded)
    {
        // A flood in the fuzzed network has exactly one copy (to the peer), already counted as encapsulated.
        public long Total => Encapsulated + ArpAnswered + ArpAbsorbed + GatewayEcho;
        public static ForwardedCount operator -(ForwardedCount a, ForwardedCount b)
            => new(a.Encapsulated - b.Encapsulated, a.ArpAnswered - b.ArpAnswered, a.ArpAbsorbed - b.ArpAbsorbed, a.GatewayEcho - b.GatewayEcho, a.Flooded - b.Flooded);
    }

    private static ForwardedCount Forwarded(NetworkState net) => new(net.Counters.Encapsulated, net.Counters.ArpAnswered,
        net.Counters.ArpAbsorbed, net.Counters.GatewayEchoReplies, net.Counters.Flooded);

    /// <summary>The namespace side's own transmit counters of the TAP device: what it handed to the engine, and dropped.</summary>
    private static (long Tx, long Dropped) DeviceTx(string ns, string dev)
    {
        var (code, json) = Netns.Exec(ns, "ip", "-s", "-j", "link", "show", "dev", dev);
        Assert.True(code == 0, json);
        var tx = JsonDocument.Parse(json).RootElement[0].GetProperty("stats64").GetProperty("tx");
        return (tx.GetProperty("packets").GetInt64(), tx.GetProperty("dropped").GetInt64());
    }

    private sealed class FuzzStats
    {
        public long Sent, Refused;
        public readonly SortedDictionary<string, long> ByKind = new();
        public readonly SortedDictionary<int, long> RefusedBy = new();
    }

    /// <summary>Writes fuzzed frames out of <paramref name="dev"/> from inside <paramref name="ns"/> until the time is up.</summary>
    private static unsafe FuzzStats RunInNamespace(string ns, string dev, TimeSpan duration, Fuzzer fuzz)
    {
        var stats = new FuzzStats();
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                // setns moves only this thread; the thread ends with the fuzz, so no other work ever runs in there.
                var nsFd = open($"/run/netns/{ns}", 0x80000 /* O_RDONLY | O_CLOEXEC */);
                if (nsFd < 0) throw new IOException($"open netns {ns}: errno {Marshal.GetLastPInvokeError()}");
                if (setns(nsFd, 0x40000000 /* CLONE_NEWNET */) != 0) throw new IOException($"setns: errno {Marshal.GetLastPInvokeError()}");
                close(nsFd);
                var ifindex = if_nametoindex(dev);
                if (ifindex == 0) throw new IOException($"{dev} not found in {ns}");
                var fd = socket(17 /* AF_PACKET */, 3 /* SOCK_RAW */, 0); // protocol 0: send only, receives nothing
                if (fd < 0) throw new IOException($"socket(AF_PACKET): errno {Marshal.GetLastPInvokeError()}");
                try
                {
                    var sll = stackalloc byte[20];
                    new Span<byte>(sll, 20).Clear();
                    *(ushort*)sll = 17;
                    *(int*)(sll + 4) = (int)ifindex;
                    var deadline = DateTime.UtcNow + duration;
                    while (DateTime.UtcNow < deadline)
                    {
                        for (int k = 0; k < 16; k++)
                        {
                            var (kindName, frame) = fuzz.Next();
                            nint r;
                            fixed (byte* p = frame) r = sendto(fd, p, (nuint)frame.Length, 0, sll, 20);
                            if (r == frame.Length)
                            {
                                stats.Sent++;
                                stats.ByKind[kindName] = stats.ByKind.GetValueOrDefault(kindName) + 1;
                            }
                            else
                            {
                                stats.Refused++;
                                var errno = Marshal.GetLastPInvokeError();
                                stats.RefusedBy[errno] = stats.RefusedBy.GetValueOrDefault(errno) + 1;
                            }
                        }
                        Thread.Sleep(1); // a hostile but not flooding VM: the TAP queue (1000 frames) is not the subject here
                    }
                }
                finally { close(fd); }
            }
            catch (Exception e) { failure = e; }
        }) { IsBackground = true, Name = "tap-fuzzer" };
        thread.Start();
        thread.Join();
        if (failure is not null) throw new Xunit.Sdk.XunitException($"fuzzer thread failed: {failure}");
        return stats;
    }

    /// <summary>Frames a hostile VM might write: valid templates, then mutated, truncated, or lying about their lengths.</summary>
    private sealed class Fuzzer(Random rng, MacAddress macF, Ipv4Address ipF, MacAddress macR, Ipv4Address ipR, Ipv4Address gateway)
    {
        private readonly byte[][] _templates =
        [
            Frames.ArpRequest(macF, ipF, ipR),
            Frames.ArpRequest(macF, ipF, gateway),
            Frames.ArpRequest(macF, ipF, IpA),                                         // another network's address
            Frames.GratuitousArp(macF, ipR),                                           // claims R's address
            Frames.GratuitousArp(macF, ipF),
            Frames.Ping(macR, macF, ipF, ipR),
            Frames.Ping(NetworkStateBuilder.GatewayMacFor(7001), macF, ipF, ipR, ttl: 1),
            Frames.Ping(NetworkStateBuilder.GatewayMacFor(7001), macF, ipF, gateway),
            Frames.Ping(MacA, macF, ipF, IpA),                                         // another network's guest, by MAC and IP
            Frames.Ping(MacS, macF, ipF, IpS),
            Frames.Udp(macR, macF, ipF, ipR),
            Frames.Ethernet(MacAddress.Broadcast, macF, 0x0800),
            Frames.Ethernet(macR, macF, 0x86DD),
            Frames.Tagged(macR, macF, 42, 0x0800),
        ];

        public (string Kind, byte[] Frame) Next()
        {
            var t = (byte[])_templates[rng.Next(_templates.Length)].Clone();
            switch (rng.Next(9))
            {
                case 0:
                    var junk = new byte[rng.Next(14, 200)];
                    rng.NextBytes(junk);
                    return ("random", junk);
                case 1: return ("valid", t);
                case 2:
                    for (int f = rng.Next(1, 4); f > 0; f--) t[rng.Next(t.Length)] = (byte)rng.Next(256);
                    return ("mutated", t);
                case 3: return ("truncated", t[..rng.Next(14, t.Length)]);
                case 4 when IsIpv4(t):
                    BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(16), (ushort)rng.Next(0, 65536)); // total length lies
                    return ("ip-total-length", t);
                case 5 when IsIpv4(t):
                    t[14] = (byte)(0x40 | rng.Next(0, 16)); // IHL lies
                    return ("ip-ihl", t);
                case 6 when IsIpv4(t):
                    t[24] ^= (byte)rng.Next(1, 256); // header checksum wrong
                    return ("ip-checksum", t);
                case 7 when IsArp(t):
                    t[14 + 4] = (byte)rng.Next(256); t[14 + 5] = (byte)rng.Next(256); // hardware / protocol sizes lie
                    return ("arp-sizes", t);
                case 8:
                    rng.NextBytes(t.AsSpan(6, 6)); // someone else's source MAC
                    return ("spoofed-mac", t);
                default:
                    return ("valid", t);
            }
        }

        private static bool IsIpv4(byte[] f) => f.Length > 34 && f[12] == 0x08 && f[13] == 0x00;
        private static bool IsArp(byte[] f) => f.Length > 21 && f[12] == 0x08 && f[13] == 0x06;
    }

    [DllImport("libc", SetLastError = true)] private static extern int open(string path, int flags);
    [DllImport("libc", SetLastError = true)] private static extern int setns(int fd, int nstype);
    [DllImport("libc", SetLastError = true)] private static extern int close(int fd);
    [DllImport("libc", SetLastError = true)] private static extern uint if_nametoindex(string name);
    [DllImport("libc", SetLastError = true)] private static extern int socket(int domain, int type, int protocol);
    [DllImport("libc", SetLastError = true)] private static unsafe extern nint sendto(int fd, byte* buf, nuint len, int flags, byte* addr, int addrLen);
}
