using Akka.Actor;
using Fabric.Dataplane.Events;

namespace Fabric.Actors.Node;

/// <summary>
/// Drains the dataplane's event ring on a short timer and hands each VNI's events to the VTEP manager. Actors
/// never see packets, only these few events, already rate-limited by the dataplane. Named <c>dataplane-events</c>.
/// </summary>
public sealed class DataplaneEventPumpActor : ReceiveActor, IWithTimers
{
    private sealed record Drain { public static readonly Drain Instance = new(); }

    public DataplaneEventPumpActor(EventRing ring, IActorRef vteps, TimeSpan interval)
    {
        var byVni = new Dictionary<int, List<DataplaneEvent>>();
        Receive<Drain>(_ =>
        {
            var n = 0;
            while (n < 4096 && ring.TryRead(out var e))
            {
                if (!byVni.TryGetValue(e.Vni, out var list)) byVni[e.Vni] = list = new List<DataplaneEvent>();
                list.Add(e);
                n++;
            }
            if (n == 0) return;
            foreach (var (vni, list) in byVni)
            {
                if (list.Count == 0) continue;
                vteps.Tell(new DataplaneEvents(vni, list.ToArray()));
                list.Clear();
            }
        });
        Timers!.StartPeriodicTimer("drain", Drain.Instance, interval);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(EventRing ring, IActorRef vteps, TimeSpan? interval = null)
        => Akka.Actor.Props.Create(() => new DataplaneEventPumpActor(ring, vteps, interval ?? TimeSpan.FromMilliseconds(5)));
}
