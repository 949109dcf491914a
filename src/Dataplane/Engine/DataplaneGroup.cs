using System.Diagnostics;
using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Events;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Ports;
using Fabric.Dataplane.Tables;

namespace Fabric.Dataplane.Engine;

/// <summary>One engine's share of a <see cref="DataplaneGroup"/>: its thread index, its event and drop-sample lanes, the shared counters.</summary>
public sealed record EngineLane(int Index, EventRing Events, DataplaneCounters Counters, DropSampler? Samples);

/// <summary>
/// The node's dataplane as N engines (issue 11, <c>fabric.dataplane.threads</c>), each its own pinned thread with its own
/// receiving socket on the VTEP port (SO_REUSEPORT), its share of the source-port send sockets, and one queue of every
/// TAP (IFF_MULTI_QUEUE); all read the one snapshot. Nothing is shared on the hot path: each thread writes its own lane
/// of every counter, of the event ring and of the drop samples, and readers sum or merge them.
/// <para>
/// The kernel spreads work by flow: a TAP queue is chosen by the inner flow's hash (and then follows the queue that
/// last wrote the flow), a REUSEPORT socket by the hash of the outer addresses and ports, whose source port is derived
/// from the inner flow. So one TCP flow stays on one thread (no reordering, and no speed-up: it is as fast as one
/// thread), and several flows spread over the threads.
/// </para>
/// <para>
/// With one thread this is the one engine and the one socket as before. More than one needs multiqueue TAP (probed at
/// start; without it: logged once, counted in <see cref="ThreadFallbacks"/>, one thread) and takes TAP ports only: a
/// guest port (in-process, no descriptor) has one reader and one writer and is refused.
/// </para>
/// </summary>
public sealed class DataplaneGroup : IDisposable
{
    private static int _fallbackLogged;
    /// <summary>Groups asked for several threads that run one (no multiqueue TAP here), in this process.</summary>
    public static long ThreadFallbacks;

    private readonly DataplaneEngine[] _engines;
    private readonly UdpUnderlay[] _underlays;
    private int _disposed;

    private DataplaneGroup(DataplaneEngine[] engines, UdpUnderlay[] underlays)
    {
        _engines = engines;
        _underlays = underlays;
    }

    /// <summary>
    /// Opens <paramref name="threads"/> underlay sockets on <paramref name="vtep"/> (SO_REUSEPORT when more than one; the
    /// <see cref="UnderlayOptions.SourcePorts"/> split between them) and an engine for each, pinned to consecutive cores
    /// from <see cref="EngineOptions.Cpu"/> (or from core 0 when several and none is named). Not started.
    /// </summary>
    public static DataplaneGroup Create(SnapshotHolder holder, VtepEndpoint vtep, UnderlayOptions underlay, EngineOptions options, int threads)
    {
        threads = Math.Clamp(threads, 1, CounterLanes.Max);
        if (threads > 1 && MultiQueueUnavailable() is { } why)
        {
            Interlocked.Increment(ref ThreadFallbacks);
            if (Interlocked.Exchange(ref _fallbackLogged, 1) == 0)
                Trace.TraceWarning($"dataplane: {threads} threads asked for, but {why}; running one (logged once)");
            threads = 1;
        }
        var events = new EventRing(options.EventQueueCapacity);
        var eventLanes = threads > 1 ? events.AddLanes(threads - 1) : [events];
        var samples = options.DropSamplesPerReason > 0 ? new DropSampler(options.DropSamplesPerReason) : null;
        var sampleLanes = samples is null ? null : threads > 1 ? samples.AddLanes(threads - 1) : [samples];
        var counters = new DataplaneCounters();
        var perThread = underlay.SourcePorts <= 0 ? 0 : Math.Max(1, underlay.SourcePorts / threads);
        var uo = threads > 1 ? underlay with { ReusePort = true, SourcePorts = perThread } : underlay;
        var underlays = new List<UdpUnderlay>();
        var engines = new List<DataplaneEngine>();
        try
        {
            for (int k = 0; k < threads; k++)
            {
                // Port 0 (tests): the others join the port the first one got.
                var at = k == 0 ? vtep : vtep with { Port = (ushort)underlays[0].BoundPort };
                underlays.Add(new UdpUnderlay(at, uo));
                var cpu = options.Cpu >= 0 ? (options.Cpu + k) % Environment.ProcessorCount
                    : threads > 1 ? k % Environment.ProcessorCount : -1;
                engines.Add(new DataplaneEngine(holder, underlays[k], options with { Cpu = cpu },
                    new EngineLane(k, eventLanes[k], counters, sampleLanes?[k])));
            }
        }
        catch
        {
            foreach (var e in engines) e.Dispose();
            foreach (var u in underlays) u.Dispose();
            throw;
        }
        return new DataplaneGroup([.. engines], [.. underlays]);
    }

