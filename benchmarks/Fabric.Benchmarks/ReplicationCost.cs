using System.Diagnostics;
using Fabric.Actors.Intent;
using Fabric.Actors.Replication;

namespace Fabric.Benchmarks;

/// <summary>
/// `--replication [--endpoints 100000] [--networks 1000] [--nodes 3] [--batch 500]`: the singleton's control-plane work
/// per change, in process and without the wire: decide, apply and fan out (ReplicationHub) N endpoint creations in
/// batches, then single creates and moves, and each node's replica applying what it is sent. Prints the time per
/// endpoint and per single change at the end, and the events and messages per change per node, which is what
/// must not grow with the fabric.
/// </summary>
public static class ReplicationCost
{
    public static int Run(string[] args)
    {
        int Arg(string name, int fallback) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : fallback;
        var endpoints = Arg("--endpoints", 100_000);
        var networks = Arg("--networks", Math.Max(1, endpoints / 100));
        var nodes = Arg("--nodes", 3);
        var batch = Arg("--batch", 500);
        var names = Enumerable.Range(1, nodes).Select(i => $"node-{i}").ToArray();

        var state = FabricConfiguration.Empty;
        long revision = 0;
        var hub = new ReplicationHub(state, 0, "bench");
        var replicas = names.ToDictionary(n => n, _ => new ReplicaState());
        foreach (var n in names) foreach (var m in hub.Register(n, [])) replicas[n].Offer(m);

        (int Events, int Messages) Apply(ConfigurationCommand[] commands)
        {
            var before = state;
            var events = new List<ConfigurationEvent>();
            foreach (var c in commands)
            {
                if (state.Decide(c) is not Decision.Accept a) throw new InvalidOperationException($"{c} rejected: {state.Decide(c)}");
                state = state.ApplyAll(a.Events);
                events.AddRange(a.Events);
            }
            revision += events.Count;
            var sent = hub.Apply(before, state, events, revision);
            var delivered = 0;
            foreach (var (node, m) in sent) { replicas[node].Offer(m); delivered += ((ReplicaDelta)m).Events.Length; }
            return (delivered, sent.Count);
        }

        var sw = Stopwatch.StartNew();
        for (int i = 1; i <= networks; i++)
            Apply([i % 2 == 0
                ? new CreateNetwork($"n{i}", i, "l3", $"10.{i / 256}.{i % 256}.0/24")
                : new CreateNetwork($"n{i}", i, "l2", $"10.{i / 256}.{i % 256}.0/24")]);
        for (int i = 2; i <= networks; i += 2)
            Apply([new CreateSubnet($"net-{i}", "s", $"10.{i / 256}.{i % 256}.0/25")]);
        Console.WriteLine($"{networks} networks in {sw.ElapsedMilliseconds} ms");

        sw.Restart();
        var checkpoints = new[] { 1_000, 10_000, 100_000, endpoints }.Where(c => c <= endpoints).Distinct().ToArray();
        var created = 0;
        var lap = Stopwatch.StartNew();
        while (created < endpoints)
        {
            var n = Math.Min(batch, endpoints - created);
            var commands = new ConfigurationCommand[n];
            for (int k = 0; k < n; k++, created++)
                commands[k] = new CreateEndpoint($"e{created}", $"net-{created % networks + 1}", names[created / networks % nodes], new EndpointPortSpec("guest"));
            Apply(commands);
            if (checkpoints.Contains(created))
            {
                Console.WriteLine($"{created,7} endpoints: last segment {lap.Elapsed.TotalMilliseconds / Math.Max(1, created - (checkpoints.Where(c => c < created).DefaultIfEmpty(0).Max())) * 1000:F1} µs per endpoint (decide, apply, fan out, every replica applies), {GC.GetTotalMemory(false) / 1_048_576} MB managed");
                lap.Restart();
            }
        }
        Console.WriteLine($"{endpoints} endpoints in {sw.ElapsedMilliseconds} ms ({endpoints / sw.Elapsed.TotalSeconds:F0}/s)");

        // Single changes at full size: the cost that must not depend on the fabric's size.
        const int singles = 2000;
        sw.Restart();
        int events = 0, messages = 0;
        for (int i = 0; i < singles; i++)
        {
            var (e, m) = Apply([new CreateEndpoint($"s{i}", $"net-{i % networks + 1}", names[i % nodes], new EndpointPortSpec("guest"))]);
            events += e; messages += m;
        }
        Console.WriteLine($"single create at {endpoints}: {sw.Elapsed.TotalMilliseconds * 1000 / singles:F1} µs each, {events / (double)singles:F2} events and {messages / (double)singles:F2} messages sent per create over {nodes} nodes");
        sw.Restart(); events = 0; messages = 0;
        for (int i = 0; i < singles; i++)
        {
            var (e, m) = Apply([new MoveEndpoint($"ep-{i * 37 % endpoints + 1}", names[(i + 1) % nodes])]);
            events += e; messages += m;
        }
        Console.WriteLine($"single move at {endpoints}: {sw.Elapsed.TotalMilliseconds * 1000 / singles:F1} µs each, {events / (double)singles:F2} events and {messages / (double)singles:F2} messages sent per move over {nodes} nodes");
        foreach (var n in names)
            if (Fabric.Actors.Intent.ConfigurationListing.Of(replicas[n].State, 0).Endpoints.Count != Interest.Project(state, hub.InterestOf(n)).Endpoints.Count)
                throw new InvalidOperationException($"{n}'s replica differs from its projection");
        Console.WriteLine("every replica equals its projection");

        // Bytes on the wire, with the serializers the nodes use.
        var config = Fabric.Actors.Configuration.FabricHocon.Load(overrides: "akka.actor.provider = local\nakka.loglevel = ERROR");
        using var system = Akka.Actor.ActorSystem.Create("bytes", config);
        int Size(object o) => system.Serialization.FindSerializerFor(o).ToBinary(o).Length;
        var one = state.Endpoints[$"ep-1"];
        var create = new ReplicaDelta("0123456789ab", 123_456, 200_000, [new EndpointCreated(one)]);
        var move = new ReplicaDelta("0123456789ab", 123_457, 200_001, [new EndpointMoved(one.Id, "node-1000", 3)]);
        var tick = new ReplicaTick("0123456789ab", 123_457, 200_001);
        var chunk = new ReplicaSnapshot("0123456789ab", 1, 200_001, 0, 1, state.EventsToBuild("net-1").Take(500).ToArray());
        Console.WriteLine($"bytes: delta with one EndpointCreated {Size(create)}, delta with one EndpointMoved {Size(move)}, tick {Size(tick)}, snapshot chunk of {chunk.Events.Length} events {Size(chunk)}");
        return 0;
    }
}
