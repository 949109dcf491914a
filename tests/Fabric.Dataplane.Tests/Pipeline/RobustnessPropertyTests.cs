using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Pipeline;
using static Fabric.Dataplane.Tests.Pipeline.Topology;

namespace Fabric.Dataplane.Tests.Pipeline;

/// <summary>No input crashes the pipeline, and every packet ends with exactly one fate.</summary>
public class RobustnessPropertyTests
{
    private static readonly byte[][] Templates =
    [
        Frames.Ethernet(R21, M1, 0x88B5), Frames.ArpRequest(M1, Ip1, IpR21), Frames.GratuitousArp(Web1, Web1Ip),
        Frames.Ping(VpcGatewayMac, Web1, Web1Ip, WebGw), Frames.Udp(VpcGatewayMac, Web1, Web1Ip, Db1Ip), Frames.Tagged(R21, M1, 9, 0x0800),
        Frames.ArpRequest(Web1, Web1Ip, Web2Ip), Frames.Ping(Web1, VpcGatewayMac, Db1Ip, Web1Ip),
    ];
    private static readonly int[] Ports = [P1, P2, P3, PWeb1, PDb2, PNat, PO20, 77];
    private static readonly int[] Vnis = [Blue, Vpc, Other, 1];

    // DoNotSize: a plain int seed stays within ±100, so the mutations would come from 201 fixed sequences.
    [Property(MaxTest = 500)]
    public void Random_bytes_from_ports_and_underlay_never_throw_and_every_packet_has_one_fate(byte[][] raw, DoNotSize<int> seed)
    {
        var rng = new Random(seed.Item);
        var node = Node();
        node.Run(batch =>
        {
            foreach (var r in raw.Take(32))
            {
                if (r is null) continue;
                if (rng.Next(2) == 0) batch.AddFromPort(Ports[rng.Next(Ports.Length)], r);
                else batch.AddFromUnderlay(rng.Next(2) == 0 ? B : C, rng.Next(2) == 0 ? r : Frames.Vxlan(Vnis[rng.Next(Vnis.Length)], r));
            }
            // Mutations of valid frames reach deeper than random bytes: flip bytes, cut at random, lie in lengths.
            for (int k = 0; k < 32 && !batch.IsFull; k++)
            {
                var f = (byte[])Templates[rng.Next(Templates.Length)].Clone();
                for (int flips = rng.Next(4); flips > 0; flips--) f[rng.Next(f.Length)] = (byte)rng.Next(256);
                f = f[..rng.Next(f.Length + 1)];
                if (rng.Next(2) == 0) batch.AddFromPort(Ports[rng.Next(Ports.Length)], f);
                else batch.AddFromUnderlay(B, Frames.Vxlan(Vnis[rng.Next(Vnis.Length)], f));
            }
        });
        for (int i = 0; i < node.Batch.Count; i++)
        {
            ref var m = ref node.Batch.Meta(i);
            Assert.True(m.Next is PipelineStep.Done or PipelineStep.Dropped, $"packet {i} stopped at {m.Next}");
            Assert.Equal(m.Next == PipelineStep.Dropped, m.Drop != DropReason.None);
        }
    }
}
