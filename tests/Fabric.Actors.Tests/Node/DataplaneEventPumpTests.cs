using System.Diagnostics;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Fabric.Actors.Node;
using Fabric.Dataplane.Events;
using Fabric.Dataplane.Packets;

namespace Fabric.Actors.Tests.Node;

/// <summary>The dataplane event pump backs off while the ring is empty and drains fast again once events flow.</summary>
public sealed class DataplaneEventPumpTests : TestKit
{
    private static DataplaneEvent Learned(int vni, int i)
        => new(DataplaneEventKind.MacLearned, vni, MacAddress.Parse($"02:00:00:00:00:{i:x2}"), default, default);

    /// <summary>
    /// Regression (issue 10, idle CPU): the pump drained every 5 ms whether or not anything came, 200 wake-ups a second
    /// per node. Idle, it now doubles its wait up to the idle interval; the first event after a quiet spell still arrives
    /// within about that interval, and the ones right behind it within the fast interval.
    /// </summary>
    [Fact]
    public async Task An_idle_pump_backs_off_and_a_new_event_still_arrives_within_the_idle_interval()
    {
        var ring = new EventRing(64);
        var pump = Sys.ActorOf(DataplaneEventPumpActor.Props(ring, TestActor, TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(100)));

        await Task.Delay(TimeSpan.FromSeconds(2));
        var idle = await pump.Ask<PumpStats>(GetPumpStats.Instance, TimeSpan.FromSeconds(3));
        // 5+10+20+40+80 ms, then every 100 ms: ~24 drains in 2 s (the old fixed 5 ms timer: ~200, ~100 with a 10 ms tick).
        Assert.True(idle.Drains <= 40, $"{idle.Drains} drains in 2 s of an empty ring");
        Assert.Equal(TimeSpan.FromMilliseconds(100), idle.Wait);

        var sw = Stopwatch.StartNew();
        Assert.True(ring.TryWrite(Learned(5001, 1)));
        var first = ExpectMsg<DataplaneEvents>(TimeSpan.FromSeconds(2));
        var firstAfter = sw.Elapsed;
        Assert.Equal(5001, first.Vni);
        Assert.Single(first.Events);
        Assert.True(firstAfter < TimeSpan.FromSeconds(1), $"first event after {firstAfter.TotalMilliseconds:0} ms (idle interval 100 ms)");

        Assert.True(ring.TryWrite(Learned(5002, 2)));
        Assert.Equal(5002, ExpectMsg<DataplaneEvents>(TimeSpan.FromSeconds(2)).Vni);
    }

    [Fact]
    public void The_wait_doubles_up_to_the_idle_interval()
    {
        var idle = TimeSpan.FromMilliseconds(100);
        Assert.Equal(TimeSpan.FromMilliseconds(10), DataplaneEventPumpActor.Next(TimeSpan.FromMilliseconds(5), idle));
        Assert.Equal(TimeSpan.FromMilliseconds(80), DataplaneEventPumpActor.Next(TimeSpan.FromMilliseconds(40), idle));
        Assert.Equal(idle, DataplaneEventPumpActor.Next(TimeSpan.FromMilliseconds(80), idle));
        Assert.Equal(idle, DataplaneEventPumpActor.Next(idle, idle));
    }
}
