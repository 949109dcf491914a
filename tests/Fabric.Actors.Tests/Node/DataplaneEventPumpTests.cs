using System.Diagnostics;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Fabric.Actors.Node;
using Fabric.Dataplane.Events;
using Fabric.Dataplane.Packets;

namespace Fabric.Actors.Tests.Node;

/// <summary>The dataplane event pump parks while the ring is empty, wakes on the next write, and drains fast while events flow.</summary>
public sealed class DataplaneEventPumpTests : TestKit
{
    private static DataplaneEvent Learned(int vni, int i)
        => new(DataplaneEventKind.MacLearned, vni, MacAddress.Parse($"02:00:00:00:00:{i:x2}"), default, default);

    /// <summary>
    /// Regression (issue 10, idle CPU): the pump drained every 5 ms whether or not anything came (200 wake-ups a second
    /// per node), then backed off to every 100 ms (~24 drains in these 2 s, and the first event after a quiet spell
    /// waited up to ~133 ms). Now an empty ring costs nothing: one drain finds it empty and the pump waits for the write.
    /// </summary>
    [Fact]
    public async Task An_idle_pump_does_not_drain_and_a_new_event_wakes_it()
    {
        var ring = new EventRing(64);
        var pump = Sys.ActorOf(DataplaneEventPumpActor.Props(ring, TestActor, TimeSpan.FromMilliseconds(5)));

        await Task.Delay(TimeSpan.FromSeconds(2));
        var idle = await pump.Ask<PumpStats>(GetPumpStats.Instance, TimeSpan.FromSeconds(3));
        Assert.True(idle.Drains <= 2, $"{idle.Drains} drains in 2 s of an empty ring");
        Assert.True(idle.Parked);

        for (var round = 0; round < 20; round++)
        {
            // Each round waits for the pump to park again, so every event below is a wake-up from idle.
            await AwaitConditionAsync(async () => (await pump.Ask<PumpStats>(GetPumpStats.Instance, TimeSpan.FromSeconds(3))).Parked, TimeSpan.FromSeconds(3));
            Assert.True(ring.TryWrite(Learned(5001 + round, round)));
            var got = ExpectMsg<DataplaneEvents>(TimeSpan.FromSeconds(3));
            Assert.Equal(5001 + round, got.Vni);
            Assert.Single(got.Events);
        }
        var after = await pump.Ask<PumpStats>(GetPumpStats.Instance, TimeSpan.FromSeconds(3));
        // Per event: the woken drain and one empty drain 5 ms later that parks again.
        Assert.True(after.Drains - idle.Drains <= 20 * 3, $"{after.Drains - idle.Drains} drains for 20 events");
    }
}
