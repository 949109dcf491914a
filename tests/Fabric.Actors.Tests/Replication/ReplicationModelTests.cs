using Fabric.Actors.Intent;
using Fabric.Actors.Replication;
using FsCheck.Xunit;

namespace Fabric.Actors.Tests.Replication;

/// <summary>
/// Model-based: random write sequences applied at the "singleton" (decided and applied as the configuration actor
/// does), the hub's messages fed to each node's replica through a channel that loses, duplicates and reorders them,
/// with ticks and re-registrations (catch-ups) as the actors do them. After the faults stop and the stream is
/// drained, every replica must equal the singleton's state projected onto the networks its node holds, and the hub's
/// idea of what each node holds must be the interest computed from scratch.
/// </summary>
public class ReplicationModelTests
{
    private static readonly string[] Nodes = ["node-a", "node-b", "node-c", "node-d"];

    private sealed class Channel(Random random, double drop, double duplicate, double reorder)
    {
        private readonly List<IReplicaMessage> _queue = new();
        public bool Faulty { get; set; } = true;
        public void Send(IReplicaMessage m) => _queue.Add(m);
        public int Count => _queue.Count;

        /// <summary>Takes up to <paramref name="n"/> messages off the queue as the faults allow.</summary>
        public List<IReplicaMessage> Deliver(int n)
        {
            var delivered = new List<IReplicaMessage>();
            while (n-- > 0 && _queue.Count > 0)
            {
                var index = Faulty && _queue.Count > 1 && random.NextDouble() < reorder ? 1 : 0;
                var m = _queue[index];
                _queue.RemoveAt(index);
                if (Faulty && random.NextDouble() < drop) continue;
                delivered.Add(m);
                if (Faulty && random.NextDouble() < duplicate) _queue.Insert(Math.Min(_queue.Count, random.Next(3)), m);
            }
            return delivered;
        }
    }

    private sealed class Model
    {
        public FabricConfiguration State = FabricConfiguration.Empty;
        public long Revision;
        public readonly ReplicationHub Hub;
        public readonly Dictionary<string, ReplicaState> Replicas = new();
        public readonly Dictionary<string, Channel> Channels = new();
        public readonly Dictionary<string, string[]> Holds = new();
        public int Resyncs;

        public Model(Random random, double drop, double duplicate, double reorder, int chunk)
        {
            Hub = new ReplicationHub(State, 0, "epoch-1", chunk);
            foreach (var n in Nodes)
            {
                Replicas[n] = new ReplicaState();
                Channels[n] = new Channel(random, drop, duplicate, reorder);
                Holds[n] = [];
                foreach (var m in Hub.Register(n, Holds[n])) Channels[n].Send(m);
            }
        }

        public void Execute(ConfigurationCommand c)
        {
            if (State.Decide(c) is not Decision.Accept { Events.Count: > 0 } accept) return;
            var before = State;
            State = State.ApplyAll(accept.Events);
            Revision += accept.Events.Count;
            foreach (var (node, m) in Hub.Apply(before, State, accept.Events.ToArray(), Revision)) Channels[node].Send(m);
        }

        public void Hold(string node, string[] networks)
        {
            Holds[node] = networks;
            foreach (var m in Hub.UpdateHolds(node, networks)) Channels[node].Send(m);
        }

        public void Tick()
        {
            foreach (var (node, m) in Hub.Tick()) Channels[node].Send(m);
        }

        public void Deliver(string node, int n)
        {
            foreach (var m in Channels[node].Deliver(n))
                if (Replicas[node].Offer(m).Kind == ReplicaOutcomeKind.Resync)
                {
                    Resyncs++;
                    foreach (var s in Hub.Register(node, Holds[node])) Channels[node].Send(s);
                }
        }
    }

