using Fabric.Dataplane.Events;
using Fabric.Dataplane.Packets;

namespace Fabric.Dataplane.Tests.Events;

/// <summary>
/// The ring calls its consumer back on the first write after <see cref="EventRing.Arm"/>, so the actors need no timer
/// to find events (issue 10: an idle node under 1 % of a core). A lost wake-up would leave events unread forever.
/// </summary>
public class EventRingWakeTests
{
    private static DataplaneEvent Ev(int i) => new(DataplaneEventKind.MacLearned, i, default(MacAddress), default, default);

    [Fact]
    public void Arm_calls_back_once_on_the_next_write_and_not_before()
    {
        var ring = new EventRing(8);
        var calls = 0;
        ring.OnWrite(() => calls++);
        Assert.True(ring.TryWrite(Ev(1)));
        Assert.Equal(0, calls); // not armed
        Assert.False(ring.Arm()); // an event waits: read it instead
        Assert.True(ring.TryRead(out _));
        Assert.True(ring.Arm());
        Assert.True(ring.TryWrite(Ev(2)));
        Assert.True(ring.TryWrite(Ev(3)));
        Assert.Equal(1, calls);
    }

    [Fact]
    public void No_wake_up_is_lost_between_a_consumer_that_parks_and_a_producer_that_writes()
    {
        var ring = new EventRing(1024);
        using var woken = new SemaphoreSlim(0);
        ring.OnWrite(() => woken.Release());
        const int bursts = 30_000;
        var written = 0;
        var read = 0;
        var done = 0;
        var lostAt = -1; // events written when the producer gave up waiting
        // Bursts of 1-3 events, each waited for: the last event of every burst is one that only a wake-up can deliver,
        // and the pause lets the consumer park in between, often right as the next burst starts.
        var producer = new Thread(() =>
        {
            var rnd = new Random(7);
            for (var b = 0; b < bursts && lostAt < 0; b++)
            {
                for (var n = 1 + rnd.Next(3); n > 0; n--) { Assert.True(ring.TryWrite(Ev(written))); written++; }
                var sw = System.Diagnostics.Stopwatch.StartNew();
                while (Volatile.Read(ref read) < written)
                    if (sw.Elapsed > TimeSpan.FromSeconds(5)) { lostAt = written; break; }
                    else Thread.SpinWait(rnd.Next(50));
            }
            Volatile.Write(ref done, 1);
        });
        producer.Start();
        while (true)
        {
            while (ring.TryRead(out _)) Interlocked.Increment(ref read);
            if (Volatile.Read(ref done) != 0) break;
            if (!ring.Arm()) continue;
            // Parked: only the producer's call wakes us (or its end).
            while (!woken.Wait(TimeSpan.FromMilliseconds(100)) && Volatile.Read(ref done) == 0) { }
        }
        producer.Join();
        Assert.True(lostAt < 0, $"a wake-up was lost: event {lostAt:N0} waited 5 s unread in a parked consumer");
        Assert.Equal(written, read);
    }
}
