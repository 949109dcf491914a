using System.Diagnostics;
using System.Net;
using Fabric.Actors.Tests.Support;
using Fabric.Chaos.Tests.Harness;
using Fabric.Tests.Shared;
using Xunit.Abstractions;

namespace Fabric.Chaos.Tests;

/// <summary>The SQL store (PostgreSQL, the production store) unavailable for a while under a running cluster.</summary>
[Collection(ChaosCollection.Name)]
public class StoreOutageTests(ITestOutputHelper output)
{
    [ChaosStoreFact]
    public async Task With_the_store_down_writes_fail_fast_with_503_nothing_is_half_written_and_writes_resume_when_it_returns()
    {
        // Listening on every address: the nodes reach it through the bridge (10.250.0.254) from their namespaces.
        await using var pg = await PostgresServer.StartAsync(listen: "*", allowFrom: "10.250.0.0/24");
        var hocon = $"include \"postgres.conf\"\nfabric.store.connection-string = \"Host=10.250.0.254;Port={pg.Port};Database=fabric;Username=fabric;Password=fabric\"\n";
        await using var c = await ChaosCluster.StartAsync(output, nodes: 3, hocon: hocon);
        var net = await ChaosNetwork.CreateAsync(c, 1, 2);
        var (vm1, vm2) = (net["vm-1"], net["vm-2"]);
        await ChaosNetwork.WaitConnectedAsync(TimeSpan.FromSeconds(60), (vm1, vm2));
        await using var traffic = PingStream.Start(vm1.Namespace, vm2.Ip);
        await traffic.WaitFlowingAsync();
        var before = await c.ListingAsync(2);

        await pg.StopAsync(immediate: true); // as if the database host died
        var down = Stopwatch.StartNew();
        output.WriteLine($"{ChaosCluster.Stamp()} PostgreSQL stopped");
        var refused = new List<string>();
        var slowest = TimeSpan.Zero;
        for (var k = 1; down.Elapsed < TimeSpan.FromSeconds(10); k++)
        {
            var name = $"while-down-{k}";
            var sent = Stopwatch.StartNew();
            var answer = await c.SendAsync(1 + k % 3, HttpMethod.Post, "/api/v1/networks", new { name, vni = 9400 + k, kind = "l2" }, TimeSpan.FromSeconds(12));
            if (sent.Elapsed > slowest) slowest = sent.Elapsed;
            Assert.True(answer.Status == HttpStatusCode.ServiceUnavailable, $"{name} with the store down: {answer}");
            Assert.Equal("application/problem+json", answer.ContentType);
            Assert.NotNull(answer.Json?["detail"]);
            refused.Add(name);
            if (k == 1) output.WriteLine($"first refusal: {answer}");
            await Task.Delay(300);
        }
        // Reads stay available (from the replica of a node that holds the network: node-3 has no endpoint in it, so
        // its replica holds nothing of it) and the dataplane does not care.
        Assert.Equal(before, await c.ListingAsync(2));
        output.WriteLine($"{ChaosCluster.Stamp()} {refused.Count} writes refused, slowest answer {slowest.TotalMilliseconds:0} ms");

        await pg.StartAgainAsync();
        var accepted = await ChaosCluster.WaitUntilAsync(async () =>
            (await c.SendAsync(2, HttpMethod.Post, "/api/v1/networks", new { name = "after-outage", vni = 9499, kind = "l2" }, TimeSpan.FromSeconds(12))).Status
                == HttpStatusCode.Created, TimeSpan.FromSeconds(60), "a write accepted after the store returned", 250);
        output.WriteLine($"{ChaosCluster.Stamp()} writes accepted {accepted.TotalSeconds:0.0} s after PostgreSQL came back");
        var stats = await traffic.StopAsync();
        output.WriteLine($"vm-1 → vm-2 during the outage: {stats}");

        var listing = await c.ListingAsync(1);
        Assert.Contains("\"after-outage\"", listing, StringComparison.Ordinal);
        foreach (var name in refused) Assert.DoesNotContain($"\"{name}\"", listing, StringComparison.Ordinal);
        Assert.StartsWith(before.Split('\n')[0].TrimEnd(']'), listing.Split('\n')[0], StringComparison.Ordinal); // what was there is still there
        Assert.True(slowest < TimeSpan.FromSeconds(6), $"a write waited {slowest.TotalSeconds:0.0} s for its refusal");
        Assert.Equal(0, stats.Lost);

        ReliabilityLog.Record(new ReliabilityLog.Row("F6", "PostgreSQL store stopped (immediate) for 10 s under a 3-node cluster, a write every 0.3 s to rotating nodes, ping vm-1 → vm-2",
            $"all {refused.Count} writes refused with 503 problem details (none half-written: none in the listing afterwards); reads served from replicas; traffic unaffected; writes accepted again after the store returned",
            $"slowest refusal {slowest.TotalMilliseconds:0} ms", $"writes accepted {ReliabilityLog.Seconds(accepted)} after the store returned",
            $"{stats.Lost} of {stats.Sent}", "0", nameof(With_the_store_down_writes_fail_fast_with_503_nothing_is_half_written_and_writes_resume_when_it_returns)));
    }
}

/// <summary>A chaos case that also runs its own PostgreSQL (root, the postgresql package).</summary>
public sealed class ChaosStoreFactAttribute : FactAttribute
{
    public ChaosStoreFactAttribute()
    {
        if (Fabric.Nodes.Cli.Netns.Unsupported() is { } why) Skip = why;
        else if (Tools.Find("ping") is null) Skip = "'ping' is not installed (scripts/setup.sh installs it as root)";
        else if (PostgresServer.WhyUnavailable() is { } noPg) Skip = noPg;
    }
}
