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
    public ForwardingPipeline(EventRing events, LearnFilter? learnFilter = null, int underlayMtu = 0, DropSampler? samples = null)
    {
        Events = events;
        _ctx = new PipelineContext(events, learnFilter ?? new LearnFilter(), Counters) { UnderlayMtu = underlayMtu, Samples = samples };
    }

    /// <summary>The drop samples, when sampling is on.</summary>
    public DropSampler? Samples => _ctx.Samples;

    public DataplaneCounters Counters { get; } = new();
    public EventRing Events { get; }

    /// <summary>Forwards one batch against one snapshot: fills <paramref name="tx"/>, raises events, counts.</summary>
    public void Process(ForwardingSnapshot snapshot, PacketBatch batch, TxBatch tx, long nowMs)
    {
        var ctx = _ctx;
        ctx.Snapshot = snapshot;
        ctx.Batch = batch;
        ctx.Tx = tx;
        ctx.NowMs = nowMs;
        Counters.Batches++;
        Counters.Packets += batch.Count;

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
