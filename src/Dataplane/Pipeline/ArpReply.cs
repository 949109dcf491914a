using System.Buffers.Binary;
using Fabric.Dataplane.Packets;

namespace Fabric.Dataplane.Pipeline;

/// <summary>Turns an ARP request into the reply in place: no copy, no allocation, a VLAN tag (l2) is kept.</summary>
internal static class ArpReply
{
    public static void WriteInPlace(Span<byte> frame, int arpOffset, MacAddress answerMac, Ipv4Address answerIp,
        MacAddress requesterMac, Ipv4Address requesterIp)
    {
        requesterMac.Write(frame);
        answerMac.Write(frame.Slice(6));
        var arp = frame.Slice(arpOffset);
        BinaryPrimitives.WriteUInt16BigEndian(arp.Slice(6), (ushort)ArpOperation.Reply);
        answerMac.Write(arp.Slice(8));
        answerIp.Write(arp.Slice(14));
        requesterMac.Write(arp.Slice(18));
        requesterIp.Write(arp.Slice(24));
    }
}
