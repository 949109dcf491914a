using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Events;
using Fabric.Dataplane.Pipeline;
using Fabric.Dataplane.Tables;

namespace Fabric.Benchmarks;

/// <summary>Checks one transmission of a verified pass; returns null when it is what the scenario claims, else why not.</summary>
public delegate string? TxCheck(int index, in TxEntry entry, ReadOnlySpan<byte> bytes);

/// <summary>
/// One forwarding scenario: a snapshot, a pipeline, a batch and a transmit list built once, and a template that every
/// pass copies into the batch (which also resets the per-packet metadata, and undoes what the previous pass wrote in
/// place: router MAC rewrite, ARP reply). Both the BenchmarkDotNet class and the <c>--pps</c> harness drive these.
/// </summary>
public sealed class Scenario
{
    public const int BatchSize = 64;
    public const long NowMs = 1_000;

    private readonly ForwardingPipeline _pipeline;
    private readonly ForwardingSnapshot _snapshot;
    private readonly PacketBatch _batch;
    private readonly TxBatch _tx;
    private readonly EventRing _events;
    private readonly byte[] _template;
    private readonly bool _fromUnderlay;
    private readonly int _inPort;
    private readonly VtepEndpoint _outerSource;
    private readonly int _expectedTx;
    private readonly TxCheck _check;

    private Scenario(string name, ForwardingSnapshot snapshot, byte[] template, bool fromUnderlay, int inPort,
        VtepEndpoint outerSource, int expectedTx, TxCheck check)
    {
        Name = name;
        _snapshot = snapshot;
        _template = template;
        _fromUnderlay = fromUnderlay;
        _inPort = inPort;
        _outerSource = outerSource;
        _expectedTx = expectedTx;
        _check = check;
        _events = new EventRing(4096);
        _pipeline = new ForwardingPipeline(_events);
        // The defaults a node uses: 64 slots sized for 9000-byte jumbo frames, a transmit list of 4096.
        _batch = new PacketBatch(BatchSize);
        _tx = new TxBatch(4096);
    }

    public string Name { get; }
    public int TemplateLength => _template.Length;
    public int ExpectedTxPerBatch => _expectedTx;

    public static Scenario FromPort(string name, ForwardingSnapshot snapshot, int inPort, byte[] frame, int expectedTx, TxCheck check)
        => new(name, snapshot, frame, false, inPort, default, expectedTx, check);

    public static Scenario FromUnderlay(string name, ForwardingSnapshot snapshot, VtepEndpoint outerSource, byte[] datagram, int expectedTx, TxCheck check)
        => new(name, snapshot, datagram, true, -1, outerSource, expectedTx, check);

    /// <summary>Refills the batch from the template: one memcpy of the template per packet plus the metadata reset.</summary>
    public int Fill()
    {
        var batch = _batch;
        batch.Clear();
        _tx.Clear();
        ReadOnlySpan<byte> t = _template;
        if (_fromUnderlay)
            for (int i = 0; i < BatchSize; i++) batch.AddFromUnderlay(_outerSource, t);
        else
            for (int i = 0; i < BatchSize; i++) batch.AddFromPort(_inPort, t);
        return batch.Count;
    }

    /// <summary>One whole pass: refill, forward the 64 packets, drain events (none in steady state).</summary>
    public int Run()
    {
        Fill();
        _pipeline.Process(_snapshot, _batch, _tx, NowMs);
        while (_events.TryRead(out _)) { }
        return _tx.Count;
    }

    /// <summary>
    /// Runs a few passes and throws unless every one sends exactly what the scenario claims, drops nothing and raises no
    /// event: a benchmark that silently measured the drop path (or the learning path) would be worse than none.
    /// </summary>
    public void Verify()
    {
        for (int pass = 0; pass < 3; pass++)
        {
            Fill();
            _pipeline.Process(_snapshot, _batch, _tx, NowMs);
            if (_events.Count != 0)
            {
                _events.TryRead(out var ev);
                throw Fail(pass, $"{_events.Count} event(s) raised in steady state, first: {ev.Kind}");
            }
            for (int i = 0; i < _batch.Count; i++)
                if (_batch.Meta(i).Drop != DropReason.None) throw Fail(pass, $"packet {i} dropped: {_batch.Meta(i).Drop}");
            if (_tx.Count != _expectedTx) throw Fail(pass, $"{_tx.Count} transmissions, expected {_expectedTx}");
            for (int i = 0; i < _tx.Count; i++)
            {
                ref readonly var e = ref _tx[i];
                var why = _check(i, e, _batch.SlotBytes(e.Slot, e.Offset, e.Length));
                if (why is not null) throw Fail(pass, $"tx {i} ({e.Kind} port {e.PortId} vtep {e.Destination} slot {e.Slot}): {why}");
            }
        }
        if (_pipeline.Counters.Drops.Any(d => d != 0)) throw Fail(0, "global drop counters moved");
        foreach (var net in _snapshot.Networks.Values)
            if (net.Counters.TotalDrops() != 0) throw Fail(0, $"VNI {net.Vni} drop counters moved");
        if (_pipeline.Counters.EventsSuppressed != 0) throw Fail(0, "the learning path ran (events suppressed)");
    }

    private InvalidOperationException Fail(int pass, string why) => new($"scenario {Name}, pass {pass}: {why}");
}
