using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Pipeline;
using Fabric.Dataplane.Ports;
using Fabric.Dataplane.Ports.Guest;
using Fabric.Dataplane.Tables;
using Fabric.Tests.Shared;
using Xunit.Abstractions;

namespace Fabric.Dataplane.Tests.Engine;

/// <summary>
/// MAC flooding from one port at full speed (random source MACs, as macof does) against a live engine: the VNI's
/// FDB limit holds (frames from sources it cannot learn are dropped and counted, not flooded), and the other ports
/// of that VNI and another VNI keep forwarding.
/// </summary>
public class MacFloodTests(ITestOutputHelper output)
{
    /// <summary>A port that offers a full batch of frames with fresh random source MACs every time it is polled.</summary>
    private sealed class FloodingPort(int id) : IDataplanePort
    {
        private readonly Random _rng = new(7);
        private readonly byte[] _frame = Frames.Ethernet(MacAddress.Broadcast, MacAddress.Zero, 0x88B5);
        public long Offered;
        public volatile bool On = true;
        public int Id => id;
        public string Name => "flooder";
        public int PollFd => -1;
        public Action? Wake { get; set; }
        public int Receive(PacketBatch batch, int max)
        {
            if (!On) return 0;
            var n = 0;
            while (n < max && !batch.IsFull)
            {
                new MacAddress((ulong)_rng.NextInt64(1, 1L << 48) & ~0x0100_0000_0000UL).Write(_frame.AsSpan(6));
                batch.AddFromPort(Id, _frame);
                n++;
            }
            Offered += n;
            Wake?.Invoke(); // always more to give: keep the engine polling
            return n;
        }
        public bool Send(ReadOnlySpan<byte> frame) => true;
        public void Dispose() => On = false;
    }

    [Fact]
    public async Task Mac_flooding_from_one_port_is_contained_by_the_fdb_limit_and_everything_else_keeps_forwarding()
    {
        using var node = new EngineNode(EngineNode.FreeLoopbackVtep());
        var remote = new VtepEndpoint(Ipv4Address.Parse("127.0.0.9"), 9); // a member nobody listens on: floods go nowhere
        var ma = MacAddress.Parse("02:00:00:00:f1:0a"); var mb = MacAddress.Parse("02:00:00:00:f1:0b");
        var mc = MacAddress.Parse("02:00:00:00:f2:0a"); var md = MacAddress.Parse("02:00:00:00:f2:0b");
        var blue = new NetworkStateBuilder(5001, "blue", NetworkKind.L2) { LocalVtep = node.Vtep, FdbCapacity = 3 }
            .Member(remote).Endpoint(ma, Ipv4Address.Parse("10.1.0.10"), Location.Local(1)).Endpoint(mb, Ipv4Address.Parse("10.1.0.11"), Location.Local(2))
            .LocalPort(9);
        var green = new NetworkStateBuilder(6001, "green", NetworkKind.L2) { LocalVtep = node.Vtep }
            .Endpoint(mc, Ipv4Address.Parse("10.2.0.10"), Location.Local(3)).Endpoint(md, Ipv4Address.Parse("10.2.0.11"), Location.Local(4));
        // The flooder's own port has source check off (a bridge behind it), and one learned MAC fills the FDB to its limit.
        var blueState = blue.Build([new FdbEntry(MacAddress.Parse("02:00:00:00:f1:99"), Location.Local(9), EntrySource.Learned, 0, 0)]);
        Assert.True(blueState.Fdb.IsFull);
        node.Holder.Publish(ForwardingSnapshot.Create(node.Vtep, [blueState, green.Build()],
        [
            new PortState(1, "a", 5001, ma, Ipv4Address.Parse("10.1.0.10"), true, -1, new PortCounters()),
            new PortState(2, "b", 5001, mb, Ipv4Address.Parse("10.1.0.11"), true, -1, new PortCounters()),
            new PortState(3, "c", 6001, mc, Ipv4Address.Parse("10.2.0.10"), true, -1, new PortCounters()),
            new PortState(4, "d", 6001, md, Ipv4Address.Parse("10.2.0.11"), true, -1, new PortCounters()),
            new PortState(9, "flooder", 5001, MacAddress.Parse("02:00:00:00:f1:99"), default, false, -1, new PortCounters()),
        ]));
        var guests = new[]
        {
            new GuestMachine(ma, Ipv4Address.Parse("10.1.0.10"), Ipv4Prefix.Parse("10.1.0.0/24")),
            new GuestMachine(mb, Ipv4Address.Parse("10.1.0.11"), Ipv4Prefix.Parse("10.1.0.0/24")),
            new GuestMachine(mc, Ipv4Address.Parse("10.2.0.10"), Ipv4Prefix.Parse("10.2.0.0/24")),
            new GuestMachine(md, Ipv4Address.Parse("10.2.0.11"), Ipv4Prefix.Parse("10.2.0.0/24")),
        };
        for (int i = 0; i < 4; i++) await node.Engine.AddPortAsync(new GuestPort(i + 1, $"g{i}", guests[i]));
        var flooder = new FloodingPort(9);
        await node.Engine.AddPortAsync(flooder);
        var flooding = System.Diagnostics.Stopwatch.StartNew();

        await Task.Delay(500); // let the flood run
        var sameVni = guests[0].PingAsync(Ipv4Address.Parse("10.1.0.11"), count: 10, interval: TimeSpan.FromMilliseconds(20));
        var otherVni = guests[2].PingAsync(Ipv4Address.Parse("10.2.0.11"), count: 10, interval: TimeSpan.FromMilliseconds(20));
        Assert.Equal(10, (await sameVni).Received);
        Assert.Equal(10, (await otherVni).Received);
        flooder.On = false;
        var floodTime = flooding.Elapsed;

        var c = node.Holder.Current.Networks[5001].Counters;
        var fdbFull = c.Drop(DropReason.FdbFull);
        Assert.True(flooder.Offered > 10_000, $"offered {flooder.Offered}");
        Assert.True(fdbFull > flooder.Offered * 9 / 10, $"FdbFull drops {fdbFull} of {flooder.Offered} offered");
        Assert.True(c.Flooded < 100, $"flooded {c.Flooded}: the storm must not be replicated");
        Assert.Equal(3, node.Holder.Current.Networks[5001].Fdb.Count);
        Assert.True(node.Engine.Events.Count < node.Engine.Events.Capacity, "no learning storm reached the actors");

        var rate = flooder.Offered / floodTime.TotalSeconds;
        output.WriteLine($"offered {flooder.Offered} in {floodTime.TotalMilliseconds:F0} ms ({rate:F0}/s), FdbFull drops {fdbFull}, flooded {c.Flooded}");
        ReliabilityLog.Record(new("B4", "MAC flooding: one port sends random source MACs at full speed into a VNI whose FDB is full",
            $"FDB held at its limit (3); {flooder.Offered} frames offered in {ReliabilityLog.Seconds(floodTime)} ({rate / 1e6:0.00} M/s), {fdbFull} dropped as FdbFull, {c.Flooded} flooded; pings same VNI 10/10, other VNI 10/10",
            "per frame, counted (FdbFull)", "n/a (no outage)", "0 of 20 pings of the other ports lost; 0 leaked", "n/a",
            nameof(Mac_flooding_from_one_port_is_contained_by_the_fdb_limit_and_everything_else_keeps_forwarding)));
    }
}
