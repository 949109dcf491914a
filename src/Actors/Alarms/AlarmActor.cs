using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using Fabric.Actors.Locations;

namespace Fabric.Actors.Alarms;

/// <summary>
/// The alarms this node holds while their condition lasts (API.md: <c>GET /api/v1/alarms</c>), named <c>alarms</c>:
/// <list type="bullet">
/// <item>address-conflict: from the VTEP actors' <see cref="AddressConflictAlarm"/> (a port claimed an address another
/// endpoint owns). Only repeated claims show that it lasts, so it clears after <c>hold</c> without another claim.</item>
/// <item>duplicate-mac: from the VNI directory's <see cref="DuplicateMacAlarm"/>, held by the node the last move claimed
/// (every node that follows the VNI hears it; one holds it). The MAC is frozen until an operator moves it or clears the
/// freeze; the alarm clears when the VNI's locations show the MAC moved again (its sequence rose: it is no longer frozen)
/// or withdrawn. This node follows that VNI's locations only while it holds such an alarm.</item>
/// <item>path-mtu: raised and cleared by <see cref="PathMtuActor"/> (<see cref="RaiseAlarm"/>, <see cref="ClearAlarm"/>).</item>
/// </list>
/// Raises and clears are published on the node's event stream and on the cluster topic <see cref="Topic"/> (the event
/// feeds of the nodes that have clients subscribe to it).
/// </summary>
/// <remarks>
/// Cost: O(1) per raise or clear (a dictionary), one small publish per raise or clear (nothing per refresh); the expiry
/// tick is O(held alarms) once a minute and runs only while an address conflict is held. State is bounded by
/// <see cref="AlarmBook.Capacity"/>.
/// </remarks>
public sealed class AlarmActor : ReceiveActor, IWithTimers
{
    /// <summary>The cluster topic alarm changes are published on (<see cref="AlarmRaised"/>, <see cref="AlarmCleared"/> as <see cref="AlarmChange"/>).</summary>
    public const string Topic = "fabric-alarms";

    private sealed record Expire { public static readonly Expire Instance = new(); }

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _node;
    private readonly IActorRef _locations;
    private readonly TimeSpan _conflictHold;
    private readonly AlarmBook _book;
    // Held duplicate-MAC alarms by VNI, with the MAC's sequence when first seen frozen (-1: not seen yet).
    private readonly Dictionary<int, Dictionary<string, long>> _frozen = new();
    private IActorRef? _mediator;

    public ITimerScheduler Timers { get; set; } = null!;

    public AlarmActor(string node, IActorRef locations, TimeSpan conflictHold, bool publishToCluster = true)
    {
        _node = node;
        _locations = locations;
        _conflictHold = conflictHold;
        _book = new AlarmBook(node);
        if (publishToCluster) _mediator = DistributedPubSub.Get(Context.System).Mediator;

        Receive<AddressConflictAlarm>(a => Raise(AlarmKinds.AddressConflict, $"vni {a.Vni} ip {a.Ip}",
            $"{a.Claimant} claims {a.Ip} in VNI {a.Vni}, which {a.Owner} owns"));
        Receive<DuplicateMacAlarm>(OnDuplicateMac);
        Receive<LocationsChanged>(OnLocations);
        Receive<RaiseAlarm>(r => Raise(r.Kind, r.Key, r.Detail));
        Receive<ClearAlarm>(c => Clear(c.Kind, c.Key));
        Receive<Expire>(_ =>
        {
            foreach (var a in _book.Expire(AlarmKinds.AddressConflict, _conflictHold, DateTimeOffset.UtcNow)) Cleared(a);
            if (!_book.OfKind(AlarmKinds.AddressConflict).Any()) Timers.Cancel("expire");
        });
        Receive<GetAlarms>(_ => Sender.Tell(new AlarmListing(_node, _book.Current())));
    }

    public static Props Props(string node, IActorRef locations, TimeSpan? conflictHold = null, bool publishToCluster = true)
        => Akka.Actor.Props.Create(() => new AlarmActor(node, locations, conflictHold ?? TimeSpan.FromMinutes(5), publishToCluster));

    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(AddressConflictAlarm));
        Context.System.EventStream.Subscribe(Self, typeof(DuplicateMacAlarm));
    }

    protected override void PostStop()
    {
        Context.System.EventStream.Unsubscribe(Self);
        foreach (var vni in _frozen.Keys) _locations.Tell(new UnsubscribeLocations(vni, Self));
    }

    private static string MacKey(int vni, string mac) => $"vni {vni} mac {mac}";

    private void OnDuplicateMac(DuplicateMacAlarm a)
    {
        if (a.LastNode != _node) return; // the node the last move claimed holds it; the others heard it too
        var key = MacKey(a.Vni, a.Mac.ToString());
        Raise(AlarmKinds.DuplicateMac, key,
            $"MAC {a.Mac} moved {a.Moves} times within {a.Window.TotalSeconds:0} s in VNI {a.Vni} (last claimed by {a.LastNode}); frozen where it was until an operator moves it or clears the freeze");
        if (!_frozen.TryGetValue(a.Vni, out var macs))
        {
            _frozen[a.Vni] = macs = new Dictionary<string, long>(StringComparer.Ordinal);
            _locations.Tell(new SubscribeLocations(a.Vni, Self)); // answered at once with the current map, then every change
        }
        macs.TryAdd(EndpointLocation.KeyOf(a.Vni, a.Mac), -1);
    }

    /// <summary>A frozen MAC whose sequence rose was moved again (an operator move lifted the freeze) or is gone: clear.</summary>
    private void OnLocations(LocationsChanged l)
    {
        if (!_frozen.TryGetValue(l.Vni, out var macs)) return;
        foreach (var (key, seq) in macs.ToArray())
        {
            var mac = key[(key.IndexOf('/') + 1)..];
            if (!l.Locations.TryGetValue(key, out var now)) { macs.Remove(key); Clear(AlarmKinds.DuplicateMac, MacKey(l.Vni, mac)); }
            else if (seq < 0) macs[key] = now.Seq;
            else if (now.Seq > seq) { macs.Remove(key); Clear(AlarmKinds.DuplicateMac, MacKey(l.Vni, mac)); }
        }
        if (macs.Count > 0) return;
        _frozen.Remove(l.Vni);
        _locations.Tell(new UnsubscribeLocations(l.Vni, Self));
    }

    private void Raise(string kind, string key, string detail)
    {
        if (_book.Raise(kind, key, detail, DateTimeOffset.UtcNow) is not { } raised) return;
        _log.Warning("alarm raised: {0} {1}: {2}", kind, key, detail);
        if (kind == AlarmKinds.AddressConflict && !Timers.IsTimerActive("expire"))
            Timers.StartPeriodicTimer("expire", Expire.Instance, ExpiryTick(_conflictHold));
        Context.System.EventStream.Publish(new AlarmRaised(raised));
        _mediator?.Tell(new Publish(Topic, new AlarmChange(raised, true)));
    }

    private void Clear(string kind, string key)
    {
        if (_book.Clear(kind, key) is { } cleared) Cleared(cleared);
    }

    private void Cleared(Alarm a)
    {
        _log.Info("alarm cleared: {0} {1}", a.Kind, a.Key);
        Context.System.EventStream.Publish(new AlarmCleared(a));
        _mediator?.Tell(new Publish(Topic, new AlarmChange(a, false)));
    }

    private static TimeSpan ExpiryTick(TimeSpan hold)
        => TimeSpan.FromMilliseconds(Math.Clamp(hold.TotalMilliseconds / 5, 100, 60_000));
}
