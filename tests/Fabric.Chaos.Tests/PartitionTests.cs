using System.Diagnostics;
using System.Net;
using Fabric.Chaos.Tests.Faults;
using Fabric.Chaos.Tests.Harness;
using Fabric.Tests.Shared;
using Xunit.Abstractions;

namespace Fabric.Chaos.Tests;

/// <summary>
/// Partitions: the split brain resolver (keep-majority) downs the minority, which restarts (fabric up), rejoins
/// once the network heals and relearns; no write acknowledged by anyone is lost, and writes the minority cannot
/// make are refused with a problem, never dropped in silence.
/// </summary>
[Collection(ChaosCollection.Name)]
public class PartitionTests(ITestOutputHelper output)
{
    [ChaosFact("ping")]
    public async Task A_node_whose_link_is_cut_is_downed_and_after_the_link_returns_it_restarts_rejoins_and_relearns()
    {
        await using var c = await ChaosCluster.StartAsync(output, nodes: 3);
        var net = await ChaosNetwork.CreateAsync(c, 1, 2, 3);
        var (vm1, vm2, vm3) = (net["vm-1"], net["vm-2"], net["vm-3"]);
        await ChaosNetwork.WaitConnectedAsync(TimeSpan.FromSeconds(60), (vm1, vm2), (vm1, vm3));
        await using var traffic = PingStream.Start(vm1.Namespace, vm2.Ip);
        await traffic.WaitFlowingAsync();

        var clock = Stopwatch.StartNew();
        await using var cut = await LinkCut.CutAsync(c, 3);
        var removed = await ChaosCluster.WaitUntilAsync(() => c.SeesUpAsync(1, "node-1", "node-2"), TimeSpan.FromSeconds(30), "node-3 downed and removed by the majority");
        output.WriteLine($"{ChaosCluster.Stamp()} majority without node-3 after {removed.TotalSeconds:0.0} s");
        await ChaosCluster.WaitUntilAsync(async () => await c.FdbEntryAsync(1, net.Id, vm3.Mac) is null, TimeSpan.FromSeconds(10), "vm-3 withdrawn on node-1");
        var withdrawnAfter = clock.Elapsed;

        // The majority keeps taking writes while node-3 is away.
        var during = await c.CreateAsync(1, "/api/v1/networks", new { name = "during-cut", vni = 9201, kind = "l2" });
        // node-3, alone, downs itself (exit 1) and fabric up restarts it; it cannot rejoin until the link is back.
        await ChaosCluster.WaitUntilAsync(() => Task.FromResult(c.Log.Contains("node-3 exited (code 1)", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(30), "node-3 downs itself and exits 1");
        await Task.Delay(TimeSpan.FromSeconds(3));

        await cut.RestoreAsync();
        output.WriteLine($"{ChaosCluster.Stamp()} link back");
        var rejoined = await ChaosCluster.WaitUntilAsync(async () => await c.SeesUpAsync(1, "node-1", "node-2", "node-3") && await c.IsReadyAsync(3),
            TimeSpan.FromSeconds(60), "node-3 back in the cluster and ready", 250);
        var relearned = rejoined + await ChaosNetwork.WaitConnectedAsync(TimeSpan.FromSeconds(60), (vm1, vm3), (vm3, vm2));
        output.WriteLine($"{ChaosCluster.Stamp()} rejoined {rejoined.TotalSeconds:0.0} s and relearned {relearned.TotalSeconds:0.0} s after the link came back");

        var stats = await traffic.StopAsync();
        output.WriteLine($"vm-1 → vm-2 during the whole fault: {stats}");
        var listing = await c.ListingAsync(1);
        Assert.Equal(listing, await c.ListingAsync(3));
        Assert.Contains(during.Id, listing, StringComparison.Ordinal);
        Assert.True(stats.LongestSilence < TimeSpan.FromSeconds(2), $"traffic on the majority side stopped: {stats}");

        ReliabilityLog.Record(new ReliabilityLog.Row("F2", "node-3's only link cut (of 3), ping vm-1 → vm-2 every 20 ms; link restored after node-3 downed itself",
            "majority removes node-3 and withdraws vm-3; majority accepts writes; node-3 downs itself (exit 1), fabric up restarts it, it rejoins after the link returns, relearns (vm-1 ↔ vm-3 ping), lists the write made without it",
            $"removed {ReliabilityLog.Seconds(removed)}, vm-3 withdrawn {ReliabilityLog.Seconds(withdrawnAfter)}",
            $"rejoined {ReliabilityLog.Seconds(rejoined)}, reachable {ReliabilityLog.Seconds(relearned)} after the link returned",
            $"{stats.Lost} of {stats.Sent} on the majority side (longest silence {stats.LongestSilence.TotalMilliseconds:0} ms)", "0",
            nameof(A_node_whose_link_is_cut_is_downed_and_after_the_link_returns_it_restarts_rejoins_and_relearns)));
    }

    [ChaosFact("ping")]
    public async Task A_two_two_split_with_a_fifth_node_downs_the_minority_refuses_its_writes_and_loses_no_acknowledged_write()
    {
        // Four nodes split 2-2 and the fifth sides with {3,4}: {1,2} is the minority although it holds the oldest
        // node (leader, configuration singleton): keep-majority, not keep-oldest.
        await using var c = await ChaosCluster.StartAsync(output, nodes: 5);
        var net = await ChaosNetwork.CreateAsync(c, 1, 3, 4);
        var (vm1, vm3, vm4) = (net["vm-1"], net["vm-3"], net["vm-4"]);
        await ChaosNetwork.WaitConnectedAsync(TimeSpan.FromSeconds(60), (vm3, vm4), (vm4, vm1));
        await using var traffic = PingStream.Start(vm3.Namespace, vm4.Ip);
        await traffic.WaitFlowingAsync();

        var acknowledged = new List<string>();
        var refused = new List<(string Name, string Answer)>();
        var clock = Stopwatch.StartNew();
        await using var split = await Partition.SplitAsync(c, [1, 2], [3, 4, 5]);

        // Write to both sides every half second until the majority has settled and takes writes again.
        TimeSpan? majoritySettled = null, lastMajorityRefusal = null;
        var k = 0;
        while (clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            k++;
            foreach (var (node, side) in new[] { (1, "minority"), (3, "majority") })
            {
                var name = $"{side}-{k}";
                ChaosCluster.Answer answer;
                try { answer = await c.SendAsync(node, HttpMethod.Post, "/api/v1/networks", new { name, vni = 9300 + 2 * k + (node == 1 ? 0 : 1), kind = "l2" }, TimeSpan.FromSeconds(12)); }
                catch (TaskCanceledException) { throw new Xunit.Sdk.XunitException($"node-{node} did not answer a write within 12 s: a write must be refused, not left hanging"); }
                catch (HttpRequestException e)
                {
                    // The downed minority node is restarting: nothing listens, the client is told at once.
                    refused.Add((name, $"no connection: {e.Message}"));
                    if (node == 3) lastMajorityRefusal = clock.Elapsed;
                    continue;
                }
                if (answer.Status == HttpStatusCode.Created) acknowledged.Add(name);
                else
                {
                    Assert.True(answer.Status == HttpStatusCode.ServiceUnavailable, $"{name} on node-{node}: {answer}");
                    Assert.Contains("application/problem+json", answer.ContentType ?? "", StringComparison.Ordinal);
                    refused.Add((name, answer.Body));
                    if (node == 3) lastMajorityRefusal = clock.Elapsed;
                }
            }
            if (majoritySettled is null && await c.SeesUpAsync(3, "node-3", "node-4", "node-5")) majoritySettled = clock.Elapsed;
            if (majoritySettled is not null && acknowledged.Contains($"majority-{k}") && clock.Elapsed > majoritySettled + TimeSpan.FromSeconds(2)) break;
            await Task.Delay(500);
        }
        Assert.True(majoritySettled is not null, "the majority never removed the minority");
        output.WriteLine($"{ChaosCluster.Stamp()} majority alone after {majoritySettled!.Value.TotalSeconds:0.0} s; acknowledged [{string.Join(", ", acknowledged)}]; refused:\n  "
            + string.Join("\n  ", refused.Select(r => $"{r.Name}: {r.Answer}")));
        Assert.Contains(refused, r => r.Name.StartsWith("minority-", StringComparison.Ordinal));
        Assert.Contains(acknowledged, a => a.StartsWith("majority-", StringComparison.Ordinal));

        await split.HealAsync();
        var rejoined = await ChaosCluster.WaitUntilAsync(async () =>
                await c.SeesUpAsync(3, "node-1", "node-2", "node-3", "node-4", "node-5") && await c.IsReadyAsync(1) && await c.IsReadyAsync(2),
            TimeSpan.FromSeconds(90), "the minority back in the cluster", 250);
        var relearned = rejoined + await ChaosNetwork.WaitConnectedAsync(TimeSpan.FromSeconds(60), (vm4, vm1), (vm1, vm3));
        output.WriteLine($"{ChaosCluster.Stamp()} all five back {rejoined.TotalSeconds:0.0} s after healing; vm-1 reachable {relearned.TotalSeconds:0.0} s");
        var stats = await traffic.StopAsync();
        output.WriteLine($"vm-3 → vm-4 during the whole fault: {stats}");

        // Every node lists the same configuration: every acknowledged write, none of the refused ones.
        var listing = await c.ListingAsync(1);
        for (var i = 2; i <= 5; i++) Assert.Equal(listing, await c.ListingAsync(i));
        foreach (var a in acknowledged) Assert.Contains($"\"{a}\"", listing, StringComparison.Ordinal);
        foreach (var (name, _) in refused) Assert.DoesNotContain($"\"{name}\"", listing, StringComparison.Ordinal);
        Assert.True(stats.LongestSilence < TimeSpan.FromSeconds(2), $"traffic on the majority side stopped: {stats}");

        var minorityRefused = refused.Count(r => r.Name.StartsWith("minority-", StringComparison.Ordinal));
        var minorityUnconnected = refused.Count(r => r.Name.StartsWith("minority-", StringComparison.Ordinal) && r.Answer.StartsWith("no connection", StringComparison.Ordinal));
        ReliabilityLog.Record(new ReliabilityLog.Row("F3", "2-2 split of 4 nodes + a fifth on one side ({1,2} | {3,4,5}; node-1 oldest), writes to both sides every 0.5 s, ping vm-3 → vm-4",
            $"{{1,2}} downed and restarted, rejoin after healing; {minorityRefused} minority writes refused ({minorityRefused - minorityUnconnected} with 503 problems, {minorityUnconnected} by a restarting node not listening), {acknowledged.Count} writes acknowledged (either side, before the split was noticed too), all present on all 5 nodes afterwards, no refused write present",
            $"majority alone {ReliabilityLog.Seconds(majoritySettled.Value)}; majority writes refused until {ReliabilityLog.Seconds(lastMajorityRefusal ?? TimeSpan.Zero)}",
            $"all 5 Up {ReliabilityLog.Seconds(rejoined)} after healing, vm-1 reachable {ReliabilityLog.Seconds(relearned)}",
            $"{stats.Lost} of {stats.Sent} on the majority side (longest silence {stats.LongestSilence.TotalMilliseconds:0} ms)", "0",
            nameof(A_two_two_split_with_a_fifth_node_downs_the_minority_refuses_its_writes_and_loses_no_acknowledged_write)));
    }
}
