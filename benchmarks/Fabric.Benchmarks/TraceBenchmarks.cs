using BenchmarkDotNet.Attributes;
using Fabric.Dataplane.Events;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Pipeline;
using Fabric.Dataplane.Tables;
using Fabric.Dataplane.Tracing;

namespace Fabric.Benchmarks;

/// <summary>
/// What the live trace (issue 12) costs per packet, with the allocation column: a batch of 64 64-byte frames from web1
/// of <see cref="Scenarios.L3Snapshot"/>, routed and encapsulated to B, with 0, 1 or all 64 of them traced (a traced
/// packet writes three hop records: received, routed, encapsulated, and marks its VXLAN header). Mean and Allocated
/// are per packet (OperationsPerInvoke = 64), refill included as in <see cref="DropSampleBenchmarks"/>, whose
/// Forwarded row with sampling off is the same batch on a pipeline that never traces.
/// <c>dotnet run -c Release --project benchmarks/Fabric.Benchmarks -- --filter '*TraceBenchmarks*'</c>
/// </summary>
public class TraceBenchmarks
{
    private const int Ops = Scenario.BatchSize;
    private ForwardingPipeline _pipeline = null!;
    private ForwardingSnapshot _snapshot = null!;
    private readonly PacketBatch _batch = new(Scenario.BatchSize);
    private readonly TxBatch _tx = new(4096);
    private readonly EventRing _events = new(4096);
    private byte[] _frame = null!;

    /// <summary>How many packets of each batch are traced.</summary>
    [Params(0, 1, 64)]
    public int Traced { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _snapshot = Scenarios.L3Snapshot();
        _pipeline = new ForwardingPipeline(_events);
        _pipeline.Trace.FabricMembers = new HashSet<VtepEndpoint> { _snapshot.LocalVtep, Scenarios.B };
        _frame = Scenarios.UdpFrame(Scenarios.VpcGatewayMac, Scenarios.Web1, Scenarios.Web1Ip, Scenarios.Db2Ip);
        // A benchmark of the wrong path is worse than none: check what the batch does before timing it.
        if (Pass() != Ops) throw new InvalidOperationException("the batch did not send 64");
        if (_pipeline.Trace.Written != 3 * Traced) throw new InvalidOperationException($"{_pipeline.Trace.Written} hops, expected {3 * Traced}");
    }

    private int Pass()
    {
        _batch.Clear();
        _tx.Clear();
        for (int i = 0; i < Scenario.BatchSize; i++)
        {
            _batch.AddFromPort(Scenarios.PortWeb1, _frame);
            if (i < Traced) _batch.Meta(i).Trace = 1 + i;
        }
        _pipeline.Process(_snapshot, _batch, _tx, Scenario.NowMs);
        while (_events.TryRead(out _)) { }
        return _tx.Count;
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public int Forwarded() => Pass();
}
