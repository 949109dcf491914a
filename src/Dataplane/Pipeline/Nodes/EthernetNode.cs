using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Events;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Tables;

namespace Fabric.Dataplane.Pipeline.Nodes;

/// <summary>
/// Parses the (inner) Ethernet header, applies the source MAC rules (no group or zero source; source check on ports),
/// learns source MACs in <c>l2</c> networks, and dispatches by network kind and EtherType.
/// </summary>
public static class EthernetNode
{
    public static void Run(PipelineContext ctx)
    {
        var batch = ctx.Batch;
        for (int i = 0; i < batch.Count; i++)
        {
            ref var m = ref batch.Meta(i);
            if (m.Next != PipelineStep.Ethernet) continue;
            var frame = batch.Frame(i);
            if (EthernetFrame.TryParse(frame, out var eth) != PacketError.None) { ctx.Drop(ref m, DropReason.Malformed); continue; }
            m.L3Offset = eth.PayloadOffset;
            m.EtherType = eth.EtherType;
            var net = m.Network!;
            var src = eth.Source;
            if (!src.IsUnicast) { ctx.Drop(ref m, DropReason.SpoofedSource); continue; }
            var fromPort = m.Origin == PacketOrigin.LocalPort;
            if (fromPort && m.Port!.SourceCheck && src != m.Port.Mac) { ctx.Drop(ref m, DropReason.SpoofedSource); continue; }

            if (net.Kind == NetworkKind.L3)
            {
                if (eth.HasVlanTag) { ctx.Drop(ref m, DropReason.VlanTagInL3); continue; }
                switch (eth.EtherType)
                {
                    case EtherTypes.Ipv4: m.Next = fromPort ? PipelineStep.Router : PipelineStep.OverlayDeliver; break;
                    case EtherTypes.Arp:
                        if (fromPort) m.Next = PipelineStep.ProxyArp;
                        else ctx.Drop(ref m, DropReason.ArpFromOverlay);
                        break;
                    default: ctx.Drop(ref m, DropReason.NotIpv4); break;
                }
                continue;
            }

            if (eth.HasVlanTag) net.Counters.Lane(ctx.Lane).VlanTagged++;
            var location = fromPort ? Location.Local(m.InPort) : Location.Remote(m.OuterSource);
            if (!Learn(ctx, net, src, location)) { ctx.Drop(ref m, DropReason.FdbFull); continue; }
            m.Next = fromPort && eth.EtherType == EtherTypes.Arp ? PipelineStep.ArpSuppression : PipelineStep.Bridge;
        }
    }

    /// <summary>
    /// Reports a source MAC the snapshot does not hold at this location (rate-limited), and refreshes learned entries.
    /// Returns false when the source is unknown and the VNI's FDB is full: such frames are dropped, not flooded.
    /// </summary>
    internal static bool Learn(PipelineContext ctx, NetworkState net, MacAddress src, in Location location)
    {
        if (net.Fdb.TryGet(src, out var entry))
        {
            if (entry.Location == location && entry.Source != EntrySource.Learned) return true;
        }
        else if (net.Fdb.IsFull)
        {
            return false;
        }
        if (ctx.LearnFilter.ShouldReport(net.Vni, src, location, ctx.NowMs))
            ctx.Raise(DataplaneEventKind.MacLearned, net.Vni, src, default, location);
        else
            ctx.Counters.Lane(ctx.Lane).EventsSuppressed++;
        return true;
    }
}
