using System.Collections.Immutable;
using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Fabric.Dataplane.Tables;
using NetworkState = Fabric.Dataplane.Tables.NetworkState;

namespace Fabric.Actors.Node;

/// <summary>
/// Sent to a VTEP actor once a snapshot that holds its VNI's latest built state (and the local ports of the VNI as
/// they were then) is what the dataplane forwards with. Only now may the VTEP actor announce a local endpoint: a
/// peer that steers to this node before the install would have its frames dropped here.
/// </summary>
public sealed record NetworkStateInstalled(int Vni, ForwardingSnapshot Snapshot);

/// <summary>
/// Composes the node's forwarding snapshot from the VTEP actors' per-VNI states and the local ports, and publishes
/// it to the dataplane with one reference swap. The only writer of the <see cref="SnapshotHolder"/>. Named <c>snapshot</c>.
/// An install applies only what changed since the last one (the VNIs rebuilt or removed, the ports added, changed or
/// removed) to the live snapshot, whose untouched networks and ports are shared: O(changed VNIs + changed ports), not
/// O(networks + ports). A burst of messages is one install: each change queues at most one install behind what is
/// already in the mailbox (as VtepActor's Rebuild). A builder is told its VNI is installed only once a snapshot holding
/// its latest state is live.
/// </summary>
public sealed class SnapshotPublisherActor : ReceiveActor, IWithTimers
{
    private sealed record InstallNow { public static readonly InstallNow Instance = new(); }

    /// <summary>
    /// Test hook, zero in production: hold every install back this long (coalesced), to force the race between a
    /// node's announcements and its own install that a loaded machine produces only by chance.
    /// </summary>
    public const string InstallDelayPath = "fabric.test.snapshot-install-delay";

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly SnapshotHolder _holder;
    private readonly TimeSpan _installDelay;
    // The latest state of each VNI, and who built it: they are told when it is live.
    private readonly Dictionary<int, NetworkState> _networks = new();
    private readonly Dictionary<int, IActorRef> _builders = new();
    // Builders their manager stopped, until they have terminated: what they send meanwhile (a state built while the
    // stop was on its way) is stale and must not bring a released VNI back into the snapshot.
    private readonly HashSet<IActorRef> _stopped = new();
    private readonly HashSet<int> _unacknowledged = new();
    // The local ports as last told, by endpoint id, and the port ids of each VNI (a port waits in the snapshot for its
    // network's state; it leaves with it).
    private ImmutableDictionary<string, PortState> _ports = ImmutableDictionary<string, PortState>.Empty;
    private readonly Dictionary<int, HashSet<int>> _portIdsByVni = new();
    // Port id → the endpoint it belongs to and its state (value-equal to the one in _ports: unchanged ports are not
    // re-read, so the instances may differ).
    private readonly Dictionary<int, (string Endpoint, PortState Port)> _portById = new();
    // What changed since the last install.
    private readonly HashSet<int> _changedVnis = new();
    private readonly HashSet<int> _changedPorts = new();
    private ForwardingSnapshot _live;
    private bool _installQueued;
    private long _version;

