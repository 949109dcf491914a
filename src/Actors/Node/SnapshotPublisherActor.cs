using System.Collections.Immutable;
using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Fabric.Dataplane.Tables;
using NetworkState = Fabric.Dataplane.Tables.NetworkState;

namespace Fabric.Actors.Node;

/// <summary>
/// Composes the node's forwarding snapshot from the VTEP actors' per-VNI states and the local ports, and publishes
/// it to the dataplane with one reference swap. The only writer of the <see cref="SnapshotHolder"/>. Named <c>snapshot</c>.
/// </summary>
public sealed class SnapshotPublisherActor : ReceiveActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly SnapshotHolder _holder;
    private readonly VtepEndpoint _localVtep;
    private readonly Dictionary<int, NetworkState> _networks = new();
    private ImmutableDictionary<string, PortState> _ports = ImmutableDictionary<string, PortState>.Empty;
    private long _version;

    public SnapshotPublisherActor(SnapshotHolder holder, VtepEndpoint localVtep)
    {
        _holder = holder;
        _localVtep = localVtep;
        Receive<NetworkStateBuilt>(b => { _networks[b.Vni] = b.State; Publish(); });
        Receive<NetworkStateRemoved>(r => { if (_networks.Remove(r.Vni)) Publish(); });
        Receive<LocalPortsChanged>(p => { _ports = p.Ports; Publish(); });
    }

    public static Props Props(SnapshotHolder holder, VtepEndpoint localVtep)
        => Akka.Actor.Props.Create(() => new SnapshotPublisherActor(holder, localVtep));

    private void Publish()
    {
        var sw = Stopwatch.StartNew();
        // A port whose network has no state yet waits for it: the dataplane drops its frames as UnknownPort meanwhile.
        var ports = _ports.Values.Where(p => _networks.ContainsKey(p.Vni));
        try
        {
            var snapshot = ForwardingSnapshot.Create(_localVtep, _networks.Values, ports, ++_version);
            _holder.Publish(snapshot);
            Context.System.EventStream.Publish(new SnapshotPublished(_version, sw.Elapsed));
        }
        catch (Exception e)
        {
            _log.Error(e, "could not compose the forwarding snapshot; the dataplane keeps the previous one");
        }
    }
}
