using System.Collections.Immutable;
using Fabric.Actors.Intent;

namespace Fabric.Actors.Replication;

/// <summary>
/// The singleton's side of replication as a pure value-in, messages-out machine (the actor only adds the wire and the
/// timer; the model test drives this directly). For every journaled change it sends each registered node only the
/// events of the networks that node holds, then the creation events of networks it starts to hold and a
/// <see cref="NetworkReleased"/> for those it stops holding. Cluster-wide events (tokens,
/// <see cref="AccessTokens.IsClusterWide"/>) go to every node, and every snapshot starts with them.
/// </summary>
/// <remarks>
/// Cost per change: O(events × nodes holding their network) messages and work, plus an interest recomputation
/// (O(networks held × routes)) for the nodes named by endpoint events and the holders of a network whose routes
/// changed. A node holding nothing of the change gets nothing, except a token event, which every node gets (one message
/// of ~200 bytes per node: 1,000 messages at 1,000 nodes, for a write made by hand a few times a year). At 100,000 endpoints on 1,000 nodes (100 per node, a
/// network spanning a few nodes), an endpoint create costs a few messages of ~200 bytes; at 100,000 endpoints in
/// 1,000 networks spread over 3 nodes, one message per node per chunk of events.
/// </remarks>
public sealed class ReplicationHub
{
    private sealed class Subscriber(string node)
    {
        public string Node { get; } = node;
        public string[] Holds { get; set; } = [];
        public ImmutableHashSet<string> Interest { get; set; } = ImmutableHashSet<string>.Empty;
        public long Seq { get; set; }
    }

    private readonly Dictionary<string, Subscriber> _subscribers = new(StringComparer.Ordinal);
    // network → the nodes holding it: the fan-out of an event, found without looking at any other node.
    private readonly Dictionary<string, HashSet<string>> _holders = new(StringComparer.Ordinal);

    public ReplicationHub(FabricConfiguration state, long revision, string epoch, int chunkEvents = 500)
    {
        State = state;
        Revision = revision;
        Epoch = epoch;
        ChunkEvents = Math.Max(1, chunkEvents);
    }

    public string Epoch { get; }
    public int ChunkEvents { get; }
    public FabricConfiguration State { get; private set; }
    public long Revision { get; private set; }
    public IEnumerable<string> Nodes => _subscribers.Keys;

    /// <summary>The networks <paramref name="node"/> holds now (empty when it is not registered).</summary>
    public ImmutableHashSet<string> InterestOf(string node)
        => _subscribers.TryGetValue(node, out var s) ? s.Interest : ImmutableHashSet<string>.Empty;

    /// <summary>(Re)registers a node: its whole projection as snapshot chunks. O(projection of that node).</summary>
    public IReadOnlyList<IReplicaMessage> Register(string node, IReadOnlyCollection<string> holds)
    {
        if (!_subscribers.TryGetValue(node, out var s)) _subscribers[node] = s = new Subscriber(node);
        s.Holds = holds.Distinct(StringComparer.Ordinal).ToArray();
        SetInterest(s, Interest.Of(State, node, s.Holds));
        var chunks = new List<ConfigurationEvent[]>();
        var chunk = new List<ConfigurationEvent>(ChunkEvents);
        // The cluster-wide part (tokens) first, whatever the node holds; then its networks.
        foreach (var e in State.ClusterWideEvents().Concat(s.Interest.Order(EntityIds.Order).SelectMany(State.EventsToBuild)))
        {
            chunk.Add(e);
            if (chunk.Count == ChunkEvents) { chunks.Add(chunk.ToArray()); chunk.Clear(); }
        }
        if (chunk.Count > 0 || chunks.Count == 0) chunks.Add(chunk.ToArray());
        var messages = new IReplicaMessage[chunks.Count];
        for (int i = 0; i < chunks.Count; i++)
            messages[i] = new ReplicaSnapshot(Epoch, ++s.Seq, Revision, i, chunks.Count, chunks[i]);
        return messages;
    }

    /// <summary>The node's actors hold other networks now: deltas that build what enters and release what leaves.</summary>
    public IReadOnlyList<IReplicaMessage> UpdateHolds(string node, IReadOnlyCollection<string> holds)
    {
        if (!_subscribers.TryGetValue(node, out var s)) return [];
        s.Holds = holds.Distinct(StringComparer.Ordinal).ToArray();
        var events = new List<ConfigurationEvent>();
        Reinterest(s, events);
        return Chunk(s, events);
    }

    public void Remove(string node)
    {
        if (!_subscribers.Remove(node, out var s)) return;
        SetInterest(s, ImmutableHashSet<string>.Empty);
    }

