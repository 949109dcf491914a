using System.Runtime.CompilerServices;
using Fabric.Dataplane.Packets;

namespace Fabric.Dataplane.Tracing;

/// <summary>
/// How a traced packet is known. In <see cref="Pipeline.PacketMeta.Trace"/>: 0 = not traced, else the probe id (23 bits),
/// the reply bit and two flags that never leave the node. Between Fabric members only, the VXLAN header carries it:
/// reserved flag bit 0x01 says "traced" (0x02: "do not deliver"), the 24 reserved bits after the flags hold the id and
/// reply bit. RFC 7348 receivers ignore reserved bits, but the Linux kernel drops VXLAN whose reserved bits are set,
/// so nothing marked ever goes to an external VTEP (<see cref="TraceRecorder.IsFabricMember"/>).
/// </summary>
public static class TraceMark
{
    /// <summary>Probe ids: 1 .. 2^23-1.</summary>
    public const int ProbeMask = 0x7F_FFFF;
    /// <summary>Set on the answer of the probed endpoint (echo reply, SYN-ACK, RST...), which is traced too.</summary>
    public const int ReplyBit = 0x80_0000;
    /// <summary>The id as carried in VXLAN (probe id and reply bit).</summary>
    public const int WireMask = 0xFF_FFFF;
    /// <summary>Meta only (carried as <see cref="FlagNoDeliver"/>): stop at the last hop, counted, not delivered.</summary>
    public const int NoDeliverBit = 1 << 24;
    /// <summary>Meta only: this slot also goes to an external VTEP, so its (shared) VXLAN header stays unmarked.</summary>
    public const int UnmarkedBit = 1 << 25;

    /// <summary>VXLAN flags octet: reserved bit used as "traced" (the I bit is 0x08).</summary>
    public const byte FlagTraced = 0x01;
    public const byte FlagNoDeliver = 0x02;

    public static int Probe(int trace) => trace & ProbeMask;
    public static bool IsReply(int trace) => (trace & ReplyBit) != 0;

    /// <summary>Writes (or, <paramref name="marked"/> false, clears) the mark in a VXLAN header already written.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Write(Span<byte> vxlan, int trace, bool marked)
    {
        if (!marked)
        {
            vxlan[0] = VxlanHeader.FlagI;
            vxlan[1] = vxlan[2] = vxlan[3] = 0;
            return;
        }
        vxlan[0] = (byte)(VxlanHeader.FlagI | FlagTraced | ((trace & NoDeliverBit) != 0 ? FlagNoDeliver : 0));
        var id = trace & WireMask;
        vxlan[1] = (byte)(id >> 16);
        vxlan[2] = (byte)(id >> 8);
        vxlan[3] = (byte)id;
    }

    /// <summary>The trace value of a marked VXLAN header (0 when it carries no id).</summary>
    public static int Read(ReadOnlySpan<byte> vxlan)
    {
        var id = (vxlan[1] << 16) | (vxlan[2] << 8) | vxlan[3];
        if ((id & ProbeMask) == 0) return 0;
        return id | ((vxlan[0] & FlagNoDeliver) != 0 ? NoDeliverBit : 0);
    }
}