    [Property(MaxTest = 300)]
    public void Replicas_fed_lost_duplicated_and_reordered_deltas_end_equal_to_the_singletons_projection(int seed, byte dropPct, byte dupPct, byte reorderPct, bool smallChunks)
    {
        var random = new Random(seed);
        var model = new Model(random, dropPct % 30 / 100.0, dupPct % 30 / 100.0, reorderPct % 30 / 100.0, smallChunks ? 3 : 500);
        var steps = 60 + random.Next(120);
        for (int step = 0; step < steps; step++)
        {
            model.Execute(RandomCommand(model.State, random));
            if (random.NextDouble() < 0.05)
                model.Hold(Pick(Nodes, random), model.State.Networks.Keys.Where(_ => random.NextDouble() < 0.2).ToArray());
            if (random.NextDouble() < 0.1) model.Tick();
            foreach (var n in Nodes) model.Deliver(n, random.Next(4));
        }

        // Faults stop: drain, tick, drain until every replica is in step (a resync answers with a snapshot).
        foreach (var c in model.Channels.Values) c.Faulty = false;
        for (int round = 0; round < 10; round++)
        {
            foreach (var n in Nodes) model.Deliver(n, int.MaxValue);
            model.Tick();
            foreach (var n in Nodes) model.Deliver(n, int.MaxValue);
            if (model.Channels.Values.All(c => c.Count == 0)) break;
        }

        foreach (var node in Nodes)
        {
            var interest = Interest.Of(model.State, node, model.Holds[node]);
            Assert.Equal(interest.Order(StringComparer.Ordinal), model.Hub.InterestOf(node).Order(StringComparer.Ordinal));
            var expected = ConfigurationListing.Of(Interest.Project(model.State, interest), 0).ToCanonicalJson();
            var actual = ConfigurationListing.Of(model.Replicas[node].State, 0).ToCanonicalJson();
            Assert.True(expected == actual, $"{node} (seed {seed}, {model.Resyncs} resyncs): replica differs from the projection\nexpected {expected}\nactual {actual}");
            Assert.Equal(model.Revision, model.Replicas[node].Revision);
            // Tokens are cluster-wide: every replica holds all of them, whatever networks its node holds.
            Assert.Equal(model.State.Tokens.OrderBy(t => t.Key), model.Replicas[node].State.Tokens.OrderBy(t => t.Key));
            Assert.Equal(model.State.RevokedTokens.OrderBy(t => t.Key), model.Replicas[node].State.RevokedTokens.OrderBy(t => t.Key));
        }
    }

    [Fact]
    public void A_change_to_a_network_a_node_holds_nothing_of_costs_that_node_nothing()
    {
        var model = new Model(new Random(1), 0, 0, 0, 500);
        foreach (var n in Nodes) model.Deliver(n, int.MaxValue);
        for (int i = 1; i <= 50; i++)
            model.Execute(new CreateNetwork($"n{i}", 5000 + i, "l2", $"10.{i}.0.0/24"));
        // One endpoint in each of the 50 networks, all on node-a.
        for (int i = 1; i <= 50; i++)
            model.Execute(new CreateEndpoint($"e{i}", $"net-{i}", "node-a", new EndpointPortSpec("guest")));
        foreach (var n in Nodes.Where(n => n != "node-a")) Assert.Equal(0, model.Channels[n].Count);
        Assert.Equal(50, model.Hub.InterestOf("node-a").Count);

        model.Deliver("node-a", int.MaxValue);
        var sent = new List<(string Node, IReplicaMessage Message)>();
        var before = model.State;
        var create = (Decision.Accept)model.State.Decide(new CreateEndpoint("more", "net-7", "node-a", new EndpointPortSpec("guest")));
        var after = before.ApplyAll(create.Events);
        sent.AddRange(model.Hub.Apply(before, after, create.Events.ToArray(), 101));
        var only = Assert.Single(sent);
        Assert.Equal("node-a", only.Node);
        var delta = Assert.IsType<ReplicaDelta>(only.Message);
        Assert.Equal("net-7", Assert.IsType<EndpointCreated>(Assert.Single(delta.Events)).Endpoint.Network);
    }

