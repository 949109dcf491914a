using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using Fabric.Actors.Intent;
using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Engine;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Ports;
using Fabric.Dataplane.Ports.Guest;
using Fabric.Dataplane.Tables;
using VtepActor = Fabric.Actors.Vtep.VtepActor;

namespace Fabric.Actors.Node;

/// <summary>
/// Plugs this node's endpoints in: for every endpoint the configuration places here it creates the port (a TAP
/// device, inside its namespace when one is named, or an in-process guest), hands it to the dataplane engine, and
/// tells the VTEP actors and the snapshot publisher which port id each endpoint has. Endpoints that leave (deleted,
/// moved away) are unplugged. Also runs pings from guest endpoints. Named <c>ports</c>.
/// </summary>
/// <remarks>
/// Work follows the change: a configuration update's events name the endpoints to look at (created, moved, deleted,
/// those of a released or deleted network, those of a network whose subnets changed), each decided against the new
/// state in O(log n); only a reset looks at every endpoint this node has. Ports are added to the engine
/// asynchronously (all of one update at once) and announced once the engine has them. <see cref="LocalPortsChanged"/>
/// carries one immutable map updated in place (O(changed × log ports)), never rebuilt, with the ids that changed.
/// </remarks>
public sealed class PortManagerActor : ReceiveActor, IWithTimers
{
    private sealed record Plugged(Endpoint Endpoint, int PortId, PortCounters Counters, IDataplanePort? Port, GuestMachine? Guest, string? Error, int Failures = 0)
    {
        /// <summary>The engine has the port (or there is no engine): it may be announced.</summary>
        public bool Live { get; init; }
        /// <summary>What the dataplane is told about the port; kept while it is leaving, whatever the projection says.</summary>
        public PortState? State { get; init; }
    }
    private sealed record AnnounceGuest(string EndpointId);
    private sealed record RetryFailedPlugs { public static readonly RetryFailedPlugs Instance = new(); }
    private sealed record UnplugLeaving(string EndpointId);
    private sealed record PortsAdded((string EndpointId, int PortId, string? Error)[] Results);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly NodeIdentity _self;
    private readonly DataplaneGroup? _engine;
    private readonly IReadOnlyList<IActorRef> _subscribers;
    private readonly int _tapMtu;
    private readonly Dictionary<string, Plugged> _plugged = new(StringComparer.Ordinal);
    // Guests moved to another node, still delivered to here until the new node has announced them (make-before-break).
    // They stay even when their network leaves this node's projection (the node's last endpoint there moved away).
    private readonly Dictionary<string, Plugged> _leaving = new(StringComparer.Ordinal);
    // Plugged and leaving endpoints by network: what a released or changed network concerns, without a scan.
    private readonly Dictionary<string, HashSet<string>> _byNetwork = new(StringComparer.Ordinal);
    private readonly HashSet<string> _failed = new(StringComparer.Ordinal);
    // Port adds started in this pass, handed to the engine together once the pass is done.
    private readonly List<(string EndpointId, int PortId, Task Added)> _adding = new();
    private readonly HashSet<string> _changed = new(StringComparer.Ordinal);
    private ImmutableDictionary<string, PortState> _ports = ImmutableDictionary.Create<string, PortState>(StringComparer.Ordinal);
    private int _nextPortId = 1;
    private FabricConfiguration _state = FabricConfiguration.Empty;

