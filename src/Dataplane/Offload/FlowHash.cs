using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Fabric.Dataplane.Offload;

/// <summary>
/// RFC 7348 §5: the outer UDP source port should come from a hash of the inner headers, so that ECMP in the underlay
/// and RSS at the receiver spread flows while keeping each flow on one path (no reordering). IPv4 TCP/UDP: the
/// 5-tuple; other IPv4: the addresses and protocol; anything else: the two MAC addresses.
/// </summary>
public static class FlowHash
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Compute(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < 14) return 0;
        var l3 = ChecksumOffload.L3Offset(frame);
        ulong h;
        if (frame.Length >= l3 + 20 && BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(l3 - 2)) == 0x0800 && frame[l3] >> 4 == 4)
        {
            var ip = frame.Slice(l3);
            var proto = ip[9];
            h = BinaryPrimitives.ReadUInt64LittleEndian(ip.Slice(12)) ^ proto;
            var ihl = (ip[0] & 0xF) * 4;
            var fragment = (BinaryPrimitives.ReadUInt16BigEndian(ip.Slice(6)) & 0x3FFF) != 0;
            if (!fragment && proto is ChecksumOffload.Tcp or ChecksumOffload.Udp && ip.Length >= ihl + 4)
                h = Mix(h) ^ BinaryPrimitives.ReadUInt32LittleEndian(ip.Slice(ihl));
        }
        else
        {
            h = BinaryPrimitives.ReadUInt64LittleEndian(frame) ^ ((ulong)BinaryPrimitives.ReadUInt32LittleEndian(frame.Slice(8)) << 17);
        }
        return (uint)(Mix(h) >> 32);
    }

    /// <summary>A 64-bit finaliser (murmur3's fmix64): every input bit moves every output bit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Mix(ulong k)
    {
        k ^= k >> 33;
        k *= 0xff51afd7ed558ccdUL;
        k ^= k >> 33;
        k *= 0xc4ceb9fe1a85ec53UL;
        k ^= k >> 33;
        return k;
    }
}
