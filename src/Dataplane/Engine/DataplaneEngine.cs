using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Fabric.Dataplane.Events;
using Fabric.Dataplane.Interop;
using Fabric.Dataplane.Pipeline;
using Fabric.Dataplane.Ports;
using Fabric.Dataplane.Tables;

namespace Fabric.Dataplane.Engine;

/// <summary>
/// The node's dataplane: one dedicated thread, optionally pinned to a core, that owns the underlay socket and every
/// local port. Each turn it gathers a batch (underlay first, then ports round-robin), runs the pipeline against the
/// current snapshot, and transmits; when nothing is ready it sleeps in epoll. Ports are added and removed through a
/// command queue that the thread itself applies between batches, so the port table needs no lock.
/// </summary>
public sealed unsafe class DataplaneEngine : IDisposable
{
    private readonly SnapshotHolder _snapshots;
    private readonly UdpUnderlay? _underlay;
    private readonly EngineOptions _options;
    private readonly ForwardingPipeline _pipeline;
    private readonly PacketBatch _batch;
    private readonly TxBatch _tx;
    private readonly ConcurrentQueue<(IDataplanePort? Add, int Remove, TaskCompletionSource Done)> _commands = new();
    private readonly int _epoll;
    private readonly int _wakeFd;
    private IDataplanePort?[] _ports = new IDataplanePort?[16];
    private readonly List<IDataplanePort> _portList = new();
    /// <summary>Serialises port commands applied off the dataplane thread (before it starts, after it stops) with Stop's cleanup.</summary>
    private readonly object _offThread = new();
    private Thread? _thread;
    private volatile bool _stopping;
    private int _rr;

    public DataplaneEngine(SnapshotHolder snapshots, UdpUnderlay? underlay, EngineOptions? options = null)
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("the dataplane engine uses Linux epoll");
        _snapshots = snapshots;
        _underlay = underlay;
        _options = options ?? new EngineOptions();
        Events = new EventRing(_options.EventQueueCapacity);
        _pipeline = new ForwardingPipeline(Events, new LearnFilter(8192, _options.LearnReportIntervalMs));
        _batch = new PacketBatch(_options.BatchSize, _options.MaxFrame);
        _tx = new TxBatch(_options.TxCapacity);
        _epoll = Libc.epoll_create1(Libc.EPOLL_CLOEXEC);
        _wakeFd = Libc.eventfd(0, Libc.EFD_NONBLOCK | Libc.EFD_CLOEXEC);
        if (_epoll < 0 || _wakeFd < 0) throw new IOException($"epoll/eventfd failed: errno {Libc.LastError}");
        Register(_wakeFd);
        if (_underlay is not null) Register(_underlay.Fd);
    }

    public EventRing Events { get; }
    public Counters.DataplaneCounters Counters => _pipeline.Counters;
    public bool Running => _thread is { IsAlive: true } && !_stopping;
    /// <summary>The OS thread id, once started (for affinity checks).</summary>
    public int ThreadId { get; private set; }
    public long PortSendFailures;
    public long TxToMissingPort;
    public long Wakeups;
    public long IdleSleeps;

    public void Start()
    {
        if (_thread is not null) throw new InvalidOperationException("already started");
        var started = new ManualResetEventSlim();
        _thread = new Thread(() => { ThreadId = Libc.gettid(); Pin(); started.Set(); Loop(); })
        {
            IsBackground = true,
            Name = "fabric-dataplane",
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

    /// <summary>Adds a port; completes once the dataplane thread has taken it.</summary>
    public Task AddPortAsync(IDataplanePort port) => Post(port, -1);
    /// <summary>Removes and disposes a port; completes once the dataplane thread has let it go.</summary>
    public Task RemovePortAsync(int portId) => Post(null, portId);

    private Task Post(IDataplanePort? add, int remove)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _commands.Enqueue((add, remove, done));
        Signal();
        // Not running (yet, or any more): apply here, one caller at a time and never beside Stop's cleanup.
        if (_thread is null || !_thread.IsAlive) lock (_offThread) ApplyCommands();
        return done.Task;
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
            try
            {
                if (_stopping && c.Add is { } late)
                {
                    // A port plugged while the node shuts down: nothing would ever poll or close it.
                    late.Dispose();
                    throw new ObjectDisposedException(nameof(DataplaneEngine), "the dataplane engine has stopped");
                }
                if (c.Add is { } port)
                {
                    if (port.Id < 0) throw new ArgumentException("port ids are non-negative");
                    if (port.Id >= _ports.Length) Array.Resize(ref _ports, Math.Max(port.Id + 1, _ports.Length * 2));
                    if (_ports[port.Id] is not null) throw new InvalidOperationException($"port {port.Id} already exists");
                    if (port.PollFd >= 0) Register(port.PollFd);
                    port.Wake = Signal;
                    _ports[port.Id] = port;
                    _portList.Add(port);
                }
                else if ((uint)c.Remove < (uint)_ports.Length && _ports[c.Remove] is { } gone)
                {
                    if (gone.PollFd >= 0) Libc.epoll_ctl(_epoll, Libc.EPOLL_CTL_DEL, gone.PollFd, null);
                    _ports[c.Remove] = null;
                    _portList.Remove(gone);
                    gone.Wake = null;
                    gone.Dispose();
                }
                c.Done.TrySetResult();
            }
            catch (Exception e)
            {
                c.Done.TrySetException(e);
            }
        }
    }

    private void Loop()
    {
        var events = stackalloc byte[Libc.EpollEventSize * 32];
        var idle = 0;
        while (!_stopping)
        {
            if (!_commands.IsEmpty) ApplyCommands();
            _batch.Clear();
            _tx.Clear();
            var half = _options.BatchSize / 2;
            if (_underlay is not null) _underlay.Receive(_batch, _portList.Count == 0 ? _options.BatchSize : half);
            var ports = _portList;
            var count = ports.Count;
            for (int k = 0; k < count && !_batch.IsFull; k++)
                ports[(_rr + k) % count].Receive(_batch, _options.BatchSize - _batch.Count);
            if (count > 0) _rr = (_rr + 1) % count;
            if (_underlay is not null && !_batch.IsFull) _underlay.Receive(_batch, _options.BatchSize - _batch.Count);

            if (_batch.Count == 0)
            {
                if (++idle < _options.SpinPolls) { Thread.SpinWait(20); continue; }
                idle = 0;
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
            idle = 0;
            _pipeline.Process(_snapshots.Current, _batch, _tx, Environment.TickCount64);
            Transmit();
        }
    }

    private void Transmit()
    {
        var entries = _tx.Entries;
        var anyUnderlay = false;
        for (int i = 0; i < entries.Length; i++)
        {
            ref readonly var e = ref entries[i];
            if (e.Kind == TxKind.Underlay) { anyUnderlay = true; continue; }
            var port = (uint)e.PortId < (uint)_ports.Length ? _ports[e.PortId] : null;
            if (port is null) { TxToMissingPort++; continue; }
            if (!port.Send(_batch.SlotBytes(e.Slot, e.Offset, e.Length))) PortSendFailures++;
        }
        if (anyUnderlay) _underlay?.Send(_batch, _tx);
    }

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
            foreach (var p in _portList) { try { p.Dispose(); } catch { /* shutting down */ } }
            _portList.Clear();
            Array.Clear(_ports);
        }
    }

    public void Dispose()
    {
        Stop();
        Libc.close(_epoll);
        Libc.close(_wakeFd);
    }
}
