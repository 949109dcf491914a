using System.Net;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Fabric.Actors.Node;

namespace Fabric.Actors.Alarms;

/// <summary>Path MTU probing (<c>fabric.path-mtu</c> in hocon/fabric.conf).</summary>
public sealed record PathMtuSettings(bool Enabled, int Port, TimeSpan Interval, TimeSpan Timeout, int Budget, int OverlayMtu)
{
    /// <summary>The IPv4 packet a full overlay frame makes on the underlay: overlay MTU + 14 (inner Ethernet) + 8 (VXLAN) + 8 (UDP) + 20 (IPv4).</summary>
    public int Target => OverlayMtu + Encapsulation;

    /// <summary>What encapsulation adds to an overlay IP packet: the same sum the dataplane's too-big check uses.</summary>
    public const int Encapsulation = Fabric.Dataplane.Pipeline.PipelineContext.OuterOverhead + Fabric.Dataplane.Packets.EthernetFrame.HeaderLength;

    /// <summary>The probe port of a node whose VTEP listens on <paramref name="vtepPort"/>.</summary>
    public int PortFor(int vtepPort) => Port > 0 ? Port : vtepPort + 1;

    public static PathMtuSettings From(Akka.Configuration.Config config)
    {
        var c = config.GetConfig("fabric.path-mtu");
        return new PathMtuSettings(
            c?.GetBoolean("enabled", true) ?? true,
            c?.GetInt("port", 0) ?? 0,
            c?.GetTimeSpan("interval", TimeSpan.FromSeconds(30)) ?? TimeSpan.FromSeconds(30),
            c?.GetTimeSpan("timeout", TimeSpan.FromSeconds(2)) ?? TimeSpan.FromSeconds(2),
            c?.GetInt("budget", 16) ?? 16,
            config.GetInt("fabric.dataplane.tap-mtu", 1450));
    }
}

/// <summary>
/// Probes the underlay path MTU from this node to the other members' VTEPs (<see cref="PathMtuSocket"/>: DF-set UDP
/// datagrams of the target size, overlay MTU + the encapsulation (50 bytes over IPv4), and a ladder of usual smaller sizes in the same round, so one round
/// trip names the size that fits). A path on which the target is lost while a smaller probe comes back raises a
/// <c>path-mtu</c> alarm on the <c>alarms</c> actor, naming both ends and the largest size that came back; a round in
/// which the target comes back clears it. A peer that answers nothing leaves its path as it was (it says nothing about
/// the MTU), and a member that leaves takes its path's alarm with it. Named <c>path-mtu</c>.
/// </summary>
/// <remarks>
/// Bounded whatever the cluster's size: each round (every <c>interval</c>, 30 s) probes at most <c>budget</c> peers (16):
/// new members and alarmed paths first, then the others round robin. A member that comes up is probed within 1-4 s
/// (cost per change: one ladder from each node, ~15 datagrams of at most the target size: ~15,000 datagrams, ~18 MB, to
/// the newcomer over those seconds at 1,000 nodes). At 1,000 nodes: 16 peers ×
/// ~15 datagrams ≈ 240 datagrams (~200 KB) per node per 30 s, ~8 datagrams/s sent and as many answered per node; every
/// path is re-checked every 1,000 / 16 × 30 s ≈ 31 min, an alarmed one every round. State: one entry per alarmed path.
/// </remarks>
public sealed class PathMtuActor : ReceiveActor, IWithTimers
{
    private sealed record Round { public static readonly Round Instance = new(); }
    private sealed record Judge(long Round);
    private sealed record Answered(IPEndPoint From, long Round, int Size);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly NodeIdentity _self;
    private readonly IActorRef _alarms;
    private readonly PathMtuSettings _settings;
    private readonly PathMtuPlan _plan;
    private readonly HashSet<string> _urgent = new(StringComparer.Ordinal);
    // Paths with an alarm held now, by peer name (the alarm's key).
    private readonly Dictionary<string, string> _alarmed = new(StringComparer.Ordinal);
    // The round in flight: the peers asked, by probe endpoint, with the sizes each answered.
    private readonly Dictionary<IPEndPoint, (NodeIdentity Peer, List<int> Sizes)> _asked = new();
    private PathMtuSocket? _socket;
    private long _round;

    public ITimerScheduler Timers { get; set; } = null!;