    /// <summary>A write was journaled: what each node must receive, in order.</summary>
    public IReadOnlyList<(string Node, IReplicaMessage Message)> Apply(FabricConfiguration before, FabricConfiguration after,
        IReadOnlyList<ConfigurationEvent> events, long revision)
    {
        State = after;
        Revision = revision;
        var perNode = new Dictionary<string, List<ConfigurationEvent>>(StringComparer.Ordinal);
        var affected = new HashSet<string>(StringComparer.Ordinal);
        var named = new List<string>(2);
        foreach (var e in events)
        {
            if (AccessTokens.IsClusterWide(e))
            {
                // Every node checks tokens itself: a token event goes to every registered node, in the same numbered stream.
                foreach (var s in _subscribers.Values)
                {
                    if (!perNode.TryGetValue(s.Node, out var all)) perNode[s.Node] = all = new List<ConfigurationEvent>();
                    all.Add(e);
                }
                continue;
            }
            var net = Interest.NetworkOf(e, before, after);
            if (net is null) continue;
            // A node's own networks change only when its first endpoint enters one or its last leaves: recomputing its
            // interest on every endpoint event would cost O(networks it holds) per change.
            named.Clear();
            Interest.NodesOf(e, before, named);
            foreach (var node in named)
                if (Holds(before, node, net) != Holds(after, node, net)) affected.Add(node);
            if (_holders.TryGetValue(net, out var holders))
            {
                foreach (var h in holders)
                {
                    if (!perNode.TryGetValue(h, out var list)) perNode[h] = list = new List<ConfigurationEvent>();
                    list.Add(e);
                }
                if (Interest.ChangesRouteTargets(e)) affected.UnionWith(holders);
            }
            // A network an actor asked to hold before it existed (rare): its holder starts to hold it now.
            if (e is NetworkCreated)
                foreach (var s in _subscribers.Values)
                    if (Array.IndexOf(s.Holds, net) >= 0) affected.Add(s.Node);
        }
        foreach (var node in affected)
        {
            if (!_subscribers.TryGetValue(node, out var s)) continue;
            if (!perNode.TryGetValue(node, out var list)) perNode[node] = list = new List<ConfigurationEvent>();
            Reinterest(s, list);
        }
        var result = new List<(string, IReplicaMessage)>();
        foreach (var (node, list) in perNode)
        {
            if (list.Count == 0) continue;
            foreach (var m in Chunk(_subscribers[node], list)) result.Add((node, m));
        }
        return result;
    }

    /// <summary>Every subscriber's last Seq: how a replica that lost the tail of its stream finds out.</summary>
    public IReadOnlyList<(string Node, IReplicaMessage Message)> Tick()
    {
        var result = new List<(string, IReplicaMessage)>(_subscribers.Count);
        foreach (var s in _subscribers.Values) result.Add((s.Node, new ReplicaTick(Epoch, s.Seq, Revision)));
        return result;
    }

    private static bool Holds(FabricConfiguration state, string node, string network)
        => state.NodeNetworks.TryGetValue(node, out var own) && own.ContainsKey(network);

    private void Reinterest(Subscriber s, List<ConfigurationEvent> into)
    {
        var next = Interest.Of(State, s.Node, s.Holds);
        foreach (var gone in s.Interest.Except(next).Order(EntityIds.Order)) into.Add(new NetworkReleased(gone));
        foreach (var added in next.Except(s.Interest).Order(EntityIds.Order)) into.AddRange(State.EventsToBuild(added));
        SetInterest(s, next);
    }

    private void SetInterest(Subscriber s, ImmutableHashSet<string> next)
    {
        foreach (var gone in s.Interest.Except(next))
            if (_holders.TryGetValue(gone, out var h) && h.Remove(s.Node) && h.Count == 0) _holders.Remove(gone);
        foreach (var added in next.Except(s.Interest))
        {
            if (!_holders.TryGetValue(added, out var h)) _holders[added] = h = new HashSet<string>(StringComparer.Ordinal);
            h.Add(s.Node);
        }
        s.Interest = next;
    }

    private List<IReplicaMessage> Chunk(Subscriber s, List<ConfigurationEvent> events)
    {
        var result = new List<IReplicaMessage>((events.Count + ChunkEvents - 1) / ChunkEvents);
        for (int i = 0; i < events.Count; i += ChunkEvents)
        {
            var n = Math.Min(ChunkEvents, events.Count - i);
            result.Add(new ReplicaDelta(Epoch, ++s.Seq, Revision, events.GetRange(i, n).ToArray()));
        }
        return result;
    }
}
