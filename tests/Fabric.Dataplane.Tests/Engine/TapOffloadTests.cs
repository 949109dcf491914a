using Fabric.Dataplane.Offload;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Ports;
using Fabric.Dataplane.Tables;

namespace Fabric.Dataplane.Tests.Engine;

/// <summary>
/// TAPs with IFF_VNET_HDR and TSO, the real kernel TCP stack on both ends: a TCP stream between namespaces on two
/// engines (super-frames segmented into one UDP GSO send, coalesced again towards the receiving TAP) and between two
/// TAPs of one engine (the super-frame passes whole). The kernel checks every byte's checksum on receipt, so a wrong
/// segment or coalesced frame shows as a stalled or failed transfer. Root only, about two seconds.
/// </summary>
public class TapOffloadTests
{
    private static readonly Ipv4Prefix Cidr = Ipv4Prefix.Parse("10.21.0.0/16");
    private static readonly Ipv4Prefix[] Subnets = [Ipv4Prefix.Parse("10.21.1.0/24")];
    private static readonly PlacedEndpoint A = new("a", 0, 1, MacAddress.Parse("02:00:00:00:21:0a"), Ipv4Address.Parse("10.21.1.10"), 0);
    private static readonly PlacedEndpoint B = new("b", 1, 1, MacAddress.Parse("02:00:00:00:21:0b"), Ipv4Address.Parse("10.21.1.11"), 0);
    private static readonly PlacedEndpoint C = new("c", 0, 2, MacAddress.Parse("02:00:00:00:21:0c"), Ipv4Address.Parse("10.21.1.12"), 0);

    [RootFact("iperf3")]
    public async Task A_tcp_stream_crosses_taps_with_offloads_as_super_frames_between_nodes_and_on_one_node()
    {
        EngineNode[] nodes = [new(EngineNode.FreeLoopbackVtep()), new(EngineNode.FreeLoopbackVtep())];
        var tag = $"{Environment.ProcessId % 10000}{Random.Shared.Next(100, 999)}";
        string Ns(PlacedEndpoint e) => $"fabo-{tag}-{e.Name}";
        var taps = new Dictionary<string, TapPort>();
        try
        {
            Fabrics.Publish(nodes, 7101, NetworkKind.L3, Cidr, Subnets, [A, B, C]);
            foreach (var e in new[] { A, B, C })
            {
                var tap = TapPort.Create(e.Port, new TapSettings($"fo{tag}{e.Name}", e.Mac, e.Ip, 24, Subnets[0].FirstHost, Ns(e)));
                Assert.True(tap.VnetHeader);
                taps[e.Name] = tap;
                await nodes[e.Node].Engine.AddPortAsync(tap);
            }
            Assert.NotEqual(0u, taps["a"].Offloads & 0x02); // TSO4 granted (Linux has had it since 2.6.27)

            // Across the underlay twice: node 1 first merges each GRO read's run back into the super-frame (UdpUnderlay),
            // then, with that off, coalesces the segments at the transmit side (PortTransmitter); both must deliver intact.
            foreach (var (server, label, merge) in new[] { (B, "across the underlay", true), (B, "across the underlay, no merge", false), (C, "tap to tap on one engine", true) })
            {
                nodes[1].Underlay.MergeRuns = merge;
                using var srv = Netns.Start(Ns(server), "iperf3", "-s", "-1", "-B", server.Ip.ToString());
                await Task.Delay(300);
                var r = Netns.Exec(Ns(A), "iperf3", "-c", server.Ip.ToString(), "-n", "24M", "-M", "1398", "--connect-timeout", "3000");
                Assert.True(r.Code == 0, $"{label}: {r.Output}\n{srv.Output}");
            }

            // The sender's TAP handed over super-frames; they left node 0 cut into segments with UDP GSO and reached the
            // receiving TAP on node 1 whole again (merged on receive, or coalesced at the TAP); on node 0 the stream from a
            // to c stayed whole end to end.
            Assert.True(taps["a"].GsoFramesRead > 0, "no GSO super-frame read from the sender's TAP");
            Assert.True(nodes[0].Underlay.SuperFramesSegmented > 0, "no super-frame segmented for the underlay");
            Assert.True(!nodes[0].Underlay.GsoEnabled || nodes[0].Underlay.GsoSends > 0, "UDP GSO enabled but never used");
            Assert.True(!nodes[1].Underlay.GroEnabled || nodes[1].Underlay.RunsMerged > 0, "UDP GRO enabled but no run merged on receive");
            Assert.True(nodes[1].Engine.PortTransmit.SuperFrames > 0, "nothing coalesced towards the receiving TAP with merging off");
            Assert.True(taps["b"].GsoFramesWritten > 0, "no super-frame written to the receiving TAP");
            Assert.True(taps["c"].GsoFramesWritten > 0, "no super-frame passed whole from TAP to TAP");
            Assert.Equal(0, nodes[0].Underlay.BadSuperFrames + nodes[0].Engine.PortTransmit.BadSuperFrames);
        }
        finally
        {
            foreach (var n in nodes) n.Dispose();
        }
    }
}
