using Akka.Actor;
using Fabric.Actors.Alarms;
using Fabric.Actors.Node;
using Fabric.Dataplane.Counters;
using Prometheus;

namespace Fabric.Nodes.Http;

/// <summary>
/// The node's Prometheus metrics, in a registry of their own (several endpoints may share a process, in tests):
/// the dataplane counters per port, per VNI and per drop reason, read from the forwarding snapshot at each scrape;
/// cluster membership; the snapshot-publish latency (from <see cref="SnapshotPublished"/> on the event stream) and
/// the round trip to every other member (a small probe every few seconds); .NET runtime statistics.
/// </summary>
/// <remarks>
/// Counters mirror values the dataplane owns (<c>IncTo</c>). A port or a VNI that is gone loses its series; one
/// that comes back with fresh counters (an endpoint replugged, a network re-created) starts new series from zero
/// rather than pretending its old ones went on.
/// </remarks>
internal sealed class FabricMetrics : IDisposable
{
    private readonly FabricRuntime _runtime;
    private readonly object _gate = new();
    private readonly IActorRef _listener;

    private readonly Counter _portRxPackets, _portRxBytes, _portTxPackets, _portTxBytes, _portDrops;
    private readonly Counter _vniRxPackets, _vniRxBytes, _vniTxPackets, _vniTxBytes, _vniEncap, _vniDecap, _vniFlooded, _vniArpAnswered, _vniDrops;
    private readonly Counter _globalDrops, _packets, _batches, _eventsLost;
    private readonly Gauge _members, _clusterSize, _unreachable, _ready, _snapshotVersion;
    private readonly Series _portSeries = new(), _vniSeries = new();
    private readonly HashSet<string> _globalReasons = new();

