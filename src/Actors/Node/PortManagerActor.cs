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

namespace Fabric.Actors.Node;

/// <summary>
/// Plugs this node's endpoints in: for every endpoint the configuration places here it creates the port (a TAP
/// device, inside its namespace when one is named, or an in-process guest), hands it to the dataplane engine, and
/// tells the VTEP actors and the snapshot publisher which port id each endpoint has. Endpoints that leave (deleted,
/// moved away) are unplugged. Also runs pings from guest endpoints. Named <c>ports</c>.
/// </summary>
public sealed class PortManagerActor : ReceiveActor, IWithTimers
{
    private sealed record Plugged(Endpoint Endpoint, int PortId, PortCounters Counters, IDataplanePort? Port, GuestMachine? Guest, string? Error, int Failures = 0);
    private sealed record AnnounceGuest(string EndpointId);
    private sealed record RetryFailedPlugs { public static readonly RetryFailedPlugs Instance = new(); }
    private sealed record UnplugLeaving(string EndpointId);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly NodeIdentity _self;
    private readonly DataplaneEngine? _engine;
    private readonly IReadOnlyList<IActorRef> _subscribers;
    private readonly int _tapMtu;
    private readonly Dictionary<string, Plugged> _plugged = new();
    // Guests moved to another node, still delivered to here until the new node has announced them (make-before-break).
    private readonly Dictionary<string, Plugged> _leaving = new();
    private int _nextPortId = 1;
    private ConfigurationListing? _listing;

