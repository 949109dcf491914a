using System.Diagnostics;
using System.Collections.Immutable;
using System.Globalization;
using Fabric.Actors.Intent;
using Fabric.Actors.Locations;
using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Engine;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Ports;
using Fabric.Dataplane.Ports.Guest;
using Fabric.Dataplane.Tables;
using DpKind = Fabric.Dataplane.Tables.NetworkKind;
using IntentKind = Fabric.Actors.Intent.NetworkKind;

namespace Fabric.Benchmarks;

/// <summary>
/// Memory per endpoint and per network in each structure a node holds (issue 10), built in process: N endpoints in
/// M = N/100 networks (l2 and l3 alternating, as the scale harness creates them), spread round robin over 3 nodes,
/// seen from node-1, which holds every network and hosts a third of the endpoints. Each figure is the retained
/// heap (GC.GetTotalMemory(true) after minus before, the structure kept alive) divided by N or M. Also: what one
/// change costs the snapshot publisher, and the dataplane thread's CPU with a third of the endpoints as idle guests.
/// <code>dotnet run -c Release --project benchmarks/Fabric.Benchmarks -- --memory [--sizes 1000,10000,100000] [--idle-seconds 5]</code>
/// </summary>
public static class MemoryHarness
{
    private static readonly VtepEndpoint[] Vteps =
        [new(Ipv4Address.Parse("127.0.0.1")), new(Ipv4Address.Parse("127.0.0.2")), new(Ipv4Address.Parse("127.0.0.3"))];