    public PathMtuActor(NodeIdentity self, IActorRef alarms, PathMtuSettings settings)
    {
        _self = self;
        _alarms = alarms;
        _settings = settings;
        _plan = new PathMtuPlan(settings.Budget);

        Receive<Round>(_ => StartRound());
        Receive<Answered>(a =>
        {
            if (a.Round == _round && _asked.TryGetValue(a.From, out var asked)) asked.Sizes.Add(a.Size);
        });
        Receive<Judge>(j => { if (j.Round == _round) JudgeRound(); });
        Receive<ClusterEvent.MemberUp>(up =>
        {
            if (NodeIdentity.Of(up.Member) is not { } id || id.Name == _self.Name) return;
            _urgent.Add(id.Name);
            // A burst of joins is one round; jittered over 1-4 s so that 1,000 nodes do not all probe the newcomer at once.
            Timers.StartSingleTimer("soon", Round.Instance, TimeSpan.FromMilliseconds(1000 + Random.Shared.Next(3000)));
        });
        Receive<ClusterEvent.MemberRemoved>(r =>
        {
            if (NodeIdentity.Of(r.Member) is { } id) Forget(id.Name);
        });
        Receive<ClusterEvent.IMemberEvent>(_ => { });
        Receive<ClusterEvent.CurrentClusterState>(_ => { });
    }

    public static Props Props(NodeIdentity self, IActorRef alarms, PathMtuSettings settings)
        => Akka.Actor.Props.Create(() => new PathMtuActor(self, alarms, settings));

    protected override void PreStart()
    {
        var local = new IPEndPoint(_self.Vtep.Address.ToIPAddress(), _settings.PortFor(_self.Vtep.Port));
        try
        {
            var self = Self;
            _socket = new PathMtuSocket(local, (from, round, size) => self.Tell(new Answered(from, round, size)));
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or PlatformNotSupportedException)
        {
            // Probing is a diagnosis, not a function of the fabric: a node without its socket forwards as before.
            _log.Warning("path MTU probing is off on this node: cannot bind UDP {0}: {1}", local, e.Message);
            return;
        }
        Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.IMemberEvent));
        var first = TimeSpan.FromMilliseconds(Random.Shared.Next(1000, Math.Max(1001, (int)_settings.Interval.TotalMilliseconds)));
        Timers.StartPeriodicTimer("round", Round.Instance, first, _settings.Interval);
    }

    protected override void PostStop()
    {
        Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);
        _socket?.Dispose();
    }

    private void StartRound()
    {
        if (_socket is null) return;
        if (_asked.Count > 0) JudgeRound(); // the previous round's answers, before starting over
        var members = Akka.Cluster.Cluster.Get(Context.System).State.Members
            .Where(m => m.Status == MemberStatus.Up)
            .Select(NodeIdentity.Of).OfType<NodeIdentity>()
            .Where(id => id.Name != _self.Name)
            .ToDictionary(id => id.Name, StringComparer.Ordinal);
        var peers = members.Keys.Order(StringComparer.Ordinal).ToArray();
        var chosen = _plan.Pick(peers, [.. _urgent, .. _alarmed.Keys]);
        _urgent.Clear();
        _round++;
        var ladder = PathMtuPlan.Ladder(_settings.Target);
        foreach (var name in chosen)
        {
            var peer = members[name];
            var to = new IPEndPoint(peer.Vtep.Address.ToIPAddress(), _settings.PortFor(peer.Vtep.Port));
            _asked[to] = (peer, new List<int>(ladder.Length));
            foreach (var size in ladder) _socket.Probe(to, _round, size);
        }
        if (chosen.Count > 0) Timers.StartSingleTimer("judge", new Judge(_round), _settings.Timeout);
    }

    private void JudgeRound()
    {
        foreach (var (_, (peer, sizes)) in _asked)
        {
            var (verdict, largest) = PathMtuPlan.Judge(_settings.Target, sizes);
            var key = $"path {_self.Name} -> {peer.Name}";
            switch (verdict)
            {
                case PathMtuVerdict.Fits:
                    if (_alarmed.Remove(peer.Name)) _alarms.Tell(new ClearAlarm(AlarmKinds.PathMtu, key));
                    break;
                case PathMtuVerdict.TooSmall:
                    _alarmed[peer.Name] = key;
                    _alarms.Tell(new RaiseAlarm(AlarmKinds.PathMtu, key,
                        $"underlay path {_self.Name} ({_self.Vtep.Address}) -> {peer.Name} (VTEP {peer.Vtep}): {_settings.Target}-byte packets " +
                        $"(overlay MTU {_settings.OverlayMtu} + {PathMtuSettings.Encapsulation} of VXLAN encapsulation) with DF set are lost; {largest} bytes fit. Raise the underlay MTU to " +
                        $"{_settings.Target} or lower fabric.dataplane.tap-mtu to {largest - PathMtuSettings.Encapsulation}"));
                    break;
            }
        }
        _asked.Clear();
    }

    private void Forget(string peer)
    {
        _urgent.Remove(peer);
        if (_alarmed.Remove(peer, out var key)) _alarms.Tell(new ClearAlarm(AlarmKinds.PathMtu, key));
    }
}