    /// <summary>Why a multiqueue TAP cannot be opened here (probed with a throwaway device), or null when it can.</summary>
    public static string? MultiQueueUnavailable()
    {
        if (TapPort.Unavailable() is { } why) return why;
        try
        {
            using var probe = TapPort.Create(0, new TapSettings($"fmq{Environment.ProcessId % 100000}", MacAddress.Parse("02:00:00:00:00:01"),
                Queues: 2, Offloads: false));
            return probe.ExtraQueues.Count == 1 ? null : "the kernel has no multiqueue TAP (IFF_MULTI_QUEUE)";
        }
        catch (Exception e)
        {
            return $"a multiqueue TAP could not be opened ({e.Message})";
        }
    }

    public int Threads => _engines.Length;
    public IReadOnlyList<DataplaneEngine> Engines => _engines;
    public IReadOnlyList<UdpUnderlay> Underlays => _underlays;
    /// <summary>Every thread's events, read through one ring.</summary>
    public EventRing Events => _engines[0].Events;
    /// <summary>The dataplane counters, summed over the threads.</summary>
    public DataplaneCounters Counters => _engines[0].Counters;
    /// <summary>Every thread's drop samples, read through one sampler; null when sampling is off.</summary>
    public DropSampler? DropSamples => _engines[0].DropSamples;
    public bool Running => Array.TrueForAll(_engines, e => e.Running);

    public void Start()
    {
        foreach (var e in _engines) e.Start();
    }

    /// <summary>
    /// Adds a port: alone, to the one engine; with several threads a TAP's queue k goes to engine k (the TAP must have
    /// been opened with <see cref="Threads"/> queues), and anything else is refused. Completes once every engine has it.
    /// </summary>
    public Task AddPortAsync(IDataplanePort port)
    {
        if (_engines.Length == 1) return _engines[0].AddPortAsync(port);
        if (port is not TapPort tap)
        {
            port.Dispose();
            return Task.FromException(new NotSupportedException(
                $"port {port.Name}: with {_engines.Length} dataplane threads only TAP ports are taken (a guest port has one reader and one writer); set fabric.dataplane.threads = 1"));
        }
        if (tap.ExtraQueues.Count != _engines.Length - 1)
        {
            DisposeQueues(tap);
            return Task.FromException(new InvalidOperationException(
                $"TAP {tap.Name} has {tap.ExtraQueues.Count + 1} queues for {_engines.Length} dataplane threads"));
        }
        return AddQueues(tap);
    }

    private async Task AddQueues(TapPort tap)
    {
        var adds = new Task[_engines.Length];
        adds[0] = _engines[0].AddPortAsync(tap);
        for (int k = 1; k < _engines.Length; k++) adds[k] = _engines[k].AddPortAsync(tap.ExtraQueues[k - 1]);
        try
        {
            await Task.WhenAll(adds).ConfigureAwait(false);
        }
        catch
        {
            // Some engine refused it: take it out of the others, so no thread holds a device the rest do not know.
            await RemovePortAsync(tap.Id).ConfigureAwait(false);
            DisposeQueues(tap);
            throw;
        }
    }

    private static void DisposeQueues(TapPort tap)
    {
        foreach (var q in tap.ExtraQueues) q.Dispose();
        tap.Dispose();
    }

    /// <summary>Removes and disposes a port from every engine (the first queue, which owns the namespace, last).</summary>
    public async Task RemovePortAsync(int portId)
    {
        for (int k = _engines.Length - 1; k >= 1; k--) await _engines[k].RemovePortAsync(portId).ConfigureAwait(false);
        await _engines[0].RemovePortAsync(portId).ConfigureAwait(false);
    }

    /// <summary>Stops every thread, then disposes their ports and sockets.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        for (int k = _engines.Length - 1; k >= 0; k--) _engines[k].Dispose();
        foreach (var u in _underlays) u.Dispose();
    }
}
