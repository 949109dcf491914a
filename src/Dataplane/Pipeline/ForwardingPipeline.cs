using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Events;
using Fabric.Dataplane.Pipeline.Nodes;
using Fabric.Dataplane.Tables;

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

        InputNode.Run(ctx);
        EthernetNode.Run(ctx);
        ArpSuppressionNode.Run(ctx);
        ProxyArpNode.Run(ctx);
        BridgeNode.Run(ctx);
        RouterNode.Run(ctx);
        OverlayDeliverNode.Run(ctx);
        DropCountNode.Run(ctx);
    }
}