    public static int Run(string[] args)
    {
        var sizes = Arg(args, "--sizes")?.Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray() ?? [1_000, 10_000, 100_000];
        var idleSeconds = int.Parse(Arg(args, "--idle-seconds") ?? "5", CultureInfo.InvariantCulture);
        Console.WriteLine("Node-1 of 3 holds all M networks and hosts N/3 endpoints as guests. Per network: the structure with the");
        Console.WriteLine("networks and no endpoint, divided by M. Per endpoint: what N endpoints add to it, divided by N.");
        Console.WriteLine();
        Console.WriteLine("| N endpoints | M networks | structure | retained bytes | per network | per endpoint |");
        Console.WriteLine("|---:|---:|---|---:|---:|---:|");
        var installs = new List<string>();
        var idle = new List<string>();
        foreach (var n in sizes)
        {
            var m = Math.Max(1, n / 100);
            var (networks, endpoints) = Shape(n, m);
            var local = endpoints.Where(e => e.Node == "node-1").ToArray();
            void Row(string what, long empty, long full, int per) => Console.WriteLine(
                $"| {n:N0} | {m:N0} | {what} | {full:N0} | {(empty < 0 ? "" : (empty / (double)m).ToString("N0", CultureInfo.InvariantCulture))} | {(full - Math.Max(0, empty)) / (double)per:N0} |");

            // The node's projection of the configuration: networks, subnets, endpoints and their indexes.
            var (c0, configEmpty) = Retained(() => Configure(networks, []));
            GC.KeepAlive(c0);
            c0 = null;
            var (c1, configFull) = Retained(() => Configure(networks, endpoints));
            Row("configuration (FabricConfiguration, N EndpointCreated applied)", configEmpty, configFull, n);
            GC.KeepAlive(c1);
            c1 = null;

            // The dataplane's per-VNI state: FDB, neighbours, route tables, flood lists, members, counters.
            var (empty, stateEmpty) = Retained(() => BuildStates(networks, []));
            GC.KeepAlive(empty);
            empty = null;
            var (states, stateFull) = Retained(() => BuildStates(networks, endpoints));
            Row("dataplane NetworkState (FDB, neighbours, routes, members, counters)", stateEmpty, stateFull, n);

            // The local ports (PortState + counters) and the snapshot that composes them with the networks.
            var vniOf = networks.OfType<NetworkCreated>().ToDictionary(x => x.Network.Id, x => x.Network.Vni);
            var (ports, portBytes) = Retained(() => local.Select((e, i) => new PortState(i + 1, e.Name, vniOf[e.Network], e.Mac,
                e.Ip ?? default, true, e.Subnet is null ? -1 : 0, new PortCounters())).ToArray());
            Row($"local PortState + PortCounters, per local port ({local.Length:N0})", -1, portBytes, local.Length);
            var (snapshot, snapshotBytes) = Retained(() => ForwardingSnapshot.Create(Vteps[0], states, ports, 1));
            Row($"forwarding snapshot maps (beyond states and ports), per local port", -1, snapshotBytes, local.Length);

            installs.Add(Install(n, m, snapshot, states, ports));
            GC.KeepAlive(snapshot);
            snapshot = null;
            states = null;

            // Guests: an in-process machine and its port per local endpoint, on a running engine, idle.
            idle.Add(Idle(n, m, local, ports, idleSeconds));
            ports = null;

            // The endpoint locations as a node holds them: its followers' maps (one immutable map per VNI, what the VTEP
            // actors read) and, where sharding placed a VNI's entity, that entity's table; here both for every VNI.
            var (follower, followerBytes) = Retained(() =>
            {
                var maps = new Dictionary<int, ImmutableDictionary<string, EndpointLocation>>();
                foreach (var e in endpoints)
                {
                    var loc = LocationOf(e);
                    maps[loc.Vni] = (maps.TryGetValue(loc.Vni, out var m0) ? m0 : ImmutableDictionary.Create<string, EndpointLocation>(StringComparer.Ordinal))
                        .SetItem(loc.Key, loc);
                }
                return maps;
            });
            Row("locations: followers' maps (ImmutableDictionary per VNI)", -1, followerBytes, n);
            GC.KeepAlive(follower);
            var (entity, entityBytes) = Retained(() =>
            {
                var tables = new Dictionary<int, (Dictionary<string, EndpointLocation>, Dictionary<string, long>)>();
                foreach (var e in endpoints)
                {
                    var loc = LocationOf(e);
                    if (!tables.TryGetValue(loc.Vni, out var t)) tables[loc.Vni] = t = (new(StringComparer.Ordinal), new(StringComparer.Ordinal));
                    t.Item1[loc.Key] = loc;
                    t.Item2[loc.Key] = 1;
                }
                return tables;
            });
            Row("locations: VNI entities' tables (entries + owner)", -1, entityBytes, n);
            GC.KeepAlive(entity);

            EndpointLocation LocationOf(Endpoint e)
            {
                var k = int.Parse(e.Node.AsSpan(5), CultureInfo.InvariantCulture) - 1;
                return new EndpointLocation(vniOf[e.Network], e.Mac, e.Ip ?? default, Vteps[k], e.Node, 0, LocationOrigin.Config);
            }
        }
        Console.WriteLine();
        Console.WriteLine("| N endpoints | M networks | install of 1 changed network + 1 port: whole composition (before) | allocated | incremental (now) | allocated |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|");
        foreach (var l in installs) Console.WriteLine(l);
        Console.WriteLine();
        Console.WriteLine("| N endpoints | guests on the engine | retained per guest (machine, port, engine slot) | add all (AddPortsAsync, one call) | dataplane thread CPU idle | process CPU idle |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|");
        foreach (var l in idle) Console.WriteLine(l);
        return 0;
    }

    private static FabricConfiguration Configure(List<ConfigurationEvent> networks, Endpoint[] endpoints)
    {
        var c = FabricConfiguration.Empty;
        foreach (var e in networks) c = c.Apply(e);
        foreach (var e in endpoints) c = c.Apply(new EndpointCreated(e));
        return c;
    }

    private static string? Arg(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static (T Value, long Bytes) Retained<T>(Func<T> build) where T : class
    {
        var before = Settle();
        var value = build();
        var after = Settle();
        GC.KeepAlive(value);
        return (value, after - before);
    }

    private static long Settle()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(true);
    }

