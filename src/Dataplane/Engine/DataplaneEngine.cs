using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Events;
using Fabric.Dataplane.Interop;
using Fabric.Dataplane.Offload;
using Fabric.Dataplane.Pipeline;
using Fabric.Dataplane.Ports;
using Fabric.Dataplane.Tables;

namespace Fabric.Dataplane.Engine;

/// <summary>
/// The node's dataplane: one dedicated thread, optionally pinned to a core, that owns the underlay socket and every
/// local port. Each turn it gathers a batch (underlay first, then ports), runs the pipeline against the current
/// snapshot, and transmits; when nothing is ready it sleeps in epoll. Ports with a descriptor (TAP) are polled round
/// robin; ports without one (guests) are polled only once they said they have frames (<see cref="IDataplanePort.Wake"/>),
/// so a turn costs O(descriptor ports + ready guests), not O(ports): 33,000 idle guests cost nothing. Ports are added
/// and removed through a command queue that the thread itself applies between batches, so the port table needs no lock.
/// </summary>
public sealed unsafe class DataplaneEngine : IDisposable
{
    /// <summary>One port add or remove command, or a batch of them: applied together, answered once.</summary>
    private sealed class Command(IReadOnlyList<IDataplanePort>? add, IReadOnlyList<int>? remove)
    {
        public readonly IReadOnlyList<IDataplanePort>? Add = add;
        public readonly IReadOnlyList<int>? Remove = remove;
        public readonly Exception?[] Errors = new Exception?[add?.Count ?? remove!.Count];
        public readonly TaskCompletionSource<Exception?[]> Done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>
    /// A port without a descriptor signals here that it has frames. <see cref="Scheduled"/> is 1 while the port is
    /// queued to be polled, so a burst of frames costs one queue entry and one eventfd write.
    /// </summary>
    private sealed class Waker(DataplaneEngine engine, int portId)
    {
        public readonly int PortId = portId;
        public int Scheduled;

        public void Wake()
        {
            if (Interlocked.Exchange(ref Scheduled, 1) != 0) return;
            engine._ready.Enqueue(PortId);
            engine.Signal();
        }
    }

    private readonly SnapshotHolder _snapshots;
    private readonly UdpUnderlay? _underlay;
    private readonly EngineOptions _options;
    private readonly ForwardingPipeline _pipeline;
    private readonly PacketBatch _batch;
    private readonly TxBatch _tx;
    private readonly PortTransmitter _portTx = new();
    private readonly ConcurrentQueue<Command> _commands = new();
    // Ids of descriptor-less ports that woke: only the dataplane thread dequeues.
    private readonly ConcurrentQueue<int> _ready = new();
    // Live-trace probes (issue 12): frames the actors built, taken in at a port as if its VM had sent them.
    private readonly ConcurrentQueue<(int PortId, byte[] Frame, int Trace)> _probes = new();
    private readonly int _epoll;
    private readonly int _wakeFd;
    private IDataplanePort?[] _ports = new IDataplanePort?[16];
    private Waker?[] _wakers = new Waker?[16];
    private int _portCount;
    // Ports with a descriptor, polled every turn; descriptor-less ports to poll this turn and the next.
    private readonly List<IDataplanePort> _fdPorts = new();
    private List<int> _active = new();
    private List<int> _carry = new();
    /// <summary>Serialises port commands applied off the dataplane thread (before it starts, after it stops) with Stop's cleanup.</summary>
    private readonly object _offThread = new();
    private Thread? _thread;
    private volatile bool _stopping;
    private int _rr;

    /// <param name="lane">This engine's share of a <see cref="DataplaneGroup"/> (its thread index, event and drop-sample
    /// lanes, the group's counters); null: a engine of its own.</param>
    public DataplaneEngine(SnapshotHolder snapshots, UdpUnderlay? underlay, EngineOptions? options = null, EngineLane? lane = null)
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("the dataplane engine uses Linux epoll");
        _snapshots = snapshots;
        _underlay = underlay;
        _options = options ?? new EngineOptions();
        Lane = lane?.Index ?? 0;
        Events = lane?.Events ?? new EventRing(_options.EventQueueCapacity);
        _pipeline = new ForwardingPipeline(Events, new LearnFilter(8192, _options.LearnReportIntervalMs), _options.UnderlayMtu,
            lane is not null ? lane.Samples : _options.DropSamplesPerReason > 0 ? new DropSampler(_options.DropSamplesPerReason) : null,
            Lane, lane?.Counters);
        _batch = new PacketBatch(_options.BatchSize, _options.Offloads ? Math.Max(_options.MaxFrame, TapPort.MaxGsoFrame) : _options.MaxFrame);
        _portTx.Coalesce = _options.Offloads;
        _tx = new TxBatch(_options.TxCapacity);
        _epoll = Libc.epoll_create1(Libc.EPOLL_CLOEXEC);
        _wakeFd = Libc.eventfd(0, Libc.EFD_NONBLOCK | Libc.EFD_CLOEXEC);
        if (_epoll < 0 || _wakeFd < 0) throw new IOException($"epoll/eventfd failed: errno {Libc.LastError}");
        Register(_wakeFd);
        if (_underlay is not null) Register(_underlay.Fd);
    }