    public PortManagerActor(NodeIdentity self, DataplaneGroup? engine, IReadOnlyList<IActorRef> subscribers, int tapMtu)
    {
        _self = self;
        _engine = engine;
        _subscribers = subscribers;
        _tapMtu = tapMtu;
        Receive<ConfigurationUpdated>(OnConfiguration);
        Receive<RetryFailedPlugs>(_ =>
        {
            foreach (var id in _failed.ToArray()) Evaluate(id, reset: false, null, null);
            Done(force: false);
        });
        Receive<PortsAdded>(OnPortsAdded);
        Receive<AnnounceGuest>(a => { if (_plugged.TryGetValue(a.EndpointId, out var p)) p.Guest?.SendGratuitousArp(); });
        // The VTEP actor saw the new node announce it: a short grace for frames peers sent before they switched.
        Receive<ReleaseMovedPort>(r => { if (_leaving.ContainsKey(r.EndpointId)) Timers.StartSingleTimer($"leave-{r.EndpointId}", new UnplugLeaving(r.EndpointId), LeavingGrace); });
        Receive<UnplugLeaving>(u =>
        {
            if (!_leaving.Remove(u.EndpointId, out var p)) return;
            Unplug(p);
            Done(force: false);
        });
        ReceiveAsync<PingFromEndpoint>(Ping);
        Receive<GetPortErrors>(_ => Sender.Tell(_plugged.Values.Where(p => p.Error is not null).ToDictionary(p => p.Endpoint.Id, p => p.Error!)));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    private static readonly TimeSpan LeavingGrace = TimeSpan.FromMilliseconds(500);
    // If the new node never announces the endpoint (its port cannot be made), the old port goes after this anyway.
    private static readonly TimeSpan LeavingAtMost = TimeSpan.FromSeconds(30);

    public static Props Props(NodeIdentity self, DataplaneGroup? engine, IReadOnlyList<IActorRef> subscribers, int tapMtu = 1450)
        => Akka.Actor.Props.Create(() => new PortManagerActor(self, engine, subscribers, tapMtu));

    protected override void PostStop()
    {
        var removing = new List<Task>();
        foreach (var p in _plugged.Values.Concat(_leaving.Values))
        {
            if (p.Port is null) continue;
            try
            {
                if (_engine is not null) removing.Add(_engine.RemovePortAsync(p.PortId));
                else p.Port.Dispose();
            }
            catch (Exception e)
            {
                _log.Warning("endpoint {0}: unplugging port {1} failed: {2}", p.Endpoint.Id, p.PortId, e.Message);
            }
        }
        // Once, at stop: the devices should be gone before the node reports stopped.
        try { Task.WhenAll(removing).Wait(TimeSpan.FromSeconds(5)); } catch (Exception) { /* logged by nobody: the node is going */ }
    }

    private void OnConfiguration(ConfigurationUpdated u)
    {
        _state = u.State;
        var touched = new HashSet<string>(StringComparer.Ordinal);
        HashSet<string>? released = null, deleted = null;
        if (u.Reset)
        {
            // Every endpoint this node has or had: O(endpoints of the networks it has endpoints in).
            touched.UnionWith(_plugged.Keys);
            touched.UnionWith(_leaving.Keys);
            if (_state.NodeNetworks.TryGetValue(_self.Name, out var mine))
                foreach (var network in mine.Keys)
                    foreach (var e in _state.EndpointsOf(network))
                        if (e.Node == _self.Name) touched.Add(e.Id);
        }
        else
        {
            foreach (var ev in u.Events)
            {
                switch (ev)
                {
                    case EndpointCreated x: touched.Add(x.Endpoint.Id); break;
                    case EndpointMoved x: touched.Add(x.EndpointId); break;
                    case EndpointDeleted x: touched.Add(x.EndpointId); (deleted ??= new(StringComparer.Ordinal)).Add(x.EndpointId); break;
                    case NetworkReleased x:
                        (released ??= new(StringComparer.Ordinal)).Add(x.NetworkId);
                        TouchNetwork(x.NetworkId);
                        break;
                    case NetworkDeleted x: TouchNetwork(x.NetworkId); break;
                    // The subnet index a port carries is its subnet's position in the network: recompute.
                    case SubnetCreated x: TouchNetwork(x.NetworkId); break;
                    case SubnetDeleted x: TouchNetwork(x.NetworkId); break;
                    case SubnetRouteTableBound x: TouchNetwork(x.NetworkId); break;
                }
            }
        }
        foreach (var id in touched) Evaluate(id, u.Reset, released, deleted);
        // A reset always tells (a new subscriber or a catch-up wants the whole picture); events tell only a change.
        Done(force: u.Reset);

        void TouchNetwork(string networkId)
        {
            if (_byNetwork.TryGetValue(networkId, out var ids)) touched.UnionWith(ids);
        }
    }

    /// <summary>Decides one endpoint against the current state: keep, (re)plug, leave (make-before-break) or unplug.</summary>
    private void Evaluate(string id, bool reset, HashSet<string>? released, HashSet<string>? deleted)
    {
        _state.Endpoints.TryGetValue(id, out var e);
        Intent.NetworkState? net = null;
        var wanted = e is not null && e.Node == _self.Name && _state.Networks.TryGetValue(e.Network, out net);
        // Moved away: the projection says so, or it released the endpoint's network (this node's last endpoint there
        // left) without deleting the endpoint. A reset cannot tell those apart from a delete, so it unplugs.
        var known = _plugged.GetValueOrDefault(id) ?? _leaving.GetValueOrDefault(id);
        var movedAway = e is not null
            ? e.Node != _self.Name
            : !reset && known is not null && released?.Contains(known.Endpoint.Network) == true && deleted?.Contains(id) != true;

        if (!wanted && _plugged.Remove(id, out var gone))
        {
            _failed.Remove(id);
            // A guest is in-process: it can stay plugged here while the new node plugs its own. A TAP cannot (the
            // new node wants its device name), so it is break-before-make.
            if (gone.Guest is not null && gone.Error is null && movedAway)
            {
                _leaving[id] = gone;
                Timers.StartSingleTimer($"leave-{id}", new UnplugLeaving(id), LeavingAtMost);
            }
            else Unplug(gone);
        }
        if (!movedAway && _leaving.Remove(id, out var back))
        {
            Timers.Cancel($"leave-{id}");
            Unplug(back);
        }
        if (!wanted) return;

        if (_plugged.TryGetValue(id, out var p))
        {
            // Identity or attachment changed, or the port could not be made: (re)plug. Anything else (a move
            // sequence, a subnet renumbering) keeps the port.
            if (p.Error is null && p.Endpoint.Mac == e!.Mac && p.Endpoint.Ip == e.Ip && p.Endpoint.PrefixLength == e.PrefixLength
                && p.Endpoint.Port == e.Port && p.Endpoint.Subnet == e.Subnet)
            {
                var kept = p with { Endpoint = e, State = StateOf(p, e, net!) };
                _plugged[id] = kept;
                if (kept.Live) SetPort(id, kept.State);
                return;
            }
            Unplug(p);
        }
        var failures = p?.Error is not null ? p.Failures : 0;
        var plugged = Plug(e!, net!);
        if (plugged.Error is not null)
        {
            plugged = plugged with { Failures = failures + 1 };
            _failed.Add(id);
        }
        else _failed.Remove(id);
        _plugged[id] = plugged;
        Track(id, e!.Network);
        if (plugged.Live) Went(plugged);
    }

    /// <summary>A port the engine has: announce it, and a moved guest says where it is now.</summary>
    private void Went(Plugged p)
    {
        SetPort(p.Endpoint.Id, p.State);
        if (p.Endpoint.MoveSeq > 0 && p.Guest is not null)
            Timers.StartSingleTimer($"announce-{p.Endpoint.Id}", new AnnounceGuest(p.Endpoint.Id), TimeSpan.FromMilliseconds(200));
    }

    private void OnPortsAdded(PortsAdded added)
    {
        foreach (var (id, portId, error) in added.Results)
        {
            if (!_plugged.TryGetValue(id, out var p) || p.PortId != portId) continue; // unplugged meanwhile
            if (error is null)
            {
                var live = p with { Live = true };
                _plugged[id] = live;
                Went(live);
                continue;
            }
            _log.Error("endpoint {0} ({1}): the dataplane refused its port: {2}", id, p.Endpoint.Name, error);
            try { p.Port?.Dispose(); } catch (Exception) { /* it never carried traffic */ }
            _plugged[id] = p with { Port = null, Guest = null, Error = error, Failures = p.Failures + 1 };
            _failed.Add(id);
        }
        Done(force: false);
    }

    private static PortState StateOf(Plugged p, Endpoint e, Intent.NetworkState net)
    {
        var subnetIndex = -1;
        if (net.Network.Kind == Intent.NetworkKind.L3)
        {
            var subnets = VtepActor.SubnetsInOrder(net);
            for (int i = 0; i < subnets.Count; i++) if (subnets[i].Id == e.Subnet) subnetIndex = i;
        }
        return new PortState(p.PortId, e.Name, net.Network.Vni, e.Mac, e.Ip ?? default, e.SourceCheck, subnetIndex, p.Counters);
    }

    private void SetPort(string id, PortState? state)
    {
        if (state is null)
        {
            if (_ports.ContainsKey(id)) { _ports = _ports.Remove(id); _changed.Add(id); }
            return;
        }
        if (_ports.TryGetValue(id, out var had) && had == state) return;
        _ports = _ports.SetItem(id, state);
        _changed.Add(id);
    }

    private void Track(string id, string network)
    {
        if (!_byNetwork.TryGetValue(network, out var ids)) _byNetwork[network] = ids = new(StringComparer.Ordinal);
        ids.Add(id);
    }

    private void Untrack(string id, string network)
    {
        if (_byNetwork.TryGetValue(network, out var ids) && ids.Remove(id) && ids.Count == 0) _byNetwork.Remove(network);
    }

    /// <summary>After a pass: hand the new ports to the engine at once, tell what changed, and schedule retries.</summary>
    private void Done(bool force)
    {
        if (_adding.Count > 0)
        {
            var batch = _adding.ToArray();
            _adding.Clear();
            var results = new Task<(string, int, string?)>[batch.Length];
            for (int i = 0; i < batch.Length; i++)
            {
                var (id, portId, task) = batch[i];
                results[i] = task.ContinueWith(t => (id, portId, t.IsFaulted ? t.Exception!.GetBaseException().Message : (string?)null),
                    TaskScheduler.Default);
            }
            Task.WhenAll(results).PipeTo(Self, success: r => new PortsAdded(r));
        }
        if (_changed.Count > 0 || force)
        {
            var msg = new LocalPortsChanged(_ports, _changed.ToArray());
            _changed.Clear();
            foreach (var s in _subscribers) s.Tell(msg);
        }

        // A failed port is retried with backoff: the cause is often transient. A TAP moving between two nodes of one
        // host into the same namespace finds the old node's device (same name) still there until that node unplugs.
        if (_failed.Count == 0 || Timers.IsTimerActive("retry-plugs")) return;
        var failing = int.MaxValue;
        foreach (var id in _failed)
            if (_plugged.TryGetValue(id, out var p)) failing = Math.Min(failing, p.Failures);
        if (failing is > 0 and < int.MaxValue)
            Timers.StartSingleTimer("retry-plugs", RetryFailedPlugs.Instance,
                TimeSpan.FromMilliseconds(Math.Min(10_000, 100 << Math.Min(failing - 1, 7))));
    }

    private Plugged Plug(Endpoint e, Intent.NetworkState intent)
    {
        var id = _nextPortId++;
        var counters = new PortCounters();
        var net = intent.Network;
        var subnet = e.Subnet is { } sid ? intent.Subnets.GetValueOrDefault(sid) : null;
        // The prefix the ip was written with, else the subnet's or the network's (the configuration refuses a TAP
        // endpoint for which none is known; a guest with none answers ARP for any target, so /32 does it no harm).
        var prefix = e.PrefixLength is { } length ? new Ipv4Prefix(e.Ip ?? default, length)
            : subnet?.Cidr ?? net.Cidr ?? new Ipv4Prefix(e.Ip ?? default, 32);
        var gateway = net.Kind == Intent.NetworkKind.L3 && subnet is not null ? subnet.Gateway : default;
        try
        {
            IDataplanePort port;
            GuestMachine? guest = null;
            if (e.Port.Kind == PortKind.Tap)
            {
                var device = $"fab{e.Id.Replace("-", "")}";
                if (device.Length > 15) device = device[..15];
                port = TapPort.Create(id, new TapSettings(device, e.Mac, e.Ip ?? default, prefix.Length, gateway, e.Port.Namespace, _tapMtu,
                    Queues: _engine?.Threads ?? 1)); // one queue per dataplane thread
            }
            else
            {
                guest = new GuestMachine(e.Mac, e.Ip ?? default, prefix, gateway);
                port = new GuestPort(id, e.Name, guest);
            }
            // Not waited for here: the pass's adds go to the engine together, and the ports are told once it has them.
            if (_engine is not null) _adding.Add((e.Id, id, _engine.AddPortAsync(port)));
            var plugged = new Plugged(e, id, counters, port, guest, null) { Live = _engine is null };
            return plugged with { State = StateOf(plugged, e, intent) };
        }
        catch (Exception ex)
        {
            _log.Error(ex, "endpoint {0} ({1}): could not create its {2} port", e.Id, e.Name, e.Port.Kind);
            return new Plugged(e, id, counters, null, null, ex.Message);
        }
    }

    private void Unplug(Plugged p)
    {
        SetPort(p.Endpoint.Id, null);
        Untrack(p.Endpoint.Id, p.Endpoint.Network);
        if (p.Port is null) return;
        try
        {
            if (_engine is not null)
            {
                var log = _log;
                var (endpoint, portId) = (p.Endpoint.Id, p.PortId);
                // Not waited for: the engine applies commands in order, so a later add of the same endpoint comes after.
                _engine.RemovePortAsync(p.PortId).ContinueWith(t =>
                {
                    if (t.IsFaulted) log.Warning("endpoint {0}: unplugging port {1} failed: {2}", endpoint, portId, t.Exception!.GetBaseException().Message);
                }, TaskScheduler.Default);
            }
            else p.Port.Dispose();
        }
        catch (Exception e)
        {
            _log.Warning("endpoint {0}: unplugging port {1} failed: {2}", p.Endpoint.Id, p.PortId, e.Message);
        }
    }

    private async Task Ping(PingFromEndpoint q)
    {
        var sender = Sender;
        if (!_plugged.TryGetValue(q.EndpointId, out var p) || p.Guest is null)
        {
            sender.Tell(new PingReply(0, 0, [], [], $"endpoint {q.EndpointId} has no guest port on node {_self.Name}"));
            return;
        }
        if (!Ipv4Address.TryParse(q.Target, out var target))
        {
            sender.Tell(new PingReply(0, 0, [], [], $"'{q.Target}' is not an IPv4 address"));
            return;
        }
        var guest = p.Guest;
        // Run the ping off the actor: it waits on the network, and the actor must keep serving the configuration.
        var result = await Task.Run(() => guest.PingAsync(target, q.Count, (byte)Math.Clamp(q.Ttl, 1, 255), TimeSpan.FromSeconds(1)));
        sender.Tell(new PingReply(result.Sent, result.Received, result.RttMs, result.ReplyTtl));
    }
}

public sealed record GetPortErrors { public static readonly GetPortErrors Instance = new(); }

/// <summary>From the VTEP actors: the endpoint that moved away is announced at its new node; its old port may go.</summary>
public sealed record ReleaseMovedPort(string EndpointId);
