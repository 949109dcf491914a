using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Event;

namespace Fabric.Actors.Scheduling;

/// <summary>
/// Akka's scheduler without a tick: one thread that sleeps until the earliest registration is due (or an earlier one is
/// added), instead of Akka's <see cref="HashedWheelTimerScheduler"/>, which wakes every <c>akka.scheduler.tick-duration</c>
/// whether or not anything is due. Issue 10 (an idle node under 1 % of a core): at the 33 ms tick that was 30 wake-ups a
/// second of the timer thread and of a thread-pool worker (Akka's tick is a <c>Task.Delay</c> loop), ~0.2-0.3 % of a core
/// per idle node, for timers that are mostly due once a second. Timers also fire when due instead of up to a tick late.
/// <para>
/// Semantics as Akka's: a cancelled registration is skipped when due; a repeated one is due again <c>interval</c> after it
/// ran; work runs on the scheduler's thread, so it must be short (a Tell); on dispose the registrations not yet run are
/// run once, as the wheel does. Enabled by <c>akka.scheduler.implementation</c> in hocon/fabric.conf.
/// </para>
/// </summary>
public sealed class DeadlineScheduler : SchedulerBase, IDateTimeOffsetNowTimeProvider, IDisposable
{
    private sealed class Registration(IRunnable action, ICancelable? cancelable, long interval)
    {
        public readonly IRunnable Action = action;
        public readonly ICancelable? Cancelable = cancelable;
        public readonly long Interval = interval; // ticks; 0: once
        public bool Cancelled => Cancelable?.IsCancellationRequested ?? false;
    }

    private sealed class TellRunnable(ICanTell receiver, object message, IActorRef sender) : IRunnable
    {
        public void Run() => receiver.Tell(message, sender);
#if !NETSTANDARD
        public void Execute() => Run();
#endif
    }

    private sealed class ActionRunnable(Action action) : IRunnable
    {
        public void Run() => action();
#if !NETSTANDARD
        public void Execute() => Run();
#endif
    }

    // Deadlines in ticks of HighResMonotonicClock, earliest first; ties keep insertion order.
    private readonly PriorityQueue<Registration, (long Due, long Order)> _queue = new();
    private readonly object _gate = new();
    private readonly ILoggingAdapter _log;
    private readonly Thread _thread;
    private static readonly long MaxDelay = TimeSpan.FromDays(3650).Ticks;
    // Monitor.Wait takes at most int.MaxValue ms; a longer wait is taken an hour at a time.
    private static readonly long MaxWait = TimeSpan.FromHours(1).Ticks;
    private long _order;
    private bool _stopping;

    public DeadlineScheduler(Config scheduler, ILoggingAdapter log) : base(scheduler, log)
    {
        _log = log;
        _thread = new Thread(Run) { IsBackground = true, Name = "akka-scheduler" };
        _thread.Start();
    }

    // Akka's own clock (Akka.Util.MonotonicClock, internal), so deadlines Akka computes elsewhere agree with ours.
    private static readonly Func<TimeSpan> Elapsed = Clock("Elapsed");
    private static readonly Func<TimeSpan> ElapsedHighRes = Clock("ElapsedHighRes");

    private static Func<TimeSpan> Clock(string property)
    {
        var getter = typeof(ActorSystem).Assembly.GetType("Akka.Util.MonotonicClock")?.GetProperty(property)?.GetMethod;
        if (getter is not null) return getter.CreateDelegate<Func<TimeSpan>>();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        return () => sw.Elapsed;
    }

    protected override DateTimeOffset TimeNow => DateTimeOffset.Now;
    public override TimeSpan MonotonicClock => Elapsed();
    public override TimeSpan HighResMonotonicClock => ElapsedHighRes();

    private static long Now => ElapsedHighRes().Ticks;

    /// <summary>Registrations waiting (tests, diagnostics).</summary>
    public int Pending { get { lock (_gate) return _queue.Count; } }

    /// <summary>How often the scheduler's thread woke (tests, diagnostics).</summary>
    public long Wakeups { get; private set; }