    /// <summary>M networks (creation events: network, and a subnet for l3) and N guest endpoints round robin over them and 3 nodes.</summary>
    private static (List<ConfigurationEvent> Networks, Endpoint[] Endpoints) Shape(int endpoints, int networks)
    {
        var events = new List<ConfigurationEvent>();
        for (int i = 0; i < networks; i++)
        {
            var l3 = i % 2 == 1;
            var id = EntityIds.Network(i + 1);
            var cidr = Ipv4Prefix.Parse($"10.{i / 16}.{i % 16 * 16}.0/20");
            events.Add(new NetworkCreated(new Network(id, $"scale-{i}", 100_000 + i, l3 ? IntentKind.L3 : IntentKind.L2, l3 ? cidr : null)));
            if (l3)
                events.Add(new SubnetCreated(id, new Subnet(EntityIds.Subnet(i + 1), "s", Ipv4Prefix.Parse($"10.{i / 16}.{i % 16 * 16}.0/21"),
                    Ipv4Address.Parse($"10.{i / 16}.{i % 16 * 16}.1"), Fabric.Actors.Intent.NetworkState.MainRouteTable)));
        }
        var eps = new Endpoint[endpoints];
        for (int k = 0; k < endpoints; k++)
        {
            var n = k % networks;
            var host = k / networks + 10;
            var mac = new MacAddress(0x02_FA_00_00_00_00UL | (uint)k);
            var ip = Ipv4Address.Parse($"10.{n / 16}.{n % 16 * 16 + host / 256}.{host % 256}");
            eps[k] = new Endpoint(EntityIds.Endpoint(k + 1), $"ep-{k}", EntityIds.Network(n + 1), n % 2 == 1 ? EntityIds.Subnet(n + 1) : null,
                $"node-{k % 3 + 1}", mac, ip, new EndpointPort(PortKind.Guest), true, 0);
        }
        return (events, eps);
    }

    /// <summary>Node-1's NetworkState of every network, as its VTEP actors build them.</summary>
    private static List<Fabric.Dataplane.Tables.NetworkState> BuildStates(List<ConfigurationEvent> networks, Endpoint[] endpoints)
    {
        var byNetwork = endpoints.GroupBy(e => e.Network).ToDictionary(g => g.Key, g => g.ToArray());
        var portOf = new Dictionary<string, int>();
        var next = 1;
        foreach (var e in endpoints) if (e.Node == "node-1") portOf[e.Id] = next++;
        var states = new List<Fabric.Dataplane.Tables.NetworkState>();
        NetworkStateBuilder? b = null;
        foreach (var ev in networks)
        {
            if (ev is SubnetCreated s) { b!.Subnet(s.Subnet.Id, s.Subnet.Cidr, s.Subnet.RouteTable); continue; }
            if (b is not null) states.Add(Finish(b, byNetwork, portOf));
            var net = ((NetworkCreated)ev).Network;
            b = new NetworkStateBuilder(net.Vni, net.Name, net.Kind == IntentKind.L3 ? DpKind.L3 : DpKind.L2, net.Cidr) { LocalVtep = Vteps[0] };
        }
        if (b is not null) states.Add(Finish(b, byNetwork, portOf));
        return states;
    }

    private static Fabric.Dataplane.Tables.NetworkState Finish(NetworkStateBuilder b, Dictionary<string, Endpoint[]> byNetwork, Dictionary<string, int> portOf)
    {
        foreach (var v in Vteps) b.AcceptFrom(v);
        if (byNetwork.TryGetValue(EntityIds.Network(b.Vni - 100_000 + 1), out var eps))
            foreach (var e in eps)
            {
                var k = int.Parse(e.Node.AsSpan(5), CultureInfo.InvariantCulture) - 1;
                if (k == 0) b.Endpoint(e.Mac, e.Ip ?? default, Location.Local(portOf[e.Id]), EntrySource.Config);
                else { b.Endpoint(e.Mac, e.Ip ?? default, Location.Remote(Vteps[k]), EntrySource.Gossip); b.Member(Vteps[k]); }
            }
        return b.Build();
    }

