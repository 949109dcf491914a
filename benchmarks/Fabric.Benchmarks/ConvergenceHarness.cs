using System.Diagnostics;
using Akka.Actor;
using Fabric.Actors.Cluster;
using Fabric.Actors.Intent;
using Fabric.Actors.Locations;
using Fabric.Actors.Node;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Tables;

namespace Fabric.Benchmarks;

/// <summary>
/// How fast a change reaches every node's forwarding snapshot: three Fabric nodes in this process (127.0.0.1, own
/// ports, shared SQLite), dataplane off (snapshots are still built and published). Two measurements of N each:
///  - config moves: PUT-equivalent MoveEndpoint sent to node-1 → the endpoint's MAC at its new location in all
///    three snapshots (journal write, announcement, replicas, VTEP actors, snapshot swap);
///  - gossip moves: a MAC announced at a new node (what a gratuitous ARP does) → all three snapshots.
/// The clock starts when the command is sent and stops when the last snapshot shows it (polled every ~50 µs).
/// </summary>
public static class ConvergenceHarness
{
    public static async Task<int> Run(string[] args)
    {
        var moves = ArgInt(args, "--moves", 1000);
        var dir = Path.Combine(Path.GetTempPath(), $"fabric-convergence-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        var seed = NodeConfig.FreeTcpPort();
        var nodes = new List<FabricRuntime>();
        try
        {
            for (int i = 0; i < 3; i++)
            {
                var cfg = new NodeConfig
                {
                    Port = i == 0 ? seed : NodeConfig.FreeTcpPort(),
                    SeedNodes = [$"akka.tcp://{FabricNode.SystemName}@127.0.0.1:{seed}"],
                    DataDir = dir,
                    NodeName = $"node-{i + 1}",
                    Extra = $"fabric.vtep.address = \"127.0.9.{i + 1}\"\nfabric.dataplane.enabled = off",
                };
                nodes.Add(FabricRuntime.Start(cfg.Build()));
            }
            var sw = Stopwatch.StartNew();
            while (!nodes.All(n => n.IsReady && n.Members().Count(m => m.Status == "up") == 3))
            {
                if (sw.Elapsed > TimeSpan.FromSeconds(60)) throw new TimeoutException("cluster did not form");
                await Task.Delay(50);
            }
            Console.WriteLine($"cluster of 3 up in {sw.Elapsed.TotalSeconds:F1} s; {moves} moves each");

            var net = (NetworkCreated)((CommandAccepted)await nodes[0].ExecuteAsync(new CreateNetwork("bench", 7001, "l3", "10.20.0.0/16"))).Events[0];
            var sub = (SubnetCreated)((CommandAccepted)await nodes[0].ExecuteAsync(new CreateSubnet(net.Network.Id, "s", "10.20.0.0/20"))).Events[0];
            var ep = ((EndpointCreated)((CommandAccepted)await nodes[0].ExecuteAsync(
                new CreateEndpoint("mover", net.Network.Id, "node-1", new EndpointPortSpec("guest"), Subnet: sub.Subnet.Id))).Events[0]).Endpoint;
            await Until(nodes, n => At(n, 7001, ep.Mac) is not null, TimeSpan.FromSeconds(10));

            var config = new List<double>();
            for (int k = 1; k <= moves; k++)
            {
                var target = k % 3;
                var t = Stopwatch.GetTimestamp();
                var r = await nodes[0].ExecuteAsync(new MoveEndpoint(ep.Id, $"node-{target + 1}"));
                if (r is not CommandAccepted) throw new InvalidOperationException($"move {k}: {r}");
                var vtep = nodes[target].Self.Vtep;
                await Until(nodes, n => At(n, 7001, ep.Mac) is { } l && (n.Self.Vtep == vtep ? l.IsLocal : l.IsRemote && l.Vtep == vtep), TimeSpan.FromSeconds(10));
                config.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            }
            Report("config moves (MoveEndpoint → every snapshot)", config);

            // Gossip moves: an l2 network whose MACs are announced by the node that sees them, one move per MAC
            // (duplicate detection would rightly freeze a MAC moved a thousand times).
            await nodes[0].ExecuteAsync(new CreateNetwork("l2bench", 5001, "l2", null));
            await Until(nodes, n => n.Snapshots.Current.TryGetNetwork(5001, out _), TimeSpan.FromSeconds(10));
            var gossip = new List<double>();
            for (int k = 1; k <= moves; k++)
            {
                var mac = new MacAddress(0x02_aa_00_00_00_00UL | (uint)k);
                var from = nodes[k % 3];
                var to = nodes[(k + 1) % 3];
                from.Locations.Tell(new AnnounceLocation(new EndpointLocation(5001, mac, default, from.Self.Vtep, from.Self.Name, 0, LocationOrigin.Learned)));
                await Until(nodes.Where(n => n != from).ToList(), n => At(n, 5001, mac) is { IsRemote: true } l && l.Vtep == from.Self.Vtep, TimeSpan.FromSeconds(10));
                var t = Stopwatch.GetTimestamp();
                to.Locations.Tell(new AnnounceLocation(new EndpointLocation(5001, mac, default, to.Self.Vtep, to.Self.Name, 0, LocationOrigin.GratuitousArp)));
                await Until(nodes.Where(n => n != to).ToList(), n => At(n, 5001, mac) is { IsRemote: true } l && l.Vtep == to.Self.Vtep, TimeSpan.FromSeconds(10));
                gossip.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            }
            Report("gossip moves (announce at new node → every other snapshot)", gossip);
            return 0;
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(dir, true); } catch (IOException) { }
        }
    }

    private static Location? At(FabricRuntime n, int vni, MacAddress mac)
        => n.Snapshots.Current.TryGetNetwork(vni, out var net) && net.Fdb.TryGet(mac, out var e) ? e.Location : null;

    private static async Task Until(IReadOnlyList<FabricRuntime> nodes, Func<FabricRuntime, bool> ok, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        var spin = new SpinWait();
        while (!nodes.All(ok))
        {
            if (sw.Elapsed > timeout) throw new TimeoutException("a node did not converge");
            if (spin.NextSpinWillYield) await Task.Yield();
            spin.SpinOnce();
        }
    }

    private static void Report(string what, List<double> ms)
    {
        ms.Sort();
        double P(double p) => ms[Math.Min(ms.Count - 1, (int)Math.Ceiling(p * ms.Count) - 1)];
        Console.WriteLine($"{what}: n={ms.Count} median {P(0.5):F1} ms, p90 {P(0.9):F1} ms, p99 {P(0.99):F1} ms, max {ms[^1]:F1} ms");
    }

    private static int ArgInt(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out var v) ? v : fallback;
    }
}
