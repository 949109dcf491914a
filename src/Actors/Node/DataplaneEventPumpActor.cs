using Akka.Actor;
using Fabric.Dataplane.Events;

namespace Fabric.Actors.Node;

/// <summary>
/// Drains the dataplane's event ring on a timer and hands each VNI's events to the VTEP manager. Actors never see
/// packets, only these few events, already rate-limited by the dataplane. Named <c>dataplane-events</c>.
/// <para>
/// The timer adapts: every drain that finds events drains again after <c>interval</c> (5 ms), and every empty one doubles
/// the wait up to <c>idleInterval</c> (100 ms). A busy dataplane is drained as often as before; an idle node wakes 10
/// times a second instead of 200 (issue 10: an idle cluster under 1 % of a core). The price: the first event after a
/// quiet spell (the first learned MAC of a new guest, a move) waits up to idleInterval plus a scheduler tick before the
/// actors see it; the ones behind it, interval.
/// </para>
/// </summary>
/// <summary>Asks the pump how often it has drained and its current wait (tests, diagnostics).</summary>
public sealed record GetPumpStats { public static readonly GetPumpStats Instance = new(); }

public sealed record PumpStats(long Drains, TimeSpan Wait);

public sealed class DataplaneEventPumpActor : ReceiveActor, IWithTimers
{
    private sealed record Drain { public static readonly Drain Instance = new(); }

    public DataplaneEventPumpActor(EventRing ring, IActorRef vteps, TimeSpan interval, TimeSpan idleInterval)
    {
        if (idleInterval < interval) idleInterval = interval;
        var byVni = new Dictionary<int, List<DataplaneEvent>>();
        var wait = interval;
        var drains = 0L;
        Receive<GetPumpStats>(_ => Sender.Tell(new PumpStats(drains, wait)));
        Receive<Drain>(_ =>
        {
            drains++;
            var n = 0;
            while (n < 4096 && ring.TryRead(out var e))
            {
                if (!byVni.TryGetValue(e.Vni, out var list)) byVni[e.Vni] = list = new List<DataplaneEvent>();
                list.Add(e);
                n++;
            }
            wait = n > 0 ? interval : Next(wait, idleInterval);
            Timers!.StartSingleTimer("drain", Drain.Instance, wait);
            if (n == 0) return;
            foreach (var (vni, list) in byVni)
            {
                if (list.Count == 0) continue;
                vteps.Tell(new DataplaneEvents(vni, list.ToArray()));
                list.Clear();
            }
        });
        Timers!.StartSingleTimer("drain", Drain.Instance, interval);
    }

    /// <summary>The wait after an empty drain: doubled, at most <paramref name="idle"/>.</summary>
    internal static TimeSpan Next(TimeSpan wait, TimeSpan idle) => wait * 2 < idle ? wait * 2 : idle;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(EventRing ring, IActorRef vteps, TimeSpan? interval = null, TimeSpan? idleInterval = null)
        => Akka.Actor.Props.Create(() => new DataplaneEventPumpActor(ring, vteps,
            interval ?? TimeSpan.FromMilliseconds(5), idleInterval ?? TimeSpan.FromMilliseconds(100)));
}