    public FabricMetrics(FabricRuntime runtime)
    {
        _runtime = runtime;
        Registry = Metrics.NewCustomRegistry();
        DotNetStats.Register(Registry);
        var f = Metrics.WithCustomRegistry(Registry);

        string[] port = ["port", "vni"], vni = ["vni", "network"];
        _portRxPackets = f.CreateCounter("fabric_port_rx_packets_total", "Frames received from a local port", port);
        _portRxBytes = f.CreateCounter("fabric_port_rx_bytes_total", "Bytes received from a local port", port);
        _portTxPackets = f.CreateCounter("fabric_port_tx_packets_total", "Frames sent to a local port", port);
        _portTxBytes = f.CreateCounter("fabric_port_tx_bytes_total", "Bytes sent to a local port", port);
        _portDrops = f.CreateCounter("fabric_port_drops_total", "Frames from a local port dropped, by reason", [.. port, "reason"]);
        _vniRxPackets = f.CreateCounter("fabric_vni_rx_packets_total", "Frames entering a network (VNI) on this node", vni);
        _vniRxBytes = f.CreateCounter("fabric_vni_rx_bytes_total", "Bytes entering a network (VNI) on this node", vni);
        _vniTxPackets = f.CreateCounter("fabric_vni_tx_packets_total", "Frames a network (VNI) delivered on this node", vni);
        _vniTxBytes = f.CreateCounter("fabric_vni_tx_bytes_total", "Bytes a network (VNI) delivered on this node", vni);
        _vniEncap = f.CreateCounter("fabric_vni_encapsulated_total", "Frames encapsulated in VXLAN towards another VTEP", vni);
        _vniDecap = f.CreateCounter("fabric_vni_decapsulated_total", "VXLAN packets decapsulated", vni);
        _vniFlooded = f.CreateCounter("fabric_vni_flooded_total", "Frames flooded (broadcast, unknown unicast, multicast)", vni);
        _vniArpAnswered = f.CreateCounter("fabric_vni_arp_answered_total", "ARP requests answered locally (proxy ARP)", vni);
        _vniDrops = f.CreateCounter("fabric_vni_drops_total", "Frames dropped in a network (VNI), by reason", [.. vni, "reason"]);
        _globalDrops = f.CreateCounter("fabric_dataplane_drops_total", "Drops before a network was known (unknown VNI, malformed VXLAN, unknown port), by reason", "reason");
        _packets = f.CreateCounter("fabric_dataplane_packets_total", "Frames and packets the dataplane thread processed");
        _batches = f.CreateCounter("fabric_dataplane_batches_total", "Batches the dataplane thread processed");
        _eventsLost = f.CreateCounter("fabric_dataplane_events_lost_total", "Dataplane events (learning, moves) lost because the queue to the actors was full");
        _members = f.CreateGauge("fabric_cluster_members", "Cluster members by status", "status");
        _clusterSize = f.CreateGauge("fabric_cluster_size", "Cluster members (any status)");
        _unreachable = f.CreateGauge("fabric_cluster_unreachable_members", "Members this node sees as unreachable");
        _ready = f.CreateGauge("fabric_node_ready", "1 when the node is Up in the cluster and its dataplane thread runs");
        _snapshotVersion = f.CreateGauge("fabric_snapshot_version", "Version of the forwarding snapshot the dataplane uses");
        var alarms = f.CreateGauge("fabric_alarms", "Alarms this node holds now, by kind (GET /api/v1/alarms lists them)", "kind");
        foreach (var kind in AlarmKinds.All) alarms.WithLabels(kind).Set(0);
        var publish = f.CreateHistogram("fabric_snapshot_publish_seconds", "Time to compose and publish a forwarding snapshot",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.00001, 2, 18) });
        var rtt = f.CreateHistogram("fabric_cluster_peer_rtt_seconds", "Round trip of an actor message to another member, over the cluster transport",
            new HistogramConfiguration { LabelNames = ["peer"], Buckets = Histogram.ExponentialBuckets(0.0001, 2, 16) });

        Registry.AddBeforeCollectCallback(Collect);
        _listener = runtime.System.ActorOf(Props.Create(() => new MetricsListener(runtime, publish, rtt, alarms)));
    }

    public CollectorRegistry Registry { get; }

    public void Dispose() => _listener.Tell(PoisonPill.Instance);

    private void Collect()
    {
        lock (_gate)
        {
            var snapshot = _runtime.Snapshots.Current;
            _snapshotVersion.Set(snapshot.Version);
            _ready.Set(_runtime.IsReady ? 1 : 0);

            _portSeries.Begin();
            foreach (var p in snapshot.Ports)
            {
                if (p is null) continue;
                var key = $"{p.Name}\0{p.Vni}";
                string[] labels = [p.Name, Vni(p.Vni)];
                var c = p.Counters;
                _portSeries.Set(key, c, _portRxPackets, labels, c.RxPackets);
                _portSeries.Set(key, c, _portRxBytes, labels, c.RxBytes);
                _portSeries.Set(key, c, _portTxPackets, labels, c.TxPackets);
                _portSeries.Set(key, c, _portTxBytes, labels, c.TxBytes);
                Drops(_portSeries, key, c, _portDrops, labels, c.Drops);
            }
            _portSeries.End();

            _vniSeries.Begin();
            foreach (var n in snapshot.Networks.Values)
            {
                var key = Vni(n.Vni);
                string[] labels = [key, n.Name];
                var c = n.Counters;
                _vniSeries.Set(key, c, _vniRxPackets, labels, c.RxPackets);
                _vniSeries.Set(key, c, _vniRxBytes, labels, c.RxBytes);
                _vniSeries.Set(key, c, _vniTxPackets, labels, c.TxPackets);
                _vniSeries.Set(key, c, _vniTxBytes, labels, c.TxBytes);
                _vniSeries.Set(key, c, _vniEncap, labels, c.Encapsulated);
                _vniSeries.Set(key, c, _vniDecap, labels, c.Decapsulated);
                _vniSeries.Set(key, c, _vniFlooded, labels, c.Flooded);
                _vniSeries.Set(key, c, _vniArpAnswered, labels, c.ArpAnswered);
                Drops(_vniSeries, key, c, _vniDrops, labels, c.Drops);
            }
            _vniSeries.End();

            if (_runtime.Engine is { } engine)
            {
                var g = engine.Counters;
                _packets.IncTo(g.Packets);
                _batches.IncTo(g.Batches);
                _eventsLost.IncTo(Math.Max(g.EventsLost, engine.Events.Lost));
                var globalDrops = g.Drops;
                for (int i = 1; i < globalDrops.Length; i++)
                {
                    var v = globalDrops[i];
                    var reason = DropReasons.Name((DropReason)i);
                    if (v != 0 || _globalReasons.Contains(reason))
                    {
                        _globalReasons.Add(reason);
                        _globalDrops.WithLabels(reason).IncTo(v);
                    }
                }
            }

            var members = _runtime.Members();
            _clusterSize.Set(members.Count);
            _unreachable.Set(members.Count(m => !m.Reachable));
            foreach (var status in new[] { "joining", "weaklyup", "up", "leaving", "exiting", "down", "removed" })
                _members.WithLabels(status).Set(members.Count(m => m.Status == status));
        }
    }

    /// <summary>Only the reasons that happened (a table of forty zeros helps nobody); once seen, a reason keeps its series.</summary>
    private static void Drops(Series series, string key, object source, Counter counter, string[] labels, long[] drops)
    {
        for (int i = 1; i < drops.Length; i++)
        {
            var v = Volatile.Read(ref drops[i]);
            string[] withReason = [.. labels, DropReasons.Name((DropReason)i)];
            if (v != 0 || series.Has(key, counter, withReason)) series.Set(key, source, counter, withReason, v);
        }
    }

    private static string Vni(int vni) => vni.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The labelled series of each port or VNI, so they can be dropped when it goes away or its counters are replaced.</summary>
    private sealed class Series
    {
        private sealed class Entry
        {
            public required object Source;
            public readonly HashSet<(Counter Counter, string Labels)> Emitted = new();
            public bool Seen;
        }

        private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);

        public void Begin()
        {
            foreach (var e in _entries.Values) e.Seen = false;
        }

        public bool Has(string key, Counter counter, string[] labels)
            => _entries.TryGetValue(key, out var e) && e.Emitted.Contains((counter, string.Join('\0', labels)));

        public void Set(string key, object source, Counter counter, string[] labels, long value)
        {
            if (_entries.TryGetValue(key, out var e) && !ReferenceEquals(e.Source, source))
            {
                Remove(e);
                _entries.Remove(key);
                e = null;
            }
            if (e is null) _entries[key] = e = new Entry { Source = source };
            e.Seen = true;
            e.Emitted.Add((counter, string.Join('\0', labels)));
            counter.WithLabels(labels).IncTo(value);
        }

        public void End()
        {
            foreach (var (key, e) in _entries.Where(kv => !kv.Value.Seen).ToArray())
            {
                Remove(e);
                _entries.Remove(key);
            }
        }

        private static void Remove(Entry e)
        {
            foreach (var (counter, labels) in e.Emitted) counter.RemoveLabelled(labels.Split('\0'));
        }
    }

    /// <summary>How many peers each round trip probe asks (<see cref="MetricsListener"/>).</summary>
    internal const int PeersPerProbe = 4;

    /// <summary>The next <paramref name="k"/> of <paramref name="peers"/> (ordered) from <paramref name="cursor"/>, round robin; all of them when there are no more.</summary>
    internal static IReadOnlyList<T> NextPeers<T>(IReadOnlyList<T> peers, ref int cursor, int k)
    {
        if (peers.Count <= k) return peers;
        var start = (int)((uint)cursor % (uint)peers.Count);
        var result = new T[k];
        for (var i = 0; i < k; i++) result[i] = peers[(start + i) % peers.Count];
        cursor = (start + k) % peers.Count;
        return result;
    }

    /// <summary>
    /// Observes <see cref="SnapshotPublished"/> on the node's event stream, and every few seconds asks the next
    /// <see cref="PeersPerProbe"/> other Up members' <c>query</c> actors to identify themselves (Akka's built-in
    /// <see cref="Identify"/>) to time the round trip: every peer of a small cluster each round, and a bounded number of
    /// messages whatever the cluster's size (issue 10: asking every member every 5 s was 200 round trips a second per node
    /// at 1,000 nodes).
    /// </summary>
    private sealed class MetricsListener : ReceiveActor, IWithTimers
    {
        private sealed record Probe { public static readonly Probe Instance = new(); }
        private static readonly TimeSpan ProbeInterval = TimeSpan.FromSeconds(5);
        private int _cursor;

        // The alarms this node holds, as raised and cleared on its event stream (and read once at start).
        private readonly HashSet<(string Kind, string Key)> _alarms = new();

        public MetricsListener(FabricRuntime runtime, Histogram publish, Histogram rtt, Gauge alarms)
        {
            void Count()
            {
                foreach (var kind in AlarmKinds.All) alarms.WithLabels(kind).Set(_alarms.Count(a => a.Kind == kind));
            }
            Receive<SnapshotPublished>(p => publish.Observe(p.BuildTime.TotalSeconds));
            Receive<AlarmRaised>(r => { _alarms.Add((r.Alarm.Kind, r.Alarm.Key)); Count(); });
            Receive<AlarmCleared>(c => { _alarms.Remove((c.Alarm.Kind, c.Alarm.Key)); Count(); });
            Receive<AlarmListing>(l => { foreach (var a in l.Alarms) _alarms.Add((a.Kind, a.Key)); Count(); });
            Receive<Status.Failure>(_ => { });
            Receive<Probe>(_ =>
            {
                var self = runtime.Node.Address;
                var up = runtime.Node.Cluster.State.Members.Where(m => m.Status == Akka.Cluster.MemberStatus.Up && !m.Address.Equals(self)).ToArray();
                foreach (var m in NextPeers(up, ref _cursor, PeersPerProbe))
                {
                    var peer = NodeIdentity.Of(m)?.Name ?? m.Address.ToString();
                    var started = System.Diagnostics.Stopwatch.GetTimestamp();
                    Context.System.ActorSelection($"{m.Address}/user/query")
                        .Ask<ActorIdentity>(new Identify(null), TimeSpan.FromSeconds(2))
                        .ContinueWith(t =>
                        {
                            if (t.IsCompletedSuccessfully)
                                rtt.WithLabels(peer).Observe(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
                        }, TaskScheduler.Default);
                }
            });
        }

        public ITimerScheduler Timers { get; set; } = null!;

        protected override void PreStart()
        {
            Context.System.EventStream.Subscribe(Self, typeof(SnapshotPublished));
            Context.System.EventStream.Subscribe(Self, typeof(AlarmRaised));
            Context.System.EventStream.Subscribe(Self, typeof(AlarmCleared));
            Context.ActorSelection("/user/alarms").Ask<AlarmListing>(GetAlarms.Instance, TimeSpan.FromSeconds(5)).PipeTo(Self);
            Timers.StartPeriodicTimer("probe", Probe.Instance, ProbeInterval);
        }

        protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);
    }
}
