using Fabric.Nodes.Http;

namespace Fabric.Nodes.Tests.Http;

/// <summary>
/// The round trip probe asks a bounded number of peers per round (issue 10: the control plane's steady work must not
/// grow with the fabric; asking every member every 5 s was 200 round trips a second per node at 1,000 nodes).
/// </summary>
public sealed class PeerProbeTests
{
    [Fact]
    public void A_small_cluster_probes_every_peer_each_round()
    {
        var cursor = 0;
        Assert.Equal(["a", "b"], FabricMetrics.NextPeers(["a", "b"], ref cursor, FabricMetrics.PeersPerProbe));
    }

    [Fact]
    public void A_large_cluster_probes_k_peers_a_round_and_every_peer_in_turn()
    {
        var peers = Enumerable.Range(0, 999).Select(i => $"node-{i}").ToArray();
        var cursor = 0;
        var seen = new HashSet<string>();
        for (var round = 0; round < 250; round++)
        {
            var asked = FabricMetrics.NextPeers(peers, ref cursor, FabricMetrics.PeersPerProbe);
            Assert.Equal(FabricMetrics.PeersPerProbe, asked.Count);
            seen.UnionWith(asked);
        }
        Assert.Equal(peers.Length, seen.Count); // 250 rounds × 4 cover all 999
    }
}