    /// <summary>
    /// What installing one rebuilt network and one new port costs: composing the whole snapshot again (what the
    /// publisher did on every message) against applying the change to the live snapshot (what it does now).
    /// </summary>
    private static string Install(int n, int m, ForwardingSnapshot snapshot, List<Fabric.Dataplane.Tables.NetworkState> states, PortState[] ports)
    {
        var changed = states[states.Count / 2];
        var port = ports[^1] with { Id = ports.Length + 1, Vni = changed.Vni };
        var all = ports.Append(port).ToArray();
        var rounds = n >= 100_000 ? 10 : 50;
        var (wholeTime, wholeBytes) = Time(rounds, () => ForwardingSnapshot.Create(snapshot.LocalVtep, states, all, 2));
        var (deltaTime, deltaBytes) = Time(rounds * 10, () =>
        {
            var b = snapshot.ToBuilder();
            b.SetNetwork(changed);
            b.SetPort(port);
            return b.ToSnapshot(2);
        });
        return $"| {n:N0} | {m:N0} | {wholeTime:N1} µs | {wholeBytes:N0} B | {deltaTime:N1} µs | {deltaBytes:N0} B |";
    }

    private static (double Micros, long Bytes) Time(int rounds, Func<ForwardingSnapshot> install)
    {
        GC.KeepAlive(install()); // JIT
        var a0 = GC.GetAllocatedBytesForCurrentThread();
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < rounds; i++) GC.KeepAlive(install());
        sw.Stop();
        var a1 = GC.GetAllocatedBytesForCurrentThread();
        return (sw.Elapsed.TotalMilliseconds * 1000 / rounds, (a1 - a0) / rounds);
    }

    /// <summary>
    /// The local endpoints as guests on a running engine: what each holds idle (machine, port, and the engine's slot
    /// for it), how long adding them all takes, and the CPU the idle engine then burns.
    /// </summary>
    private static string Idle(int n, int m, Endpoint[] local, PortState[] ports, int seconds)
    {
        if (!OperatingSystem.IsLinux()) return $"| {n:N0} | {local.Length:N0} | (Linux only) | | | |";
        var holder = new SnapshotHolder();
        using var engine = new DataplaneEngine(holder, null);
        engine.Start();
        var before = Settle();
        var guests = local.Select((e, i) =>
            (IDataplanePort)new GuestPort(i + 1, e.Name, new GuestMachine(e.Mac, e.Ip ?? default, new Ipv4Prefix(e.Ip ?? default, 20)))).ToArray();
        var sw = Stopwatch.StartNew();
        var errors = engine.AddPortsAsync(guests).Result;
        var add = sw.Elapsed;
        if (errors.Any(e => e is not null)) throw new InvalidOperationException("a guest could not be added", errors.First(e => e is not null));
        var perGuest = (Settle() - before) / (double)guests.Length;
        Thread.Sleep(500);
        var thread0 = ThreadCpu(engine.ThreadId);
        var proc0 = Process.GetCurrentProcess().TotalProcessorTime;
        sw.Restart();
        Thread.Sleep(TimeSpan.FromSeconds(Math.Max(1, seconds)));
        var wall = sw.Elapsed.TotalSeconds;
        var thread = (ThreadCpu(engine.ThreadId) - thread0).TotalSeconds / wall;
        var proc = (Process.GetCurrentProcess().TotalProcessorTime - proc0).TotalSeconds / wall;
        engine.Stop();
        GC.KeepAlive(guests);
        GC.KeepAlive(ports);
        return $"| {n:N0} | {guests.Length:N0} | {perGuest:N0} B | {add.TotalMilliseconds:N0} ms | {thread:P2} of a core | {proc:P2} of a core |";
    }
    /// <summary>A thread's CPU time from /proc (utime + stime, in clock ticks of 10 ms).</summary>
    private static TimeSpan ThreadCpu(int tid)
    {
        var stat = File.ReadAllText($"/proc/self/task/{tid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromMilliseconds(ticks * 10);
    }
}
