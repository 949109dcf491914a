using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using Fabric.Actors.Scheduling;

namespace Fabric.Actors.Tests.Scheduling;

/// <summary>
/// The tickless scheduler (issue 10: an idle node under 1 % of a core) keeps Akka's scheduler semantics and wakes only
/// when something is due. Pure: no ActorSystem, no sockets.
/// </summary>
public sealed class DeadlineSchedulerTests
{
    private static DeadlineScheduler New() => new(ConfigurationFactory.Default(), NoLogger.Instance);

    private static void Eventually(Func<bool> condition, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(10)) Assert.Fail(what);
            Thread.Sleep(2);
        }
    }

    [Fact]
    public void A_once_registration_runs_once_and_not_before_its_delay()
    {
        using var s = New();
        var sw = Stopwatch.StartNew();
        long at = -1;
        var runs = 0;
        ((IScheduler)s).Advanced.ScheduleOnce(TimeSpan.FromMilliseconds(80), () => { at = sw.ElapsedMilliseconds; Interlocked.Increment(ref runs); });
        Eventually(() => Volatile.Read(ref runs) == 1, "did not run");
        Thread.Sleep(100);
        Assert.Equal(1, runs);
        Assert.True(at >= 79, $"ran after {at} ms, due at 80");
    }

    [Fact]
    public async Task An_earlier_registration_added_later_is_not_held_back_by_a_later_one()
    {
        using var s = New();
        var sw = Stopwatch.StartNew();
        var early = new TaskCompletionSource<long>();
        ((IScheduler)s).Advanced.ScheduleOnce(TimeSpan.FromSeconds(30), () => { });
        Thread.Sleep(20); // the thread now sleeps until the 30 s one
        ((IScheduler)s).Advanced.ScheduleOnce(TimeSpan.FromMilliseconds(20), () => early.TrySetResult(sw.ElapsedMilliseconds));
        var at = await early.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(at < 2_000, $"ran after {at} ms");
    }

    [Fact]
    public void Repeated_registrations_repeat_until_cancelled_and_cancelled_ones_never_run()
    {
        using var s = New();
        var runs = 0;
        var cancel = new Cancelable((IScheduler)s);
        ((IScheduler)s).Advanced.ScheduleRepeatedly(TimeSpan.Zero, TimeSpan.FromMilliseconds(10), () => Interlocked.Increment(ref runs), cancel);
        Eventually(() => Volatile.Read(ref runs) >= 5, "did not repeat");
        cancel.Cancel();
        Thread.Sleep(30);
        var after = Volatile.Read(ref runs);
        Thread.Sleep(100);
        Assert.Equal(after, Volatile.Read(ref runs));

        var never = false;
        var c2 = new Cancelable((IScheduler)s);
        ((IScheduler)s).Advanced.ScheduleOnce(TimeSpan.FromMilliseconds(20), () => never = true, c2);
        c2.Cancel();
        Thread.Sleep(100);
        Assert.False(never);
    }

    [Fact]
    public void Tells_reach_their_receiver_and_a_failing_task_does_not_stop_the_scheduler()
    {
        using var s = New();
        var inbox = new Inbox();
        ((IScheduler)s).Advanced.ScheduleOnce(TimeSpan.Zero, () => throw new InvalidOperationException("boom"));
        ((ITellScheduler)s).ScheduleTellOnce(TimeSpan.FromMilliseconds(10), inbox, "hello", ActorRefs.NoSender);
        Eventually(() => inbox.Messages.Contains("hello"), "the Tell did not arrive");
    }

    /// <summary>
    /// Regression (issue 10): Akka's wheel woke every tick (33 ms: ~30 times a second) whatever was due. With one timer
    /// due every 200 ms, this one wakes about 5 times a second.
    /// </summary>
    [Fact]
    public void An_idle_scheduler_wakes_only_when_something_is_due()
    {
        using var s = New();
        var runs = 0;
        ((IScheduler)s).Advanced.ScheduleRepeatedly(TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(200), () => Interlocked.Increment(ref runs));
        Thread.Sleep(1_100);
        Assert.InRange(Volatile.Read(ref runs), 3, 6);
        Assert.True(s.Wakeups <= 12, $"{s.Wakeups} wake-ups in 1.1 s for 5 due timers");
    }

    [Fact]
    public void A_delay_of_TimeSpan_MaxValue_never_fires_and_does_not_stop_the_scheduler()
    {
        using var s = New();
        var never = false;
        ((IScheduler)s).Advanced.ScheduleOnce(TimeSpan.MaxValue, () => never = true);
        var runs = 0;
        ((IScheduler)s).Advanced.ScheduleOnce(TimeSpan.FromMilliseconds(30), () => Interlocked.Increment(ref runs));
        Eventually(() => Volatile.Read(ref runs) == 1, "the scheduler stopped after a very long delay");
        Thread.Sleep(50);
        Assert.False(never, "TimeSpan.MaxValue overflowed into the past");
    }

    [Fact]
    public void Its_clocks_are_akkas()
    {
        using var s = New();
        using var wheel = new HashedWheelTimerScheduler(ConfigurationFactory.Default(), NoLogger.Instance);
        Assert.True((s.HighResMonotonicClock - wheel.HighResMonotonicClock).Duration() < TimeSpan.FromMilliseconds(50));
        Assert.True((s.MonotonicClock - wheel.MonotonicClock).Duration() < TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void Dispose_runs_what_was_still_scheduled_once_and_refuses_more()
    {
        var s = New();
        var runs = 0;
        ((IScheduler)s).Advanced.ScheduleOnce(TimeSpan.FromMinutes(5), () => Interlocked.Increment(ref runs));
        s.Dispose();
        Assert.Equal(1, runs);
        Assert.Throws<SchedulerException>(() => ((IScheduler)s).Advanced.ScheduleOnce(TimeSpan.Zero, () => { }));
    }

    private sealed class Inbox : ICanTell
    {
        public readonly System.Collections.Concurrent.ConcurrentQueue<object> Messages = new();
        public void Tell(object message, IActorRef sender) => Messages.Enqueue(message);
    }
}