    public EventRing Events { get; }
    /// <summary>This engine's thread index in its group (0 alone).</summary>
    public int Lane { get; }
    public Counters.DataplaneCounters Counters => _pipeline.Counters;
    /// <summary>The last dropped packets per reason; null when sampling is off (<see cref="EngineOptions.DropSamplesPerReason"/>).</summary>
    public DropSampler? DropSamples => _pipeline.Samples;
    /// <summary>The hops of traced packets (issue 12).</summary>
    public Tracing.TraceRecorder TraceHops => _pipeline.Trace;

    /// <summary>
    /// Any thread: the next batch takes <paramref name="frame"/> in at port <paramref name="portId"/> as if its VM had
    /// sent it, traced as <paramref name="trace"/> (<see cref="Tracing.TraceMark"/>).
    /// </summary>
    public void InjectProbe(int portId, byte[] frame, int trace)
    {
        _probes.Enqueue((portId, frame, trace));
        Signal();
    }
    public bool Running => _thread is { IsAlive: true } && !_stopping;
    /// <summary>The OS thread id, once started (for affinity checks).</summary>
    public int ThreadId { get; private set; }
    public long PortSendFailures;
    public long TxToMissingPort;
    public long Wakeups;
    public long IdleSleeps;
    /// <summary>Empty polls made while the busy-poll budget ran (<see cref="EngineOptions.BusyPollMicroseconds"/>).</summary>
    public long BusyPolls;
    /// <summary>Turns of the loop (polls of every ready source); an idle engine takes one per sleep.</summary>
    public long Turns;

    public void Start()
    {
        if (_thread is not null) throw new InvalidOperationException("already started");
        var started = new ManualResetEventSlim();
        _thread = new Thread(() => { ThreadId = Libc.gettid(); Pin(); started.Set(); Loop(); })
        {
            IsBackground = true,
            Name = Lane == 0 ? "fabric-dataplane" : $"fabric-dataplane-{Lane}",
            Priority = ThreadPriority.AboveNormal,
        };
        _thread.Start();
        started.Wait();
    }

    private void Pin()
    {
        if (_options.Cpu < 0) return;
        var mask = 1UL << _options.Cpu;
        if (Libc.sched_setaffinity(0, sizeof(ulong), &mask) != 0)
            Trace.TraceWarning($"dataplane: could not pin to CPU {_options.Cpu}: errno {Libc.LastError}");
    }

    /// <summary>Ports the engine holds now (dataplane thread's view).</summary>
    public int PortCount => Volatile.Read(ref _portCount);

    /// <summary>Adds a port; completes once the dataplane thread has taken it.</summary>
    public Task AddPortAsync(IDataplanePort port) => Single(Post(new Command([port], null)));

    /// <summary>
    /// Adds many ports with one round trip to the dataplane thread. Completes once it has taken them all, with one
    /// entry per port: null when the port was added, else why not (that port was not taken; the others were).
    /// </summary>
    public Task<Exception?[]> AddPortsAsync(IReadOnlyList<IDataplanePort> ports) => Post(new Command(ports, null));

    /// <summary>Removes and disposes a port; completes once the dataplane thread has let it go.</summary>
    public Task RemovePortAsync(int portId) => Single(Post(new Command(null, [portId])));

    /// <summary>Removes and disposes many ports with one round trip; one entry per id, null when done (or not there).</summary>
    public Task<Exception?[]> RemovePortsAsync(IReadOnlyList<int> portIds) => Post(new Command(null, portIds));