    public SnapshotPublisherActor(SnapshotHolder holder, VtepEndpoint localVtep)
    {
        _holder = holder;
        _installDelay = Context.System.Settings.Config.GetTimeSpan(InstallDelayPath, TimeSpan.Zero, allowInfinite: false);
        _live = ForwardingSnapshot.Create(localVtep, [], [], 0);
        Receive<NetworkStateBuilt>(b =>
        {
            if (_stopped.Contains(Sender)) return;
            _networks[b.Vni] = b.State;
            _builders[b.Vni] = Sender;
            _unacknowledged.Add(b.Vni);
            _changedVnis.Add(b.Vni);
            Install();
        });
        Receive<NetworkStateRemoved>(r =>
        {
            if (r.Stopped is { } stopped && _stopped.Add(stopped)) Context.Watch(stopped);
            // A newer builder of the VNI may have built already: its state stays.
            if (r.Stopped is not null && _builders.TryGetValue(r.Vni, out var current) && !current.Equals(r.Stopped)) return;
            _builders.Remove(r.Vni);
            _unacknowledged.Remove(r.Vni);
            if (!_networks.Remove(r.Vni)) return;
            _changedVnis.Add(r.Vni);
            Install();
        });
        Receive<LocalPortsChanged>(p =>
        {
            var before = _ports;
            _ports = p.Ports;
            if (p.Changed is { } changed)
                foreach (var id in changed) PortChanged(id, before);
            else
            {
                // The sender did not say what changed: compare every port (O(ports)).
                foreach (var (id, port) in p.Ports)
                    if (!before.TryGetValue(id, out var had) || !had.Equals(port)) PortChanged(id, before);
                foreach (var (id, _) in before)
                    if (!p.Ports.ContainsKey(id)) PortChanged(id, before);
            }
            Install();
        });
        // Its last message is in the mailbox before this (Terminated is queued behind what the actor sent).
        Receive<Terminated>(t => _stopped.Remove(t.ActorRef));
        Receive<InstallNow>(_ => { _installQueued = false; Publish(); });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(SnapshotHolder holder, VtepEndpoint localVtep)
        => Akka.Actor.Props.Create(() => new SnapshotPublisherActor(holder, localVtep));

    /// <summary>Endpoint <paramref name="endpointId"/>'s port may differ from <paramref name="before"/>: note the port ids to apply.</summary>
    private void PortChanged(string endpointId, ImmutableDictionary<string, PortState> before)
    {
        before.TryGetValue(endpointId, out var had);
        _ports.TryGetValue(endpointId, out var now);
        if (had is not null && (now is null || now.Id != had.Id || now.Vni != had.Vni))
        {
            // Gone, or replaced by another port: its id leaves (unless another endpoint took it over meanwhile).
            if (_portById.TryGetValue(had.Id, out var cur) && cur.Endpoint == endpointId)
            {
                _portById.Remove(had.Id);
                if (_portIdsByVni.TryGetValue(had.Vni, out var ids) && ids.Remove(had.Id) && ids.Count == 0) _portIdsByVni.Remove(had.Vni);
                _changedPorts.Add(had.Id);
            }
        }
        if (now is null || ReferenceEquals(now, had)) return;
        _portById[now.Id] = (endpointId, now);
        if (!_portIdsByVni.TryGetValue(now.Vni, out var set)) _portIdsByVni[now.Vni] = set = new HashSet<int>();
        set.Add(now.Id);
        _changedPorts.Add(now.Id);
        // A VNI whose ports changed is told again: its builder may be waiting for a port to be live to announce it.
        if (had is null || had.Id != now.Id) _unacknowledged.Add(now.Vni);
    }

    private void Install()
    {
        if (_installDelay > TimeSpan.Zero)
        {
            if (!Timers.IsTimerActive("install")) Timers.StartSingleTimer("install", InstallNow.Instance, _installDelay);
            return;
        }
        if (_installQueued) return;
        _installQueued = true;
        Self.Tell(InstallNow.Instance); // behind whatever is queued already: a burst of changes is one install
    }

    private void Publish()
    {
        var sw = Stopwatch.StartNew();
        ForwardingSnapshot snapshot;
        try
        {
            var b = _live.ToBuilder();
            foreach (var vni in _changedVnis)
            {
                var had = b.Network(vni) is not null;
                if (_networks.TryGetValue(vni, out var state))
                {
                    b.SetNetwork(state);
                    // A port whose network had no state waited outside the snapshot (dropped as UnknownPort): now it is in.
                    if (!had && _portIdsByVni.TryGetValue(vni, out var waiting)) _changedPorts.UnionWith(waiting);
                }
                else if (had)
                {
                    b.RemoveNetwork(vni);
                    if (_portIdsByVni.TryGetValue(vni, out var orphans)) _changedPorts.UnionWith(orphans);
                }
            }
            foreach (var id in _changedPorts)
            {
                if (_portById.TryGetValue(id, out var owned) && _networks.ContainsKey(owned.Port.Vni)) b.SetPort(owned.Port);
                else b.RemovePort(id);
            }
            snapshot = b.ToSnapshot(++_version);
            _holder.Publish(snapshot);
            _live = snapshot;
            _changedVnis.Clear();
            _changedPorts.Clear();
            Context.System.EventStream.Publish(new SnapshotPublished(_version, sw.Elapsed));
        }
        catch (Exception e)
        {
            // Nobody is told: what they built is not live, so nothing of it may be announced.
            _log.Error(e, "could not compose the forwarding snapshot; the dataplane keeps the previous one");
            return;
        }
        foreach (var vni in _unacknowledged)
            if (_builders.TryGetValue(vni, out var builder)) builder.Tell(new NetworkStateInstalled(vni, snapshot));
        _unacknowledged.Clear();
    }
}
