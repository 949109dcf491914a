using System.Diagnostics;
using Fabric.Chaos.Tests.Harness;
using Fabric.Tests.Shared;
using Xunit.Abstractions;

namespace Fabric.Chaos.Tests;

/// <summary>Every node restarted in turn (SIGTERM, fabric up brings it back) while traffic and writes go on.</summary>
[Collection(ChaosCollection.Name)]
public class RollingRestartTests(ITestOutputHelper output)
{
    /// <summary>From a new process being ready to its VM answering again: the ports are plugged and the peers relearn it.</summary>
    private static readonly TimeSpan ReplugAllowance = TimeSpan.FromSeconds(5);

    /// <summary>SIGTERM to a new process answering /ready.</summary>
    private static readonly TimeSpan RestartLimit = TimeSpan.FromSeconds(30);

    [ChaosFact("ping")]
    public async Task A_rolling_restart_under_load_keeps_the_configuration_and_bounds_traffic_loss_to_the_restarting_node()
    {
        await using var c = await ChaosCluster.StartAsync(output, nodes: 3);
        var net = await ChaosNetwork.CreateAsync(c, 1, 2, 3);
        var vms = new[] { net["vm-1"], net["vm-2"], net["vm-3"] };
        await ChaosNetwork.WaitConnectedAsync(TimeSpan.FromSeconds(60), (vms[0], vms[1]), (vms[1], vms[2]), (vms[2], vms[0]));

        var acknowledged = new List<string>();
        var rows = new List<string>();
        var otherLost = 0;
        var otherSent = 0;
        var worstOutage = TimeSpan.Zero;
        var worstOther = TimeSpan.Zero;
        var worstDown = TimeSpan.Zero;
        var total = Stopwatch.StartNew();
        for (var node = 1; node <= 3; node++)
        {
            // Traffic between the two other nodes' VMs, and into the restarting node's VM.
            var others = vms.Where(v => v.Node != node).ToArray();
            var mine = vms.Single(v => v.Node == node);
            await using var between = PingStream.Start(others[0].Namespace, others[1].Ip);
            await using var into = PingStream.Start(others[0].Namespace, mine.Ip);
            await between.WaitFlowingAsync();
            await into.WaitFlowingAsync();

            var name = $"before-restart-{node}";
            await c.CreateAsync(1 + node % 3, "/api/v1/networks", new { name, vni = 9500 + node, kind = "l2" });
            acknowledged.Add(name);

            var clock = Stopwatch.StartNew();
            var pid = await c.SignalAsync(node, 15);
            await ChaosCluster.WaitUntilAsync(async () => await c.NodePidAsync(node) is { } p && p != pid && await c.IsReadyAsync(node),
                TimeSpan.FromSeconds(90), $"node-{node} restarted and ready", 250);
            // The process outage, measured by polling the process, not the VM's traffic: the bound below uses it.
            var down = clock.Elapsed;
            await ChaosCluster.WaitUntilAsync(() => c.SeesUpAsync(node % 3 + 1, "node-1", "node-2", "node-3"), TimeSpan.FromSeconds(60), "three members up", 250);
            var back = clock.Elapsed + await ChaosNetwork.WaitConnectedAsync(TimeSpan.FromSeconds(60), (others[0], mine));
            await Task.Delay(500);
            var b = await between.StopAsync();
            var i = await into.StopAsync();
            output.WriteLine($"node-{node}: process back and ready after {down.TotalSeconds:0.0} s, VM reachable after {back.TotalSeconds:0.0} s; between the others: {b}; into it: {i}");
            rows.Add($"node-{node} {ReliabilityLog.Seconds(back)}");
            otherLost += b.Lost;
            otherSent += b.Sent;
            if (i.LongestSilence > worstOutage) worstOutage = i.LongestSilence;
            if (b.LongestSilence > worstOther) worstOther = b.LongestSilence;
            if (down > worstDown) worstDown = down;
            Assert.True(b.LongestSilence < TimeSpan.FromSeconds(2), $"traffic between the other nodes stopped while node-{node} restarted: {b}");
            Assert.True(b.Lost == 0, $"echoes between the other nodes were lost while node-{node} restarted: {b}");
            // Into the restarting node's VM the outage is the restart itself (its TAP lives in the node's process): at
            // most the process's own outage, measured apart from the traffic, plus the time a new process takes to
            // plug its ports and be found by the peers. A VM that stays dark after its node is back fails here.
            Assert.True(i.LongestSilence < down + ReplugAllowance,
                $"the VM on node-{node} was unreachable for {i.LongestSilence.TotalSeconds:0.0} s, more than its process's outage ({down.TotalSeconds:0.0} s) + {ReplugAllowance.TotalSeconds:0} s: {i}");
            // And the restart itself is bounded: fabric up brings a node that exited back at once, not after a crash delay.
            Assert.True(down < RestartLimit, $"node-{node} took {down.TotalSeconds:0.0} s to be back and ready (limit {RestartLimit.TotalSeconds:0} s)");
        }

        var listing = await c.ListingAsync(1);
        Assert.Equal(listing, await c.ListingAsync(2));
        Assert.Equal(listing, await c.ListingAsync(3));
        foreach (var a in acknowledged) Assert.Contains($"\"{a}\"", listing, StringComparison.Ordinal);
        foreach (var v in vms) Assert.Contains(v.Id, listing, StringComparison.Ordinal);

        ReliabilityLog.Record(new ReliabilityLog.Row("F5", "rolling restart of 3 nodes (SIGTERM, fabric up restarts), ping between the other two VMs and into the restarting node's VM every 20 ms, a write before each restart",
            $"configuration intact and identical on every node (all {acknowledged.Count} writes); traffic between the other nodes kept flowing; the restarting node's VM unreachable while its process was down",
            "graceful leave: immediate", $"back and reachable: {string.Join(", ", rows)} (whole roll {ReliabilityLog.Seconds(total.Elapsed)})",
            $"between others {otherLost} of {otherSent} (longest silence {worstOther.TotalMilliseconds:0} ms); into the restarting VM: outage up to {ReliabilityLog.Seconds(worstOutage)} (process down up to {ReliabilityLog.Seconds(worstDown)})",
            "0", nameof(A_rolling_restart_under_load_keeps_the_configuration_and_bounds_traffic_loss_to_the_restarting_node)));
    }
}
