using System.Diagnostics;
using Fabric.Actors.Intent;
using Fabric.Actors.Node;
using static Fabric.Actors.Tests.Node.InProcessCluster;

namespace Fabric.Actors.Tests.Node;

/// <summary>
/// Writes on the side the split brain resolver will down are refused at once; the side it keeps goes on writing.
/// Two of three ActorSystems are terminated abruptly (no leave), which the survivor cannot tell from a partition.
/// </summary>
[Collection("cluster")]
public class MinorityPartitionTests
{
    [Fact]
    public async Task A_node_cut_off_from_the_majority_refuses_writes_at_once_and_reads_its_replica()
    {
        await using var c = new InProcessCluster(3);
        await c.StartAllAsync();
        var blue = ((NetworkCreated)(await c.Accept(new CreateNetwork("blue", 5001, "l2", null))).Events[0]).Network.Id;
        // A node holds only the networks it has endpoints in (conditional monitoring): give node-1 one in blue.
        await c.Accept(new CreateEndpoint("vm", blue, "node-1", new EndpointPortSpec("guest")));
        await Eventually(() => c[0].GetReplicaAsync().Result?.Networks.Count == 1, TimeSpan.FromSeconds(10), "node-1's replica has blue");

        // node-1 is the oldest: the configuration singleton runs here, so without the check its writes would succeed
        await c.CrashAsync(1);
        await c.CrashAsync(2);
        var detected = await Eventually(() => c[0].Node.Cluster.State.Unreachable.Count == 2, TimeSpan.FromSeconds(15), "node-1 sees node-2 and node-3 unreachable");

        var sw = Stopwatch.StartNew();
        var refused = await Assert.ThrowsAsync<ConfigurationUnavailableException>(() => c[0].ExecuteAsync(new CreateNetwork("red", 5002, "l2", null)));
        var took = sw.Elapsed;
        Assert.Equal(WriteQuorum.MinorityPartition, refused.Code);
        Assert.Equal("node-1 reaches 1 of 3 members (node-2, node-3 unreachable); writes are refused until it is back with the majority", refused.Message);
        // At once: decided from the node's own view of the cluster, not by waiting out the ask timeout. Half of it
        // leaves a loaded machine room and still fails a refusal that came from a timed-out ask.
        Assert.True(took < c[0].AskTimeout / 2, $"refused after {took.TotalMilliseconds:F0} ms (ask timeout {c[0].AskTimeout.TotalSeconds:0.#} s)");
        Console.WriteLine($"unreachable seen {detected.TotalSeconds:F1} s after the crash; write refused in {took.TotalMilliseconds:F1} ms");

        // reads: the node's replica still has what was accepted
        Assert.Equal(["blue"], (await c[0].GetReplicaAsync())!.Networks.Select(n => n.Name).ToArray());

        // the resolver downs this side (stable-after 2 s): from then on the node is not a member
        var downed = await Eventually(() => c[0].WriteVerdict().Code == WriteQuorum.NotAMember, TimeSpan.FromSeconds(20), "node-1 downed by the resolver");
        var gone = await Assert.ThrowsAsync<ConfigurationUnavailableException>(() => c[0].ExecuteAsync(new CreateNetwork("green", 5003, "l2", null)));
        Assert.Equal(WriteQuorum.NotAMember, gone.Code);
        Console.WriteLine($"not-a-member {downed.TotalSeconds:F1} s after the write was refused: {gone.Message}");
    }

    [Fact]
    public async Task The_majority_keeps_accepting_writes_while_a_crashed_node_is_unreachable()
    {
        await using var c = new InProcessCluster(3);
        await c.StartAllAsync();
        await c.CrashAsync(2);
        // node-2 (not hosting the singleton) noticing is what matters; the resolver removes node-3 ~2 s later
        var seen = await Eventually(() => c[1].Node.Cluster.State.Unreachable.Count == 1, TimeSpan.FromSeconds(30), "node-2 sees node-3 unreachable");
        Console.WriteLine($"node-2 saw node-3 unreachable after {seen.TotalSeconds:F1} s");
        var sw = Stopwatch.StartNew();
        Assert.True(c[1].WriteVerdict().IsAllowed, c[1].WriteVerdict().Detail);
        await c.Accept(new CreateNetwork("blue", 5001, "l2", null), node: 1); // from node-2 to the singleton on node-1
        await c.Accept(new CreateNetwork("red", 5002, "l2", null), node: 0);
        Console.WriteLine($"two writes accepted by the majority in {sw.ElapsedMilliseconds} ms; node-2 sees {string.Join(", ", c[1].Members().Select(m => $"{m.Name}:{m.Status}{(m.Reachable ? "" : ":unreachable")}"))}");
        Assert.Equal(["blue", "red"], (await c[1].GetConfigurationAsync()).Networks.Select(n => n.Name).Order().ToArray());
    }
}