    protected override void InternalScheduleTellOnce(TimeSpan delay, ICanTell receiver, object message, IActorRef sender, ICancelable cancelable)
        => Add(delay, TimeSpan.Zero, new TellRunnable(receiver, message, sender), cancelable);

    protected override void InternalScheduleTellRepeatedly(TimeSpan initialDelay, TimeSpan interval, ICanTell receiver, object message, IActorRef sender, ICancelable cancelable)
        => Add(initialDelay, interval, new TellRunnable(receiver, message, sender), cancelable);

    protected override void InternalScheduleOnce(TimeSpan delay, Action action, ICancelable cancelable)
        => Add(delay, TimeSpan.Zero, new ActionRunnable(action), cancelable);

    protected override void InternalScheduleOnce(TimeSpan delay, IRunnable action, ICancelable cancelable)
        => Add(delay, TimeSpan.Zero, action, cancelable);

    protected override void InternalScheduleRepeatedly(TimeSpan initialDelay, TimeSpan interval, Action action, ICancelable cancelable)
        => Add(initialDelay, interval, new ActionRunnable(action), cancelable);

    protected override void InternalScheduleRepeatedly(TimeSpan initialDelay, TimeSpan interval, IRunnable action, ICancelable cancelable)
        => Add(initialDelay, interval, action, cancelable);

    private void Add(TimeSpan delay, TimeSpan interval, IRunnable action, ICancelable? cancelable)
    {
        // Clamped: TimeSpan.MaxValue (never, in effect) must not overflow into the past and fire at once.
        var due = Now + Math.Clamp(delay.Ticks, 0, MaxDelay);
        lock (_gate)
        {
            if (_stopping) throw new SchedulerException("cannot enqueue after timer shutdown");
            // Wake the thread only when this is now the earliest deadline: otherwise it is already asleep until sooner.
            var earliest = !_queue.TryPeek(out _, out var top) || due < top.Due;
            _queue.Enqueue(new Registration(action, cancelable, interval.Ticks), (due, _order++));
            if (earliest) Monitor.Pulse(_gate);
        }
    }

    private void Run()
    {
        var due = new List<Registration>();
        while (true)
        {
            lock (_gate)
            {
                while (true)
                {
                    if (_stopping) return;
                    if (!_queue.TryPeek(out _, out var top)) { Monitor.Wait(_gate); Wakeups++; continue; }
                    var wait = top.Due - Now;
                    if (wait <= 0) break;
                    // Round up: waking early would only mean sleeping again.
                    Monitor.Wait(_gate, TimeSpan.FromMilliseconds(Math.Ceiling(Math.Min(wait, MaxWait) / (double)TimeSpan.TicksPerMillisecond)));
                    Wakeups++;
                }
                var now = Now;
                while (_queue.TryPeek(out _, out var top) && top.Due <= now) due.Add(_queue.Dequeue());
            }
            foreach (var r in due)
            {
                if (r.Cancelled) continue;
                try { r.Action.Run(); }
                catch (Exception e)
                {
                    try { _log.Error(e, "Error while executing scheduled task {0}", r.Action); } catch { /* never let logging kill the scheduler */ }
                    continue; // a failed repeated task is not repeated, as in Akka's scheduler
                }
                if (r.Interval > 0 && !r.Cancelled)
                    lock (_gate)
                        if (!_stopping) _queue.Enqueue(r, (Now + r.Interval, _order++));
            }
            due.Clear();
        }
    }

    public void Dispose()
    {
        Registration[] left;
        lock (_gate)
        {
            if (_stopping) return;
            _stopping = true;
            Monitor.PulseAll(_gate);
            left = new Registration[_queue.Count];
            for (var i = 0; i < left.Length; i++) left[i] = _queue.Dequeue();
        }
        if (Thread.CurrentThread != _thread) _thread.Join(TimeSpan.FromSeconds(5));
        // As Akka's wheel does: what was still scheduled runs once (mostly Tells that now reach dead letters).
        foreach (var r in left)
        {
            if (r.Cancelled) continue;
            try { r.Action.Run(); }
            catch (SchedulerException) { }
            catch (Exception e) { try { _log.Error(e, "Exception while executing timer task."); } catch { } }
        }
    }
}
