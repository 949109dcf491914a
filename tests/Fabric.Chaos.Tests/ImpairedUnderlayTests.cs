using System.Diagnostics;
using Fabric.Chaos.Tests.Faults;
using Fabric.Chaos.Tests.Harness;
using Fabric.Tests.Shared;
using Xunit.Abstractions;

namespace Fabric.Chaos.Tests;

/// <summary>
/// Loss, delay and reordering on every node's underlay (netem's job; this kernel has no sch_netem, so
/// <see cref="Impairment"/> does it with NFQUEUE verdicts): the control plane still converges, the dataplane
/// degrades by about the injected loss and delay and nothing crashes.
/// </summary>
[Collection(ChaosCollection.Name)]
public class ImpairedUnderlayTests(ITestOutputHelper output)
{
    [ChaosFact("ping", "iptables")]
    public async Task With_loss_delay_and_reordering_on_the_underlay_the_control_plane_converges_and_the_dataplane_degrades_without_crashing()
    {
        await using var c = await ChaosCluster.StartAsync(output, nodes: 3);
        var net = await ChaosNetwork.CreateAsync(c, 1, 2, 3);
        var (vm1, vm2, vm3) = (net["vm-1"], net["vm-2"], net["vm-3"]);
        await ChaosNetwork.WaitConnectedAsync(TimeSpan.FromSeconds(60), (vm1, vm2), (vm1, vm3));
        var pids = new int?[] { await c.NodePidAsync(1), await c.NodePidAsync(2), await c.NodePidAsync(3) };

        await using (var clean = PingStream.Start(vm1.Namespace, vm3.Ip))
        {
            await Task.Delay(TimeSpan.FromSeconds(3));
            output.WriteLine($"before: {await clean.StopAsync()}");
        }

        // 5 % loss and 20 ms ± 10 ms on every packet a node sends to another node (heartbeats, gossip, VXLAN):
        // jitter wider than the gap between packets reorders them. The suite's own HTTP to the bridge is spared.
        var settings = new ImpairmentSettings { Loss = 0.05, Delay = TimeSpan.FromMilliseconds(20), Jitter = TimeSpan.FromMilliseconds(10), Reorder = 0.1 };
        var impairments = Enumerable.Range(1, 3).Select(i => Impairment.Start(ChaosCluster.NamespaceOf(i), settings, exclude: ["10.250.0.254/32"])).ToList();
        try
        {
            output.WriteLine($"{ChaosCluster.Stamp()} impaired: {settings}");
            await using var traffic = PingStream.Start(vm1.Namespace, vm3.Ip);
            await traffic.WaitFlowingAsync(5);

            // Control plane under impairment: a new endpoint appears everywhere, and a moved one is found at its new node.
            var clock = Stopwatch.StartNew();
            var ns4 = await c.VmNamespaceAsync("4");
            var vm4 = await c.CreateAsync(1, "/api/v1/endpoints", new { name = "vm-4", network = net.Id, node = "node-3", ip = "10.90.1.44", port = new { kind = "tap", @namespace = ns4 } });
            var mac4 = vm4.Json!["mac"]!.GetValue<string>();
            var appeared = await ChaosCluster.WaitUntilAsync(async () =>
                    await c.FdbEntryAsync(1, net.Id, mac4) is { } a && await c.FdbEntryAsync(2, net.Id, mac4) is { } b
                    && a["location"]!.GetValue<string>() == "vtep:10.250.0.3" && b["location"]!.GetValue<string>() == "vtep:10.250.0.3",
                TimeSpan.FromSeconds(30), "vm-4 (on node-3) in the FDB of node-1 and node-2");
            output.WriteLine($"{ChaosCluster.Stamp()} a new endpoint converged on every node in {appeared.TotalSeconds:0.00} s");

            var move = await c.SendAsync(2, HttpMethod.Put, $"/api/v1/endpoints/{vm2.Id}/node", new { node = "node-3" });
            Assert.True(move.Status == System.Net.HttpStatusCode.OK, $"move: {move}");
            var moved = await ChaosCluster.WaitUntilAsync(async () =>
                    await c.FdbEntryAsync(1, net.Id, vm2.Mac) is { } e && e["location"]!.GetValue<string>() == "vtep:10.250.0.3",
                TimeSpan.FromSeconds(30), "node-1 forwards to vm-2 at node-3");
            await ChaosNetwork.WaitConnectedAsync(TimeSpan.FromSeconds(30), (vm1, vm2));
            output.WriteLine($"{ChaosCluster.Stamp()} a move converged in {moved.TotalSeconds:0.00} s");

            await Task.Delay(TimeSpan.FromSeconds(5)); // a steady stretch of impaired traffic
            var stats = await traffic.StopAsync();
            var counters = impairments.Select(i => i.Counters).ToArray();
            output.WriteLine($"impaired traffic vm-1 → vm-3: {stats}");
            foreach (var (counter, i) in counters.Select((x, i) => (x, i + 1))) output.WriteLine($"node-{i} underlay: {counter}");

            var members = await c.MembersAsync(1);
            var downed = 3 - members.Count(m => m.Status == "up");
            for (var i = 1; i <= 3; i++) Assert.Equal(pids[i - 1], await c.NodePidAsync(i)); // nobody crashed or restarted
            Assert.Equal(0, downed);
            Assert.True(stats.Received > 0 && stats.LossPercent < 40, $"the dataplane should degrade, not stop: {stats}");
            Assert.True(stats.MedianRttMs >= 20, $"the injected delay should show in the RTT: {stats}");

            ReliabilityLog.Record(new ReliabilityLog.Row("F4", $"every node's underlay impaired ({settings}; NFQUEUE, the kernel lacks netem), 3 nodes, ping vm-1 → vm-3 every 20 ms, an endpoint created and one moved meanwhile",
                $"control plane converged; no node downed, crashed or restarted; dataplane degraded by about the injected loss (two directions) and delay: median RTT {stats.MedianRttMs:0.#} ms",
                $"new endpoint everywhere {ReliabilityLog.Seconds(appeared)}, move {ReliabilityLog.Seconds(moved)}", "n/a (no outage)",
                $"{stats.Lost} of {stats.Sent} ({stats.LossPercent:0.#} %; longest silence {stats.LongestSilence.TotalMilliseconds:0} ms)", "0",
                nameof(With_loss_delay_and_reordering_on_the_underlay_the_control_plane_converges_and_the_dataplane_degrades_without_crashing)));
        }
        finally
        {
            foreach (var i in impairments) i.Dispose();
        }
    }
}
