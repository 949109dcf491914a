using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Pipeline;
using static Fabric.Dataplane.Tests.Pipeline.Topology;

namespace Fabric.Dataplane.Tests.Pipeline;

/// <summary>Issue 12, drop samples: the last K drops per reason, their first bytes and where they came from.</summary>
public class DropSampleTests
{
    [Fact]
    public void A_drop_is_sampled_with_its_bytes_port_network_and_time()
    {
        var samples = new DropSampler(4);
        var node = new NodeHarness(Snapshot(), samples: samples) { NowMs = 4242 };
        var frame = Frames.Udp(VpcGatewayMac, Web1, Web1Ip, Ipv4Address.Parse("198.51.100.7"));
        Assert.Equal(DropReason.Blackhole, node.FromPort(PWeb1, frame).SingleDrop);

        var s = Assert.Single(samples.Read(null, 10));
        Assert.Equal(DropReason.Blackhole, s.Reason);
        Assert.Equal(PWeb1, s.PortId);
        Assert.Equal(Vpc, s.Vni);
        Assert.Equal(4242, s.AtTickMs);
        Assert.False(s.Encapsulated);
        Assert.Equal(frame.Length, s.Length);
        Assert.Equal(frame, s.Bytes);
    }

    [Fact]
    public void Only_the_first_128_bytes_are_kept_and_the_ring_keeps_the_last_K_newest_first()
    {
        var samples = new DropSampler(3);
        var node = new NodeHarness(Snapshot(), samples: samples);
        for (ushort seq = 1; seq <= 5; seq++)
        {
            node.NowMs = 1000 + seq;
            var big = Frames.Ipv4(VpcGatewayMac, Web1, Web1Ip, Ipv4Address.Parse("198.51.100.7"), IpProtocols.Udp, new byte[300 + seq]);
            Assert.Equal(DropReason.Blackhole, node.FromPort(PWeb1, big).SingleDrop);
        }
        var read = samples.Read(DropReason.Blackhole, 10);
        Assert.Equal([1005L, 1004, 1003], read.Select(r => r.AtTickMs));
        Assert.All(read, r => Assert.Equal(DropSampler.MaxBytes, r.Bytes.Length));
        Assert.Equal([14 + 20 + 305, 14 + 20 + 304, 14 + 20 + 303], read.Select(r => r.Length));
        Assert.Equal(5, samples.Sampled(DropReason.Blackhole));
        Assert.Equal(2, samples.Read(DropReason.Blackhole, 2).Count);
        Assert.Empty(samples.Read(DropReason.NoRoute, 10));
    }

    [Fact]
    public void A_datagram_dropped_before_decapsulation_is_sampled_from_its_vxlan_header_with_the_sender()
    {
        var samples = new DropSampler(2);
        var node = new NodeHarness(Snapshot(), samples: samples);
        var datagram = Frames.Vxlan(999, Frames.Udp(Web1, Web2, Web2Ip, Web1Ip));
        Assert.Equal(DropReason.UnknownVni, node.FromUnderlay(B, datagram).SingleDrop);
        var s = Assert.Single(samples.Read(DropReason.UnknownVni, 5));
        Assert.True(s.Encapsulated);
        Assert.Equal(B, s.Vtep);
        Assert.Equal(-1, s.PortId);
        Assert.Equal(0, s.Vni);
        Assert.Equal(datagram, s.Bytes);
    }

    [Fact]
    public void A_too_big_packet_is_sampled_as_it_came_not_as_the_icmp_answer_written_over_it()
    {
        var samples = new DropSampler(2);
        var node = new NodeHarness(Snapshot(), underlayMtu: 1000, samples: samples);
        var frame = Frames.Ipv4(Web2, Web1, Web1Ip, Web2Ip, IpProtocols.Udp, new byte[1000]);
        var o = node.FromPort(PWeb1, frame);
        Assert.Equal(DropReason.TooBig, o.SingleDrop);
        Assert.Equal(TxKind.LocalPort, o.Single.Kind);
        var s = Assert.Single(samples.Read(null, 5));
        Assert.Equal(DropReason.TooBig, s.Reason);
        Assert.Equal(frame.Length, s.Length);
        Assert.Equal(frame.AsSpan(0, DropSampler.MaxBytes).ToArray(), s.Bytes);
    }

    [Fact]
    public void Without_a_sampler_drops_are_only_counted()
    {
        var node = new NodeHarness(Snapshot());
        Assert.Equal(DropReason.Blackhole, node.FromPort(PWeb1, Frames.Udp(VpcGatewayMac, Web1, Web1Ip, Ipv4Address.Parse("198.51.100.7"))).SingleDrop);
        Assert.Null(node.Pipeline.Samples);
    }

    [Fact]
    public async Task A_reader_never_sees_a_torn_sample_while_the_writer_overwrites_the_ring()
    {
        // Each frame's bytes all equal the low byte of its length: a sample mixing two frames would show it.
        var samples = new DropSampler(2);
        var node = new NodeHarness(Snapshot(), samples: samples);
        var frames = Enumerable.Range(0, 64).Select(k => Enumerable.Repeat((byte)(60 + k), 60 + k).ToArray()).ToArray();
        // At least 1 s of overwriting, and on until the reader has a sample (up to 20 s): a reader that loses every race
        // for a while is allowed (a slot being rewritten is left out), and on a host with CPU steal it did for 1 s.
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var writer = Task.Run(() =>
        {
            // Frames from an unknown port: dropped in the first node, whatever their bytes.
            for (long n = 0; !stop.IsCancellationRequested; n++) node.FromPort(999, frames[n % frames.Length]);
        });
        long seen = 0;
        while (!writer.IsCompleted)
        {
            foreach (var s in samples.Read(DropReason.UnknownPort, 2))
            {
                Assert.Equal(s.Length, s.Bytes.Length);
                Assert.All(s.Bytes, b => Assert.Equal((byte)s.Length, b));
                seen++;
            }
            if (seen > 0 && clock.Elapsed > TimeSpan.FromSeconds(1)) stop.Cancel();
        }
        await writer;
        Assert.True(seen > 0, "the reader never got a sample");
    }
}