    public PortManagerActor(NodeIdentity self, DataplaneEngine? engine, IReadOnlyList<IActorRef> subscribers, int tapMtu)
    {
        _self = self;
        _engine = engine;
        _subscribers = subscribers;
        _tapMtu = tapMtu;
        Receive<ConfigurationUpdated>(u => Reconcile(u.Listing));
        Receive<RetryFailedPlugs>(_ => { if (_listing is not null) Reconcile(_listing); });
        Receive<AnnounceGuest>(a => { if (_plugged.TryGetValue(a.EndpointId, out var p)) p.Guest?.SendGratuitousArp(); });
        // The VTEP actor saw the new node announce it: a short grace for frames peers sent before they switched.
        Receive<ReleaseMovedPort>(r => { if (_leaving.ContainsKey(r.EndpointId)) Timers.StartSingleTimer($"leave-{r.EndpointId}", new UnplugLeaving(r.EndpointId), LeavingGrace); });
        Receive<UnplugLeaving>(u =>
        {
            if (!_leaving.Remove(u.EndpointId, out var p)) return;
            Unplug(p);
            if (_listing is not null) Reconcile(_listing);
        });
        ReceiveAsync<PingFromEndpoint>(Ping);
        Receive<GetPortErrors>(_ => Sender.Tell(_plugged.Values.Where(p => p.Error is not null).ToDictionary(p => p.Endpoint.Id, p => p.Error!)));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    private static readonly TimeSpan LeavingGrace = TimeSpan.FromMilliseconds(500);
    // If the new node never announces the endpoint (its port cannot be made), the old port goes after this anyway.
    private static readonly TimeSpan LeavingAtMost = TimeSpan.FromSeconds(30);

    public static Props Props(NodeIdentity self, DataplaneEngine? engine, IReadOnlyList<IActorRef> subscribers, int tapMtu = 1450)
        => Akka.Actor.Props.Create(() => new PortManagerActor(self, engine, subscribers, tapMtu));

    protected override void PostStop()
    {
        foreach (var p in _plugged.Values.Concat(_leaving.Values)) Unplug(p);
    }

    private void Reconcile(ConfigurationListing listing)
    {
        _listing = listing;
        var networks = listing.Networks.ToDictionary(n => n.Id);
        var wanted = listing.Endpoints.Where(e => e.Node == _self.Name && networks.ContainsKey(e.Network)).ToDictionary(e => e.Id);
        var movedAway = listing.Endpoints.Where(e => e.Node != _self.Name).Select(e => e.Id).ToHashSet();
        foreach (var gone in _plugged.Keys.Where(id => !wanted.ContainsKey(id)).ToArray())
        {
            _plugged.Remove(gone, out var p);
            // A guest is in-process: it can stay plugged here while the new node plugs its own. A TAP cannot (the
            // new node wants its device name), so it is break-before-make.
            if (p!.Guest is not null && p.Error is null && movedAway.Contains(gone))
            {
                _leaving[gone] = p;
                Timers.StartSingleTimer($"leave-{gone}", new UnplugLeaving(gone), LeavingAtMost);
            }
            else Unplug(p);
        }
        foreach (var back in _leaving.Keys.Where(id => !movedAway.Contains(id)).ToArray())
        {
            _leaving.Remove(back, out var p);
            Timers.Cancel($"leave-{back}");
            Unplug(p!);
        }
        foreach (var e in wanted.Values)
        {
            if (_plugged.TryGetValue(e.Id, out var p))
            {
                // Identity or attachment changed, or the port could not be made: (re)plug. Anything else (a move
                // sequence) keeps the port.
                if (p.Error is null && p.Endpoint.Mac == e.Mac && p.Endpoint.Ip == e.Ip && p.Endpoint.PrefixLength == e.PrefixLength && p.Endpoint.Port == e.Port && p.Endpoint.Subnet == e.Subnet)
                {
                    _plugged[e.Id] = p with { Endpoint = e };
                    continue;
                }
                Unplug(p);
            }
            var failures = p?.Error is not null ? p.Failures : 0;
            _plugged[e.Id] = Plug(e, networks[e.Network]);
            if (_plugged[e.Id].Error is not null) _plugged[e.Id] = _plugged[e.Id] with { Failures = failures + 1 };
            if (e.MoveSeq > 0 && _plugged[e.Id].Guest is not null)
                Timers.StartSingleTimer($"announce-{e.Id}", new AnnounceGuest(e.Id), TimeSpan.FromMilliseconds(200));
        }
        var ports = ImmutableDictionary.CreateBuilder<string, PortState>();
        foreach (var p in _plugged.Values.Concat(_leaving.Values))
        {
            if (p.Error is not null || !networks.TryGetValue(p.Endpoint.Network, out var net)) continue;
            var subnetIndex = -1;
            for (int i = 0; i < net.Subnets.Count; i++) if (net.Subnets[i].Id == p.Endpoint.Subnet) subnetIndex = i;
            ports[p.Endpoint.Id] = new PortState(p.PortId, p.Endpoint.Name, net.Vni, p.Endpoint.Mac, p.Endpoint.Ip ?? default,
                p.Endpoint.SourceCheck, net.Kind == Intent.NetworkKind.L3 ? subnetIndex : -1, p.Counters);
        }
        var msg = new LocalPortsChanged(ports.ToImmutable());
        foreach (var s in _subscribers) s.Tell(msg);

        // A failed port is retried with backoff: the cause is often transient. A TAP moving between two nodes of one
        // host into the same namespace finds the old node's device (same name) still there until that node unplugs.
        var failing = _plugged.Values.Where(p => p.Error is not null).Select(p => p.Failures).DefaultIfEmpty().Min();
        if (failing > 0 && !Timers.IsTimerActive("retry-plugs"))
            Timers.StartSingleTimer("retry-plugs", RetryFailedPlugs.Instance,
                TimeSpan.FromMilliseconds(Math.Min(10_000, 100 << Math.Min(failing - 1, 7))));
    }

    private Plugged Plug(Endpoint e, NetworkView net)
    {
        var id = _nextPortId++;
        var counters = new PortCounters();
        var subnet = net.Subnets.FirstOrDefault(s => s.Id == e.Subnet);
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
                port = TapPort.Create(id, new TapSettings(device, e.Mac, e.Ip ?? default, prefix.Length, gateway, e.Port.Namespace, _tapMtu));
            }
            else
            {
                guest = new GuestMachine(e.Mac, e.Ip ?? default, prefix, gateway);
                port = new GuestPort(id, e.Name, guest);
            }
            _engine?.AddPortAsync(port).Wait(TimeSpan.FromSeconds(5));
            return new Plugged(e, id, counters, port, guest, null);
        }
        catch (Exception ex)
        {
            _log.Error(ex, "endpoint {0} ({1}): could not create its {2} port", e.Id, e.Name, e.Port.Kind);
            return new Plugged(e, id, counters, null, null, ex.Message);
        }
    }

    private void Unplug(Plugged p)
    {
        if (p.Port is null) return;
        try
        {
            if (_engine is not null) _engine.RemovePortAsync(p.PortId).Wait(TimeSpan.FromSeconds(5));
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
