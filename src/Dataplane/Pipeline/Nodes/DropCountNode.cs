using Fabric.Dataplane.Counters;

namespace Fabric.Dataplane.Pipeline.Nodes;

/// <summary>
/// Last node: charges every drop to its VNI (or the global counters) and its ingress port, by reason, and samples it
/// when drop sampling is on.
/// </summary>
public static class DropCountNode
{
    public static void Run(PipelineContext ctx)
    {
        var batch = ctx.Batch;
        for (int i = 0; i < batch.Count; i++)
        {
            ref var m = ref batch.Meta(i);
            if (m.Drop == DropReason.None) continue;
            if (ctx.Samples is { } samples && !m.Sampled) samples.Record(m.Drop, i, ref m, batch, ctx.NowMs);
            var r = (int)m.Drop;
            if (m.Network is { } net) net.Counters.Lane(ctx.Lane).Drops[r]++;
            else ctx.Counters.Lane(ctx.Lane).Drops[r]++;
            if (m.Port is { } port) port.Counters.Lane(ctx.Lane).Drops[r]++;
        }
    }
}
