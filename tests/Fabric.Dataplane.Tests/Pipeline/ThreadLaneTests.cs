using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Events;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Pipeline;
using Fabric.Dataplane.Tables;
using static Fabric.Dataplane.Tests.Pipeline.Topology;

namespace Fabric.Dataplane.Tests.Pipeline;

/// <summary>
/// Issue 11, several dataplane threads on one snapshot: each writes its own lane of every counter, of the event ring and
/// of the drop samples, so concurrent threads lose nothing and readers see the sum. In memory, under a second.
/// </summary>
public class ThreadLaneTests
{
    private const int Rounds = 3000, PerBatch = 64;

    [Fact]
    public void Two_pipelines_on_two_threads_charge_the_same_port_and_network_and_the_sums_are_exact()
    {
        var snapshot = Snapshot();
        var counters = new DataplaneCounters();
        var events = new EventRing(1024);
        var eventLanes = events.AddLanes(1);
        var samples = new DropSampler(8);
        var sampleLanes = samples.AddLanes(1);
        var frame = Frames.Udp(VpcGatewayMac, Web1, Web1Ip, Ipv4Address.Parse("198.51.100.7")); // no route: Blackhole
        using var go = new Barrier(2);
        var threads = new Thread[2];
        for (int k = 0; k < 2; k++)
        {
            var lane = k;
            threads[k] = new Thread(() =>
            {
                var pipeline = new ForwardingPipeline(eventLanes[lane], new LearnFilter(1024, 1000), 0, sampleLanes[lane], lane, counters);
                var batch = new PacketBatch(PerBatch, 2048);
                var tx = new TxBatch(1024);
                go.SignalAndWait();
                for (int r = 0; r < Rounds; r++)
                {
                    batch.Clear();
                    tx.Clear();
                    for (int i = 0; i < PerBatch; i++) batch.AddFromPort(PWeb1, frame);
                    pipeline.Process(snapshot, batch, tx, 1000 + r);
                }
            });
            threads[k].Start();
        }
        foreach (var t in threads) t.Join();

        const long total = 2L * Rounds * PerBatch;
        var port = snapshot.Port(PWeb1)!.Counters;
        var net = snapshot.Networks[Vpc].Counters;
        Assert.Equal(total, port.RxPackets);
        Assert.Equal(total * frame.Length, port.RxBytes);
        Assert.Equal(total, net.RxPackets);
        Assert.Equal(total, port.Drop(DropReason.Blackhole));
        Assert.Equal(total, net.Drop(DropReason.Blackhole));
        Assert.Equal(total, net.TotalDrops());
        Assert.Equal(total, counters.Packets);
        Assert.Equal(2L * Rounds, counters.Batches);
        Assert.Equal(Rounds * PerBatch, counters.Lane(1).Packets);
        // Every drop was sampled once, in its thread's own ring; a read sees both rings, newest first.
        Assert.Equal(total, samples.Sampled(DropReason.Blackhole));
        var read = samples.Read(DropReason.Blackhole, 100);
        Assert.Equal(16, read.Count); // 8 per lane
        Assert.All(read, s => Assert.Equal(1000 + Rounds - 1, s.AtTickMs));
    }

    [Fact]
    public void Events_written_on_two_lanes_are_read_once_each_through_the_first_and_a_write_on_any_lane_wakes_the_reader()
    {
        var ring = new EventRing(1 << 16);
        var lanes = ring.AddLanes(1);
        var wakes = 0;
        ring.OnWrite(() => Interlocked.Increment(ref wakes));
        Assert.True(ring.Arm());
        Assert.True(lanes[1].TryWrite(Event(0, 0)));
        Assert.Equal(1, wakes); // the second lane's write called the reader armed on the first
        Assert.True(ring.TryRead(out _));

        const int n = 20_000;
        var producers = new Thread[2];
        for (int k = 0; k < 2; k++)
        {
            var lane = k;
            producers[k] = new Thread(() => { for (int i = 0; i < n; i++) lanes[lane].TryWrite(Event(lane, i)); });
            producers[k].Start();
        }
        var seen = new HashSet<(int, int)>();
        while (producers.Any(p => p.IsAlive) || ring.Count > 0)
            while (ring.TryRead(out var e)) Assert.True(seen.Add((e.Vni, (int)e.Ip.Value)), $"event {e.Vni}/{e.Ip.Value} read twice");
        Assert.Equal(0, ring.Lost);
        Assert.Equal(2 * n, seen.Count);
    }

    private static DataplaneEvent Event(int lane, int i)
        => new(DataplaneEventKind.MacLearned, lane, default, new Ipv4Address((uint)i), default);
}
