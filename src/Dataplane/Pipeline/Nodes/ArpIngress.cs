using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Events;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Tables;

namespace Fabric.Dataplane.Pipeline.Nodes;

/// <summary>What both ARP nodes do first with an ARP from a port: parse it and hold its body to the port's source check.</summary>
internal static class ArpIngress
{
    /// <summary>
    /// Parses the ARP of the current frame. False when it was dropped: malformed, or (source check) a sender MAC or IP
    /// that is not the port's, in which case a claim on another endpoint's address is also reported as a conflict.
    /// A probe (sender IP 0.0.0.0) claims nothing; a port without an IP (l2) is only held to its MAC.
    /// </summary>
    public static bool TryAccept(PipelineContext ctx, ref PacketMeta m, Span<byte> frame, out ArpPacket arp)
    {
        if (ArpPacket.TryParse(frame.Slice(m.L3Offset), out arp) != PacketError.None)
        {
            ctx.Drop(ref m, DropReason.Malformed);
            return false;
        }
        var port = m.Port!;
        var senderIp = arp.SenderIp;
        var senderMac = arp.SenderMac;
        if (!port.SourceCheck || (senderMac == port.Mac && (!port.HasIp || arp.IsProbe || senderIp == port.Ip))) return true;
        var net = m.Network!;
        if (!senderIp.IsZero && senderIp != port.Ip && net.Neighbours.TryGet(senderIp, out var owner) && owner != senderMac)
            ctx.Raise(DataplaneEventKind.AddressConflict, net.Vni, senderMac, senderIp, Location.Local(port.Id), owner);
        ctx.Drop(ref m, DropReason.SpoofedSource);
        return false;
    }
}
