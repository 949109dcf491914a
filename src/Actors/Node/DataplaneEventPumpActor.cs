using Akka.Actor;
using Fabric.Dataplane.Events;

namespace Fabric.Actors.Node;

/// <summary>Asks the pump how often it has drained and whether it waits for the dataplane's call (tests, diagnostics).</summary>
public sealed record GetPumpStats { public static readonly GetPumpStats Instance = new(); }

public sealed record PumpStats(long Drains, bool Parked);

/// <summary>
/// Drains the dataplane's event ring and hands each VNI's events to the VTEP manager. Actors never see packets, only
/// these few events, already rate-limited by the dataplane. Named <c>dataplane-events</c>.
/// <para>
/// While events flow it drains every <c>interval</c> (5 ms), so a burst costs one message per VNI per interval. A drain
/// that finds the ring empty parks the pump: no timer runs, and the dataplane thread's next write calls it back
/// (<see cref="EventRing.Arm"/>). Issue 10: the pump used to poll an empty ring on a timer (every 5 ms, later backing
/// off to 100 ms), wake-ups an idle node paid for nothing, and the first event after a quiet spell (a new guest's first
/// learned MAC, a move) waited up to that timer plus a scheduler tick (~133 ms); now it is read at once.
/// </para>
/// </summary>
public sealed class DataplaneEventPumpActor : ReceiveActor, IWithTimers
{
    private sealed record Drain { public static readonly Drain Instance = new(); }

    private readonly EventRing _ring;

    public DataplaneEventPumpActor(EventRing ring, IActorRef vteps, TimeSpan interval)
    {
        _ring = ring;
        var byVni = new Dictionary<int, List<DataplaneEvent>>();
        var drains = 0L;
        var parked = false;
        var self = Self;
        ring.OnWrite(() => self.Tell(Drain.Instance, ActorRefs.NoSender));
        Receive<GetPumpStats>(_ => Sender.Tell(new PumpStats(drains, parked)));
        Receive<Drain>(_ =>
        {
            drains++;
            parked = false;
            var n = 0;
            while (n < 4096 && ring.TryRead(out var e))
            {
                if (!byVni.TryGetValue(e.Vni, out var list)) byVni[e.Vni] = list = new List<DataplaneEvent>();
                list.Add(e);
                n++;
            }
            if (n == 0)
            {
                // Empty: wait for the dataplane's call; an event that raced the arming is read after interval.
                if (ring.Arm()) parked = true;
                else Timers!.StartSingleTimer("drain", Drain.Instance, interval);
                return;
            }
            Timers!.StartSingleTimer("drain", Drain.Instance, interval);
            foreach (var (vni, list) in byVni)
            {
                if (list.Count == 0) continue;
                vteps.Tell(new DataplaneEvents(vni, list.ToArray()));
                list.Clear();
            }
        });
        self.Tell(Drain.Instance);
    }

    protected override void PostStop() => _ring.OnWrite(null);

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(EventRing ring, IActorRef vteps, TimeSpan? interval = null)
        => Akka.Actor.Props.Create(() => new DataplaneEventPumpActor(ring, vteps, interval ?? TimeSpan.FromMilliseconds(5)));
}
