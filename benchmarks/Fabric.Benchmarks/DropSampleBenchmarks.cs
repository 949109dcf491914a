using BenchmarkDotNet.Attributes;
using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Events;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Pipeline;
using Fabric.Dataplane.Tables;

namespace Fabric.Benchmarks;

/// <summary>
/// What drop sampling (issue 12) costs per packet, off and on, with the allocation column. Two batches of 64 64-byte
/// frames from web1 of <see cref="Scenarios.L3Snapshot"/>: one all dropped (a spoofed source IP: SpoofedSource, so
/// every packet takes the sampling path when it is on), one all forwarded (routed and encapsulated to B: sampling must
/// cost nothing there). Mean and Allocated are per packet (OperationsPerInvoke = 64); the refill is included, as in
/// <see cref="PipelineBenchmarks"/> (its Baseline_CopyFramesOnly row is the same refill).
/// <c>dotnet run -c Release --project benchmarks/Fabric.Benchmarks -- --filter '*DropSample*'</c>
/// </summary>
public class DropSampleBenchmarks
{
    private const int Ops = Scenario.BatchSize;
    private ForwardingPipeline _pipeline = null!;
    private ForwardingSnapshot _snapshot = null!;
    private readonly PacketBatch _batch = new(Scenario.BatchSize);
    private readonly TxBatch _tx = new(4096);
    private readonly EventRing _events = new(4096);
    private byte[] _dropped = null!, _forwarded = null!;

    /// <summary>Samples kept per reason; 0: sampling off (the pipeline has no sampler, one null check per drop).</summary>
    [Params(0, 16)]
    public int PerReason { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _snapshot = Scenarios.L3Snapshot();
        _pipeline = new ForwardingPipeline(_events, null, 0, PerReason > 0 ? new DropSampler(PerReason) : null);
        _dropped = Scenarios.UdpFrame(Scenarios.VpcGatewayMac, Scenarios.Web1, Ipv4Address.Parse("10.0.1.99"), Scenarios.Db2Ip);
        _forwarded = Scenarios.UdpFrame(Scenarios.VpcGatewayMac, Scenarios.Web1, Scenarios.Web1Ip, Scenarios.Db2Ip);
        // A benchmark of the wrong path is worse than none: check what each batch does before timing it.
        Pass(_dropped);
        for (int i = 0; i < _batch.Count; i++)
            if (_batch.Meta(i).Drop != DropReason.SpoofedSource) throw new InvalidOperationException($"packet {i}: {_batch.Meta(i).Drop}, expected SpoofedSource");
        if (PerReason > 0 && _pipeline.Samples!.Sampled(DropReason.SpoofedSource) != Ops) throw new InvalidOperationException("the drops were not sampled");
        if (Pass(_forwarded) != Ops) throw new InvalidOperationException("the forwarded batch did not send 64");
    }

    private int Pass(byte[] frame)
    {
        _batch.Clear();
        _tx.Clear();
        for (int i = 0; i < Scenario.BatchSize; i++) _batch.AddFromPort(Scenarios.PortWeb1, frame);
        _pipeline.Process(_snapshot, _batch, _tx, Scenario.NowMs);
        while (_events.TryRead(out _)) { }
        return _tx.Count;
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public int Dropped() => Pass(_dropped);

    [Benchmark(OperationsPerInvoke = Ops)]
    public int Forwarded() => Pass(_forwarded);
}
