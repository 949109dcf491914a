using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Events;
using Fabric.Dataplane.Pipeline.Nodes;
using Fabric.Dataplane.Tables;
using Fabric.Dataplane.Tracing;

namespace Fabric.Dataplane.Pipeline;

/// <summary>
/// The forwarding graph. Each node is a small static step that walks the whole batch and handles the packets whose
/// next step it is (VPP's vector processing): the code for a step stays hot in the instruction cache across a batch.
/// Input → Ethernet → (ArpSuppression | ProxyArp) → (Bridge | Router | OverlayDeliver) → DropCount.
/// One instance per dataplane thread; it allocates nothing per batch.
/// </summary>
public sealed class ForwardingPipeline
{
    private readonly PipelineContext _ctx;

    /// <param name="underlayMtu">The underlay's IP MTU; larger encapsulated frames are TooBig (0: not checked).</param>
    /// <param name="samples">Where dropped packets are sampled (null: off).</param>
    /// <param name="lane">This dataplane thread's index: the counter lane it writes.</param>
    /// <param name="counters">The dataplane counters shared by every thread of an engine group (null: its own).</param>
    public ForwardingPipeline(EventRing events, LearnFilter? learnFilter = null, int underlayMtu = 0, DropSampler? samples = null,
        int lane = 0, DataplaneCounters? counters = null)
    {
        Events = events;
        Counters = counters ?? new DataplaneCounters();
        _lane = Counters.Lane(lane);
        _ctx = new PipelineContext(events, learnFilter ?? new LearnFilter(), Counters) { UnderlayMtu = underlayMtu, Samples = samples, Lane = lane };
    }

    /// <summary>The drop samples, when sampling is on.</summary>
    public DropSampler? Samples => _ctx.Samples;

    /// <summary>The hops of traced packets this pipeline forwarded (issue 12).</summary>
    public TraceRecorder Trace => _ctx.Trace;

    public DataplaneCounters Counters { get; }
    private readonly DataplaneCounterLane _lane;
    public EventRing Events { get; }

    /// <summary>Forwards one batch against one snapshot: fills <paramref name="tx"/>, raises events, counts.</summary>
    public void Process(ForwardingSnapshot snapshot, PacketBatch batch, TxBatch tx, long nowMs)
    {
        var ctx = _ctx;
        ctx.Snapshot = snapshot;
        ctx.Batch = batch;
        ctx.Tx = tx;
        ctx.NowMs = nowMs;
        _lane.Batches++;
        _lane.Packets += batch.Count;

        // The stage is named once per stage per batch, for the hops traced packets record in it.
        ctx.Stage = TraceStage.Input; InputNode.Run(ctx);
        ctx.Stage = TraceStage.Ethernet; EthernetNode.Run(ctx);
        ctx.Stage = TraceStage.ArpSuppression; ArpSuppressionNode.Run(ctx);
        ctx.Stage = TraceStage.ProxyArp; ProxyArpNode.Run(ctx);
        ctx.Stage = TraceStage.Bridge; BridgeNode.Run(ctx);
        ctx.Stage = TraceStage.Router; RouterNode.Run(ctx);
        ctx.Stage = TraceStage.OverlayDeliver; OverlayDeliverNode.Run(ctx);
        ctx.Stage = TraceStage.None; DropCountNode.Run(ctx);
    }
}