    /// <summary>A one-port command's task: faults with that port's error, as it always did.</summary>
    private static Task Single(Task<Exception?[]> done) => done.ContinueWith(static t =>
    {
        if (t.Result[0] is { } e) ExceptionDispatchInfo.Throw(e);
    }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    private Task<Exception?[]> Post(Command command)
    {
        _commands.Enqueue(command);
        Signal();
        // Not running (yet, or any more): apply here, one caller at a time and never beside Stop's cleanup.
        if (_thread is null || !_thread.IsAlive) lock (_offThread) ApplyCommands();
        return command.Done.Task;
    }

    private void Signal()
    {
        ulong one = 1;
        Libc.write(_wakeFd, &one, sizeof(ulong));
    }

    private void Register(int fd)
    {
        var ev = stackalloc byte[16];
        Libc.WriteEpollEvent(ev, Libc.EPOLLIN, (ulong)fd);
        if (Libc.epoll_ctl(_epoll, Libc.EPOLL_CTL_ADD, fd, ev) < 0) throw new IOException($"epoll_ctl add {fd}: errno {Libc.LastError}");
    }

    private void ApplyCommands()
    {
        while (_commands.TryDequeue(out var c))
        {
            if (c.Add is { } add)
                for (int i = 0; i < add.Count; i++)
                    c.Errors[i] = Try(() => Add(add[i]));
            else
                for (int i = 0; i < c.Remove!.Count; i++)
                    c.Errors[i] = Try(() => Remove(c.Remove[i]));
            c.Done.TrySetResult(c.Errors);
        }
    }

    private static Exception? Try(Action a)
    {
        try { a(); return null; }
        catch (Exception e) { return e; }
    }

    private void Add(IDataplanePort port)
    {
        if (_stopping)
        {
            // A port plugged while the node shuts down: nothing would ever poll or close it.
            port.Dispose();
            throw new ObjectDisposedException(nameof(DataplaneEngine), "the dataplane engine has stopped");
        }
        if (port.Id < 0) throw new ArgumentException("port ids are non-negative");
        if (port.Id >= _ports.Length)
        {
            var size = Math.Max(port.Id + 1, _ports.Length * 2);
            Array.Resize(ref _ports, size);
            Array.Resize(ref _wakers, size);
        }
        if (_ports[port.Id] is not null) throw new InvalidOperationException($"port {port.Id} already exists");
        if (port is TapPort tap) tap.FitTo(_batch.MaxFrame);
        if (port.PollFd >= 0)
        {
            Register(port.PollFd);
            port.Wake = Signal;
            _fdPorts.Add(port);
        }
        else
        {
            var waker = new Waker(this, port.Id);
            _wakers[port.Id] = waker;
            port.Wake = waker.Wake;
            // It may hold frames already: poll it once.
            waker.Wake();
        }
        _ports[port.Id] = port;
        Volatile.Write(ref _portCount, _portCount + 1);
    }

    private void Remove(int portId)
    {
        if ((uint)portId >= (uint)_ports.Length || _ports[portId] is not { } gone) return;
        if (gone.PollFd >= 0)
        {
            Libc.epoll_ctl(_epoll, Libc.EPOLL_CTL_DEL, gone.PollFd, null);
            _fdPorts.Remove(gone);
        }
        _ports[portId] = null;
        _wakers[portId] = null;
        Volatile.Write(ref _portCount, _portCount - 1);
        gone.Wake = null;
        gone.Dispose();
    }

    private void Loop()
    {
        var events = stackalloc byte[Libc.EpollEventSize * 32];
        // Empty polls left before sleeping: refilled only by a batch that carried frames. A wake-up that finds nothing
        // (the idle timeout, a command, a guest whose frame an earlier turn already took) sleeps again at once instead
        // of spinning 64 polls first: that spin after every idle wake-up was ~0.13 % of a core on an idle node
        // (docs/benchmarks.md "Idle CPU per node"). Packets still wake epoll at once; spinning only ever helped a burst.
        var spin = 0;
        // Busy poll (fabric.dataplane.busy-poll): after a batch with frames, keep polling until this deadline instead of
        // sleeping, so the next frame of an exchange (a reply, the next segment) costs no wake-up.
        var busyTicks = _options.BusyPollMicroseconds * Stopwatch.Frequency / 1_000_000;
        long pollUntil = 0;
        while (!_stopping)
        {
            Turns++;
            if (!_commands.IsEmpty) ApplyCommands();
            _batch.Clear();
            _tx.Clear();
            if (!_probes.IsEmpty) TakeProbes();
            var half = _options.BatchSize / 2;
            var anyPorts = _fdPorts.Count > 0 || _active.Count > 0 || !_ready.IsEmpty;
            var share = anyPorts ? half : _options.BatchSize;
            // The second look at the underlay (after the ports) only when the first was cut short by its share: a socket
            // that gave less had nothing more, and asking again costs a system call that mostly finds nothing (one per
            // turn, ~6 % of the dataplane core under single-flow TCP). What arrives meanwhile is read next turn.
            var underlayFull = _underlay is not null && _underlay.Receive(_batch, share) >= share;
            var ports = _fdPorts;
            var count = ports.Count;
            for (int k = 0; k < count && !_batch.IsFull; k++)
                ports[(_rr + k) % count].Receive(_batch, _options.BatchSize - _batch.Count);
            if (count > 0) _rr = (_rr + 1) % count;
            PollReady();
            if (underlayFull && !_batch.IsFull) _underlay!.Receive(_batch, _options.BatchSize - _batch.Count);

            if (_batch.Count == 0)
            {
                if (spin > 0) { spin--; Thread.SpinWait(20); continue; }
                if (busyTicks > 0 && Stopwatch.GetTimestamp() < pollUntil) { BusyPolls++; if (_options.BusyPollYield) Thread.Yield(); continue; }
                IdleSleeps++;
                var n = Libc.epoll_wait(_epoll, events, 32, _options.IdleWaitMs);
                for (int i = 0; i < n; i++)
                {
                    if ((int)Libc.ReadEpollData(events + i * Libc.EpollEventSize) != _wakeFd) continue;
                    ulong v;
                    Libc.read(_wakeFd, &v, sizeof(ulong));
                    Wakeups++;
                }
                continue;
            }
            spin = _options.SpinPolls;
            if (busyTicks > 0) pollUntil = Stopwatch.GetTimestamp() + busyTicks;
            _pipeline.Process(_snapshots.Current, _batch, _tx, Environment.TickCount64);
            Transmit();
        }
    }

    private void TakeProbes()
    {
        while (!_batch.IsFull && _probes.TryDequeue(out var p))
            if (_batch.AddFromPort(p.PortId, p.Frame)) _batch.Meta(_batch.Count - 1).Trace = p.Trace;
    }

    /// <summary>
    /// Polls the descriptor-less ports that woke, in the order they woke. A port is marked unscheduled before it is
    /// read, so a frame it queues meanwhile wakes it again; one that filled its share may hold more and stays for the
    /// next turn, as do the ports the full batch left no room for.
    /// </summary>
    private void PollReady()
    {
        while (_ready.TryDequeue(out var id)) _active.Add(id);
        var active = _active;
        var carry = _carry;
        carry.Clear();
        for (int k = 0; k < active.Count; k++)
        {
            var id = active[k];
            var waker = (uint)id < (uint)_wakers.Length ? _wakers[id] : null;
            if (waker is null) continue; // removed since it woke
            if (_batch.IsFull) { carry.Add(id); continue; }
            Volatile.Write(ref waker.Scheduled, 0);
            var max = _options.BatchSize - _batch.Count;
            if (_ports[id]!.Receive(_batch, max) >= max && Interlocked.Exchange(ref waker.Scheduled, 1) == 0) carry.Add(id);
        }
        _active = carry;
        _carry = active;
    }

    private void Transmit()
    {
        // Local ports first (offload-aware: TAP to TAP keeps a super-frame whole, towards a TAP runs of one TCP flow are
        // coalesced, others get segments and complete checksums), then the underlay (segmentation + UDP GSO).
        if (_portTx.Send(_batch, _tx.Entries, _ports, ref PortSendFailures, ref TxToMissingPort)) _underlay?.Send(_batch, _tx);
    }

    /// <summary>What the local-port transmit step did with offloads (coalesced super-frames, segments, checksums).</summary>
    public PortTransmitter PortTransmit => _portTx;

    /// <summary>Stops the thread (within one idle wait), then disposes every port.</summary>
    public void Stop()
    {
        if (_stopping) return;
        _stopping = true;
        Signal();
        _thread?.Join(TimeSpan.FromSeconds(5));
        // Port commands may still arrive from actors that are stopping too (they apply off-thread now): drain
        // them under the same lock so the port list is never changed while it is being closed.
        lock (_offThread)
        {
            ApplyCommands();
            foreach (var p in _ports) { try { p?.Dispose(); } catch { /* shutting down */ } }
            _fdPorts.Clear();
            Array.Clear(_ports);
            Array.Clear(_wakers);
            _portCount = 0;
        }
    }

    public void Dispose()
    {
        // Idempotent: a second close of the same numbers would close whatever descriptors were opened with them since
        // (the throughput harness disposes twice; the next engine's TAP got the freed epoll number: epoll_ctl EINVAL).
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Stop();
        Libc.close(_epoll);
        Libc.close(_wakeFd);
    }

    private int _disposed;
}
