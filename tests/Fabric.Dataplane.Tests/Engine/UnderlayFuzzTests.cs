using System.Net;
using System.Net.Sockets;
using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Ports.Guest;
using Fabric.Dataplane.Tables;
using Fabric.Tests.Shared;
using Xunit.Abstractions;

namespace Fabric.Dataplane.Tests.Engine;

/// <summary>
/// Bad input at a live node's underlay socket, for a fixed time: random bytes, truncated and mutated VXLAN, the I
/// flag clear, lying inner lengths, unknown VNIs, and senders that are not members. The node must keep forwarding,
/// never put a frame into the wrong network, and account for every datagram it received: each one is either
/// decapsulated (then delivered or dropped with a reason) or dropped before that with a reason.
/// </summary>
public class UnderlayFuzzTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_fuzzed_underlay_never_crashes_the_node_never_leaks_and_every_datagram_lands_in_a_counter()
    {
        var nodeVtep = EngineNode.FreeLoopbackVtep();
        var peer = new IPEndPoint(new Ipv4Address(nodeVtep.Address.Value + 1).ToIPAddress(), nodeVtep.Port + 1);
        var stranger = new IPEndPoint(new Ipv4Address(nodeVtep.Address.Value + 2).ToIPAddress(), nodeVtep.Port + 2);
        using var node = new EngineNode(nodeVtep);
        var peerVtep = new VtepEndpoint(Ipv4Address.FromIPAddress(peer.Address), (ushort)peer.Port);

        // l2 5001: two guests here (a and b) and the fuzzing peer as member; l3 7001: guest c, same member.
        var ma = MacAddress.Parse("02:00:00:00:f0:0a"); var mb = MacAddress.Parse("02:00:00:00:f0:0b"); var mc = MacAddress.Parse("02:00:00:00:f0:0c");
        var ia = Ipv4Address.Parse("10.1.0.10"); var ib = Ipv4Address.Parse("10.1.0.11"); var ic = Ipv4Address.Parse("10.20.1.10");
        var l2 = new NetworkStateBuilder(5001, "l2", NetworkKind.L2) { LocalVtep = nodeVtep }.Member(nodeVtep).Member(peerVtep)
            .Endpoint(ma, ia, Location.Local(1)).Endpoint(mb, ib, Location.Local(2));
        l2.FdbCapacity = 64; // fuzzed sources fill it; the configured guests must keep working
        var l3 = new NetworkStateBuilder(7001, "l3", NetworkKind.L3, Ipv4Prefix.Parse("10.20.0.0/16")) { LocalVtep = nodeVtep }
            .Member(nodeVtep).Member(peerVtep).Subnet("s", Ipv4Prefix.Parse("10.20.1.0/24")).Endpoint(mc, ic, Location.Local(3));
        node.Holder.Publish(ForwardingSnapshot.Create(nodeVtep, [l2.Build(), l3.Build()],
        [
            new PortState(1, "a", 5001, ma, ia, true, -1, new PortCounters()), new PortState(2, "b", 5001, mb, ib, true, -1, new PortCounters()),
            new PortState(3, "c", 7001, mc, ic, true, 0, new PortCounters()),
        ]));
        var ga = new GuestMachine(ma, ia, Ipv4Prefix.Parse("10.1.0.0/24"));
        var gb = new GuestMachine(mb, ib, Ipv4Prefix.Parse("10.1.0.0/24"));
        var gc = new GuestMachine(mc, ic, Ipv4Prefix.Parse("10.20.1.0/24"), Ipv4Address.Parse("10.20.1.1"));
        await node.Engine.AddPortAsync(new GuestPort(1, "a", ga));
        await node.Engine.AddPortAsync(new GuestPort(2, "b", gb));
        await node.Engine.AddPortAsync(new GuestPort(3, "c", gc));

        using var fromPeer = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        fromPeer.Bind(peer);
        using var fromStranger = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        fromStranger.Bind(stranger);
        var target = new IPEndPoint(nodeVtep.Address.ToIPAddress(), nodeVtep.Port);
        var rng = new Random(4789);
        byte[][] templates =
        [
            Frames.Ethernet(ma, MacAddress.Parse("02:00:00:00:0f:01"), 0x88B5), Frames.ArpRequest(MacAddress.Parse("02:00:00:00:0f:02"), Ipv4Address.Parse("10.1.0.99"), ia),
            Frames.Ping(ma, MacAddress.Parse("02:00:00:00:0f:03"), Ipv4Address.Parse("10.1.0.98"), ia), Frames.Ethernet(MacAddress.Broadcast, MacAddress.Parse("02:00:00:00:0f:04"), 0x0800),
            Frames.Ping(mc, MacAddress.Parse("02:00:00:00:0f:05"), Ipv4Address.Parse("10.20.1.77"), ic), // aimed at the l3 guest, sent in VNI 5001
        ];
        var sent = 0;
        var deadline = DateTime.UtcNow.AddSeconds(3);
        var pingDuringFuzz = ga.PingAsync(ib, count: 20, interval: TimeSpan.FromMilliseconds(50));
        while (DateTime.UtcNow < deadline)
        {
            for (int k = 0; k < 64; k++)
            {
                byte[] d;
                switch (rng.Next(6))
                {
                    case 0: d = new byte[rng.Next(0, 120)]; rng.NextBytes(d); break;                          // garbage
                    case 1: d = Frames.Vxlan(5001, templates[rng.Next(templates.Length)], flags: 0); break;       // I flag clear
                    case 2: d = Frames.Vxlan(rng.Next(1, 5000), templates[rng.Next(templates.Length)]); break;    // unknown VNI
                    default:
                        var inner = (byte[])templates[rng.Next(templates.Length)].Clone();
                        for (int f = rng.Next(3); f > 0; f--) inner[rng.Next(inner.Length)] = (byte)rng.Next(256);   // mutate
                        if (rng.Next(3) == 0) inner[6] = (byte)(rng.Next(256) & 0xFE);                           // new source MACs
                        d = Frames.Vxlan(5001, inner[..rng.Next(0, inner.Length + 1)]);                              // truncate
                        break;
                }
                (rng.Next(8) == 0 ? fromStranger : fromPeer).SendTo(d, target);
                sent++;
            }
            await Task.Delay(1);
        }
        var ping = await pingDuringFuzz;

        Assert.True(node.Engine.Running, "the dataplane thread survived");
        Assert.Equal(20, ping.Received); // the guests kept talking throughout

        var snap = node.Holder.Current;
        // The socket's count moves before the classification counters do: read them until they agree or stop
        // changing (the engine has drained its socket), with a deadline, instead of sleeping a guessed time.
        Tally Read()
        {
            var received = Volatile.Read(ref node.Underlay.DatagramsReceived);
            long early = 0;
            foreach (var r in new[] { DropReason.UnknownVni, DropReason.VxlanFlagNotSet, DropReason.Malformed })
                early += node.Engine.Counters.Drop(r);
            long decap = 0, afterDecap = 0, notMember = 0;
            foreach (var net in snap.Networks.Values)
            {
                decap += net.Counters.Decapsulated;
                notMember += net.Counters.Drop(DropReason.NotFromMember);
                afterDecap += net.Counters.TotalDrops() - net.Counters.Drop(DropReason.NotFromMember);
            }
            return new Tally(received, early, notMember, decap, afterDecap);
        }
        var tally = await Settle(Read, t => t.Received == t.Early + t.NotMember + t.Decap);
        var (received, early, notMember, decap, afterDecap) = tally;
        Assert.Equal(0, Interlocked.Read(ref gc.FramesReceived)); // nothing sent in VNI 5001 reached the l3 guest
        Assert.True(received > sent / 2, $"the socket took {received} of {sent}");
        Assert.Equal(received, early + notMember + decap);
        Assert.True(notMember > 0 && early > 0 && afterDecap > 0, $"early {early}, not-member {notMember}, after decap {afterDecap}");
        Assert.True(snap.Networks[5001].Fdb.Count <= 64);

        var text = $"{sent} datagrams sent in 3 s, {received} taken by the socket = {early} dropped before decap (unknown VNI, I flag, malformed) "
                   + $"+ {notMember} not from a member + {decap} decapsulated ({afterDecap} of them dropped after); FDB {snap.Networks[5001].Fdb.Count}/64";
        output.WriteLine(text);
        ReliabilityLog.Record(new("B1", "underlay fuzz, 3 s: random bytes, truncated/mutated VXLAN, I flag clear, unknown VNIs, non-member senders",
            $"engine kept running; guests pinged 20/20 during it; {text}", "per datagram, counted by reason", "n/a (no outage)",
            "0 leaked into the l3 network; 0 of 20 pings lost", "n/a", nameof(A_fuzzed_underlay_never_crashes_the_node_never_leaks_and_every_datagram_lands_in_a_counter)));
    }

    private sealed record Tally(long Received, long Early, long NotMember, long Decap, long AfterDecap);

    /// <summary>
    /// Reads <paramref name="read"/> every 50 ms until <paramref name="agree"/> holds or the value has not changed for
    /// a second (nothing left in flight: the caller's assertions then say what disagrees); at most 15 s.
    /// </summary>
    internal static async Task<T> Settle<T>(Func<T> read, Func<T, bool> agree) where T : notnull
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        var last = read();
        var stableSince = DateTime.UtcNow;
        while (!agree(last) && DateTime.UtcNow < deadline && DateTime.UtcNow - stableSince < TimeSpan.FromSeconds(1))
        {
            await Task.Delay(50);
            var now = read();
            if (!now.Equals(last)) stableSince = DateTime.UtcNow;
            last = now;
        }
        return last;
    }
}
