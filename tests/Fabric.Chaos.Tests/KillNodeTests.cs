using Fabric.Chaos.Tests.Harness;
using Fabric.Tests.Shared;
using Xunit.Abstractions;

namespace Fabric.Chaos.Tests;

/// <summary>kill -9 of a node while traffic flows between two others.</summary>
[Collection(ChaosCollection.Name)]
public class KillNodeTests(ITestOutputHelper output)
{
    /// <summary>The documented crash budget (hocon/fabric.conf): downed, removed and withdrawn everywhere within 10 s.</summary>
    private static readonly TimeSpan WithdrawalBound = TimeSpan.FromSeconds(10);

    [ChaosFact("ping")]
    public async Task Kill_9_of_the_oldest_node_keeps_traffic_between_the_others_and_withdraws_its_endpoints_within_the_bound()
    {
        // node-1 is the hardest node to lose: the oldest member, the leader, and the host of the configuration
        // singleton and the shard coordinator. fabric up brings it back after 15 s, past the bound.
        await using var c = await ChaosCluster.StartAsync(output, nodes: 3, restartDelay: TimeSpan.FromSeconds(15));
        var net = await ChaosNetwork.CreateAsync(c, 1, 2, 3);
        var (vm1, vm2, vm3) = (net["vm-1"], net["vm-2"], net["vm-3"]);
        output.WriteLine($"connected in {(await ChaosNetwork.WaitConnectedAsync(TimeSpan.FromSeconds(60), (vm2, vm3), (vm3, vm2), (vm2, vm1))).TotalSeconds:0.0} s");
        var before = await c.ListingAsync(2);

        await using var traffic = PingStream.Start(vm2.Namespace, vm3.Ip);
        await traffic.WaitFlowingAsync();

        var killedAt = DateTime.UtcNow;
        await c.SignalAsync(1, 9);

        // Withdrawn everywhere: neither survivor forwards to node-1's VTEP any more.
        var withdrawn = await ChaosCluster.WaitUntilAsync(async () =>
                await c.FdbEntryAsync(2, net.Id, vm1.Mac) is null && await c.FdbEntryAsync(3, net.Id, vm1.Mac) is null,
            TimeSpan.FromSeconds(30), "vm-1's location withdrawn on node-2 and node-3");
        output.WriteLine($"{ChaosCluster.Stamp()} vm-1 withdrawn everywhere {withdrawn.TotalSeconds:0.0} s after the kill");

        // The survivors take writes again once the singleton has moved (measured: how long writes were refused).
        var writeOpen = await ChaosCluster.WaitUntilAsync(async () =>
            (await c.SendAsync(2, HttpMethod.Post, "/api/v1/networks", new { name = "after-kill", vni = 9100, kind = "l2" }, TimeSpan.FromSeconds(6))).Status
                == System.Net.HttpStatusCode.Created, TimeSpan.FromSeconds(60), "a write accepted by the survivors", 250);
        var writesRefusedFor = DateTime.UtcNow - killedAt;
        output.WriteLine($"{ChaosCluster.Stamp()} writes accepted again {writesRefusedFor.TotalSeconds:0.0} s after the kill");

        // fabric up restarts node-1; it rejoins, re-creates vm-1's TAP and is reachable again.
        await ChaosCluster.WaitUntilAsync(() => c.IsReadyAsync(1), TimeSpan.FromSeconds(90), "node-1 back and ready", 250);
        await ChaosNetwork.WaitConnectedAsync(TimeSpan.FromSeconds(60), (vm2, vm1));
        var recovered = DateTime.UtcNow - killedAt;
        output.WriteLine($"{ChaosCluster.Stamp()} vm-1 reachable again {recovered.TotalSeconds:0.0} s after the kill (restart delay 15 s)");

        var stats = await traffic.StopAsync();
        output.WriteLine($"vm-2 → vm-3 during the whole fault: {stats}");

        // No accepted configuration lost: the restarted node lists what was there before, plus the write made meanwhile.
        var after = await c.ListingAsync(1);
        var survivors = await c.ListingAsync(3);
        Assert.Equal(survivors, after);
        Assert.Contains("after-kill", after, StringComparison.Ordinal);
        foreach (var id in new[] { vm1.Id, vm2.Id, vm3.Id, net.Id }) Assert.Contains(id, after, StringComparison.Ordinal);
        Assert.Equal(before.Split('\n')[1], after.Split('\n')[1]); // endpoints unchanged

        Assert.True(withdrawn <= WithdrawalBound, $"withdrawal took {withdrawn.TotalSeconds:0.0} s, bound {WithdrawalBound.TotalSeconds:0} s");
        // Never stopped: nothing lost, and no silence longer than the other cases allow (2 s). A 1 s bound failed once
        // in CI with 0 of 883 lost: a stalled machine delays replies without the fabric dropping any.
        Assert.Equal(0, stats.Lost);
        Assert.True(stats.LongestSilence < TimeSpan.FromSeconds(2), $"traffic between the survivors stopped: {stats}");

        ReliabilityLog.Record(new ReliabilityLog.Row("F1", "kill -9 of node-1 (oldest: leader, configuration singleton) of 3, ping vm-2 → vm-3 every 20 ms",
            $"traffic between the others never stopped; vm-1 withdrawn on both survivors; writes refused (503) until the singleton moved, then accepted; node-1 restarted by fabric up after 15 s, rejoined, vm-1 reachable; listings identical",
            $"withdrawn everywhere {ReliabilityLog.Seconds(withdrawn)} (bound 10 s); writes back {ReliabilityLog.Seconds(writesRefusedFor)}",
            $"vm-1 reachable {ReliabilityLog.Seconds(recovered)} after the kill (15 s of it the restart delay)",
            $"{stats.Lost} of {stats.Sent} (longest silence {stats.LongestSilence.TotalMilliseconds:0} ms)", "0",
            nameof(Kill_9_of_the_oldest_node_keeps_traffic_between_the_others_and_withdraws_its_endpoints_within_the_bound)));
    }
}
