using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Fabric.Actors.Node;
using Fabric.Dataplane.Engine;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Tables;
using Fabric.Dataplane.Tracing;

namespace Fabric.Actors.Tracing;

/// <summary>
/// This node's part of the live trace (<c>/user/trace</c>): injects probes at a local port through the dataplane's
/// queue, reads the hops its dataplane recorded, and keeps the dataplane's list of Fabric member VTEPs (the only ones a
/// traced packet leaves marked for) in step with the cluster. It never touches a packet itself.
/// </summary>
public sealed class TraceActor : ReceiveActor
{
    public const string Name = "trace";

    private readonly string _node;
    private readonly SnapshotHolder _snapshots;
    // Every dataplane thread of the node: each records the hops of the packets it forwards in its own ring.
    private readonly IReadOnlyList<DataplaneEngine> _engines;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private Dictionary<VtepEndpoint, string> _nodesByVtep = new();

    public TraceActor(string node, SnapshotHolder snapshots, DataplaneGroup? dataplane)
    {
        _node = node;
        _snapshots = snapshots;
        _engines = dataplane?.Engines ?? [];
        Receive<InjectProbes>(Inject);
        Receive<GetTraceHops>(q => Sender.Tell(new TraceHopListing(_node, ReadHops(q.Probes))));
        Receive<ClusterEvent.IMemberEvent>(_ => MembersChanged());
        Receive<ClusterEvent.CurrentClusterState>(_ => MembersChanged());
    }

    public static Props Props(string node, SnapshotHolder snapshots, DataplaneGroup? dataplane)
        => Akka.Actor.Props.Create(() => new TraceActor(node, snapshots, dataplane));

    protected override void PreStart()
        => Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot, typeof(ClusterEvent.IMemberEvent));

    protected override void PostStop() => Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);

    private void MembersChanged()
    {
        var byVtep = new Dictionary<VtepEndpoint, string>();
        foreach (var m in Akka.Cluster.Cluster.Get(Context.System).State.Members)
            if (m.Status is not (MemberStatus.Removed or MemberStatus.Exiting) && NodeIdentity.Of(m) is { } id) byVtep[id.Vtep] = id.Name;
        _nodesByVtep = byVtep;
        var members = byVtep.Keys.ToHashSet();
        foreach (var engine in _engines) engine.TraceHops.FabricMembers = members;
    }

    private void Inject(InjectProbes q)
    {
        if (_engines.Count == 0) { Sender.Tell(new ProbesInjected(_node, null, $"node {_node} runs no dataplane")); return; }
        if (!Ipv4Address.TryParse(q.Destination, out var destination) || !MacAddress.TryParse(q.Mac, out var mac))
        {
            Sender.Tell(new ProbesInjected(_node, null, "bad destination or MAC"));
            return;
        }
        var protocol = q.Protocol switch { "tcp" => ProbeProtocol.Tcp, "udp" => ProbeProtocol.Udp, _ => ProbeProtocol.Icmp };
        var snapshot = _snapshots.Current;
        string? resolution = null;
        for (int k = 0; k < q.Probes.Count; k++)
        {
            var error = ProbeFrames.TryBuild(snapshot, q.Vni, mac, destination, protocol, (ushort)q.Port, q.Probes[k], (ushort)(k + 1), out var probe);
            if (error is not null) { Sender.Tell(new ProbesInjected(_node, null, error)); return; }
            resolution = probe!.Resolution;
            var trace = (q.Probes[k] & TraceMark.ProbeMask) | (q.StopAtLastHop ? TraceMark.NoDeliverBit : 0);
            // The first thread has a queue of every port (multiqueue TAPs give each thread one): the probe enters there.
            _engines[0].InjectProbe(probe.PortId, probe.Frame, trace);
        }
        _log.Info("trace: injected {0} probe(s) for {1} at port of {2} (VNI {3})", q.Probes.Count, q.Destination, q.Mac, q.Vni);
        Sender.Tell(new ProbesInjected(_node, resolution));
    }

    private List<TraceHopRow> ReadHops(IReadOnlyList<int> probes)
    {
        var rows = new List<TraceHopRow>();
        if (_engines.Count == 0) return rows;
        var snapshot = _snapshots.Current;
        var clock = TraceClock.Now();
        var wanted = probes.ToHashSet();
        // One packet is forwarded by one thread on a node, so its hops there come from one ring, in that ring's order.
        foreach (var engine in _engines)
        foreach (var hop in engine.TraceHops.Read(wanted))
            rows.Add(new TraceHopRow(hop.Probe & TraceMark.ProbeMask, TraceMark.IsReply(hop.Probe), _node, TraceNames.Stage(hop.Stage),
                TraceNames.Decision(hop, snapshot, _nodesByVtep), hop.SnapshotVersion, clock.ToUnixMicroseconds(hop.AtTicks), hop.Sequence));
        return rows;
    }
}