    [Fact]
    public void A_node_gets_a_network_with_its_first_endpoint_there_and_lets_it_go_with_its_last()
    {
        var model = new Model(new Random(2), 0, 0, 0, 500);
        model.Execute(new CreateNetwork("n1", 5001, "l2", "10.1.0.0/24"));
        model.Execute(new CreateEndpoint("a1", "net-1", "node-a", new EndpointPortSpec("guest")));
        model.Execute(new CreateEndpoint("a2", "net-1", "node-a", new EndpointPortSpec("guest")));
        foreach (var n in Nodes) model.Deliver(n, int.MaxValue);
        Assert.Empty(model.Replicas["node-b"].State.Networks);

        var before = model.State;
        model.Execute(new MoveEndpoint("ep-1", "node-b"));
        var toB = model.Channels["node-b"].Deliver(int.MaxValue).Cast<ReplicaDelta>().SelectMany(d => d.Events).ToArray();
        // node-b is built net-1 as it is now: the network, then both endpoints, ep-1 already on node-b.
        Assert.IsType<NetworkCreated>(toB[0]);
        Assert.Equal(["ep-1", "ep-2"], toB.OfType<EndpointCreated>().Select(e => e.Endpoint.Id));
        Assert.Equal("node-b", toB.OfType<EndpointCreated>().First().Endpoint.Node);

        model.Execute(new MoveEndpoint("ep-1", "node-a"));
        var toB2 = model.Channels["node-b"].Deliver(int.MaxValue).Cast<ReplicaDelta>().SelectMany(d => d.Events).ToArray();
        // The move reaches node-b (its port must go) before the release.
        Assert.IsType<EndpointMoved>(toB2[0]);
        Assert.Equal("net-1", Assert.IsType<NetworkReleased>(toB2[^1]).NetworkId);
        Assert.NotEqual(before, model.State);
    }

    [Fact]
    public void Snapshots_and_deltas_stay_within_the_chunk_size()
    {
        var model = new Model(new Random(3), 0, 0, 0, 100);
        model.Execute(new CreateNetwork("n1", 5001, "l2", "10.1.0.0/16"));
        for (int i = 0; i < 1000; i++)
            model.Execute(new CreateEndpoint($"e{i}", "net-1", Nodes[i % 2], new EndpointPortSpec("guest")));
        var snapshot = model.Hub.Register("node-c", ["net-1"]);
        Assert.Equal(11, snapshot.Count); // the network and 1,000 endpoints, 100 events a chunk
        Assert.All(snapshot, m => Assert.True(((ReplicaSnapshot)m).Events.Length <= 100));
        var replica = new ReplicaState();
        foreach (var m in snapshot.Take(10)) Assert.Equal(ReplicaOutcomeKind.Building, replica.Offer(m).Kind);
        Assert.False(replica.HasState); // never half a projection
        Assert.Equal(ReplicaOutcomeKind.Reset, replica.Offer(snapshot[10]).Kind);
        Assert.Equal(1000, replica.State.Endpoints.Count);
    }

    private static T Pick<T>(IReadOnlyList<T> items, Random random) => items[random.Next(items.Count)];

    private static ConfigurationCommand RandomCommand(FabricConfiguration s, Random r)
    {
        var networks = s.Networks.Keys.ToArray();
        var endpoints = s.Endpoints.Keys.ToArray();
        if (r.Next(16) == 0)
        {
            var name = $"t{r.Next(6)}";
            return r.Next(2) == 0
                ? new CreateToken(name, r.Next(2) == 0 ? "read" : "admin", string.Concat(Enumerable.Range(0, 64).Select(_ => "0123456789abcdef"[r.Next(16)])), DateTime.UnixEpoch)
                : new RevokeToken(name, new string('b', 64), DateTime.UnixEpoch);
        }
        var roll = r.Next(100);
        if (networks.Length == 0 || roll < 8)
        {
            var i = r.Next(1, 40);
            return r.Next(2) == 0
                ? new CreateNetwork($"n{i}", 5000 + i, "l2", $"10.{i}.0.0/24")
                : new CreateNetwork($"n{i}", 5000 + i, "l3", $"10.{i}.0.0/16");
        }
        var net = Pick(networks, r);
        var l3 = s.Networks[net].Network.Kind == NetworkKind.L3;
        if (roll < 14 && l3)
            return new CreateSubnet(net, $"s{r.Next(4)}", $"{s.Networks[net].Network.Cidr!.Value.Network}/{24}".Replace(".0.0/24", $".{r.Next(4)}.0/24"));
        if (roll < 20)
        {
            var target = Pick(networks, r);
            return r.Next(3) == 0
                ? new RemoveRoute(net, "main", s.Networks[target].Network.Cidr?.ToString())
                : new AddRoute(net, "main", s.Networks[target].Network.Cidr?.ToString(), new RouteTargetSpec("network", Network: target));
        }
        if (roll < 23) return new DeleteNetwork(net);
        if (roll < 60 || endpoints.Length == 0)
            return new CreateEndpoint($"e{r.Next(1000)}", net, Pick(Nodes, r), new EndpointPortSpec("guest"));
        if (roll < 85) return new MoveEndpoint(Pick(endpoints, r), Pick(Nodes, r));
        return new DeleteEndpoint(Pick(endpoints, r));
    }
}
