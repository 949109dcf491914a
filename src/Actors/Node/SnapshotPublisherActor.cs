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
    private readonly VtepEndpoint _localVtep;
    private readonly TimeSpan _installDelay;
    private readonly Dictionary<int, NetworkState> _networks = new();
    // Who built each VNI's state, and which VNIs changed since the last install: they are told when it is live.
    private readonly Dictionary<int, IActorRef> _builders = new();
    private readonly HashSet<int> _unacknowledged = new();
    private ImmutableDictionary<string, PortState> _ports = ImmutableDictionary<string, PortState>.Empty;
    private long _version;

    public SnapshotPublisherActor(SnapshotHolder holder, VtepEndpoint localVtep)
    {
        _holder = holder;
        _localVtep = localVtep;
        _installDelay = Context.System.Settings.Config.GetTimeSpan(InstallDelayPath, TimeSpan.Zero, allowInfinite: false);
        Receive<NetworkStateBuilt>(b =>
        {
            _networks[b.Vni] = b.State;
            _builders[b.Vni] = Sender;
            _unacknowledged.Add(b.Vni);
            Install();
        });
        Receive<NetworkStateRemoved>(r =>
        {
            _builders.Remove(r.Vni);
            _unacknowledged.Remove(r.Vni);
            if (_networks.Remove(r.Vni)) Install();
        });
        Receive<LocalPortsChanged>(p =>
        {
            // A VNI whose ports changed is told again: its builder may be waiting for a port to be live to announce it.
            foreach (var (id, port) in p.Ports)
                if (!_ports.TryGetValue(id, out var had) || had.Id != port.Id) _unacknowledged.Add(port.Vni);
            _ports = p.Ports;
            Install();
        });
        Receive<InstallNow>(_ => Publish());
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(SnapshotHolder holder, VtepEndpoint localVtep)
        => Akka.Actor.Props.Create(() => new SnapshotPublisherActor(holder, localVtep));

    private void Install()
    {
        if (_installDelay <= TimeSpan.Zero) Publish();
        else if (!Timers.IsTimerActive("install")) Timers.StartSingleTimer("install", InstallNow.Instance, _installDelay);
    }

    private void Publish()
    {
        var sw = Stopwatch.StartNew();
        // A port whose network has no state yet waits for it: the dataplane drops its frames as UnknownPort meanwhile.
        var ports = _ports.Values.Where(p => _networks.ContainsKey(p.Vni));
        ForwardingSnapshot snapshot;
        try
        {
            snapshot = ForwardingSnapshot.Create(_localVtep, _networks.Values, ports, ++_version);
            _holder.Publish(snapshot);
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
