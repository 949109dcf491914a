using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Fabric.Dataplane.Packets;

/// <summary>RFC 1071 one's complement sum, as used by IPv4, ICMP and UDP.</summary>
public static class InternetChecksum
{
    /// <summary>Adds the 16-bit big-endian words of <paramref name="data"/> to <paramref name="sum"/> (not folded).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Add(ulong sum, ReadOnlySpan<byte> data)
    {
        if (data.Length >= 64 && BitConverter.IsLittleEndian) return sum + AddLong(data);
        int i = 0;
        // 4 bytes at a time into a 64-bit accumulator: no carry can be lost for any frame size.
        for (; i + 4 <= data.Length; i += 4) sum += BinaryPrimitives.ReadUInt32BigEndian(data.Slice(i));
        if (i + 2 <= data.Length) { sum += BinaryPrimitives.ReadUInt16BigEndian(data.Slice(i)); i += 2; }
        if (i < data.Length) sum += (uint)data[i] << 8;
        return sum;
    }

    /// <summary>
    /// The folded (not complemented) big-endian sum of a long buffer, for payloads (segmentation, checksum offload): the
    /// one's complement sum does not depend on byte order (RFC 1071 §2(B)), so native little-endian 32-bit words are
    /// summed, 128 bytes a step with AVX-512 or 64 with AVX2 where there is one, and the folded result is byte-swapped.
    /// </summary>
    private static ulong AddLong(ReadOnlySpan<byte> data)
    {
        ref var r = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(data);
        var n = data.Length;
        int i = 0;
        ulong s = 0;
        if (System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated)
        {
            // The same with AVX-512, 128 bytes a step (8,192 steps per 1 MB round); the rest goes through the 256-bit loop.
            var mask = System.Runtime.Intrinsics.Vector512.Create(0xFFFFu);
            while (i + 128 <= n)
            {
                var a0 = System.Runtime.Intrinsics.Vector512<uint>.Zero;
                var a1 = System.Runtime.Intrinsics.Vector512<uint>.Zero;
                var end = Math.Min(n - 127, i + 128 * 8_192);
                for (; i < end; i += 128)
                {
                    var v = System.Runtime.Intrinsics.Vector512.LoadUnsafe(ref Unsafe.As<byte, uint>(ref Unsafe.Add(ref r, i)));
                    var w = System.Runtime.Intrinsics.Vector512.LoadUnsafe(ref Unsafe.As<byte, uint>(ref Unsafe.Add(ref r, i + 64)));
                    a0 += (v & mask) + (v >> 16);
                    a1 += (w & mask) + (w >> 16);
                }
                var (l0, h0) = System.Runtime.Intrinsics.Vector512.Widen(a0);
                var (l1, h1) = System.Runtime.Intrinsics.Vector512.Widen(a1);
                s += System.Runtime.Intrinsics.Vector512.Sum(l0 + h0 + l1 + h1);
            }
        }
        if (System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated)
        {
            // Each 32-bit lane is split into its two 16-bit halves (an AND and a shift, which run on more ports than the
            // widening shuffle they replace) and both go into 32-bit accumulators, two of them, 64 bytes a step. A lane
            // grows by at most 2 x 0xFFFF a step, so 16,384 steps (1 MB) cannot overflow it; then it is widened into s.
            var mask = System.Runtime.Intrinsics.Vector256.Create(0xFFFFu);
            while (i + 64 <= n)
            {
                var a0 = System.Runtime.Intrinsics.Vector256<uint>.Zero;
                var a1 = System.Runtime.Intrinsics.Vector256<uint>.Zero;
                var end = Math.Min(n - 63, i + 64 * 16_384);
                for (; i < end; i += 64)
                {
                    var v = System.Runtime.Intrinsics.Vector256.LoadUnsafe(ref Unsafe.As<byte, uint>(ref Unsafe.Add(ref r, i)));
                    var w = System.Runtime.Intrinsics.Vector256.LoadUnsafe(ref Unsafe.As<byte, uint>(ref Unsafe.Add(ref r, i + 32)));
                    a0 += (v & mask) + (v >> 16);
                    a1 += (w & mask) + (w >> 16);
                }
                var (l0, h0) = System.Runtime.Intrinsics.Vector256.Widen(a0);
                var (l1, h1) = System.Runtime.Intrinsics.Vector256.Widen(a1);
                s += System.Runtime.Intrinsics.Vector256.Sum(l0 + h0 + l1 + h1);
            }
        }
        ulong s1 = 0;
        for (; i + 8 <= n; i += 8)
        {
            s += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref r, i));
            s1 += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref r, i + 4));
        }
        s += s1;
        for (; i + 2 <= n; i += 2) s += Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref r, i));
        if (i < n) s += Unsafe.Add(ref r, i); // an odd last byte is the high byte of a big-endian word: low byte here
        s = (s & 0xFFFF_FFFF) + (s >> 32);
        s = (s & 0xFFFF_FFFF) + (s >> 32);
        s = (s & 0xFFFF) + (s >> 16);
        s = (s & 0xFFFF) + (s >> 16);
        s = (s & 0xFFFF) + (s >> 16);
        return BinaryPrimitives.ReverseEndianness((ushort)s);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Fold(ulong sum)
    {
        sum = (sum & 0xFFFF_FFFF) + (sum >> 32);
        sum = (sum & 0xFFFF_FFFF) + (sum >> 32);
        uint s = (uint)sum;
        s = (s & 0xFFFF) + (s >> 16);
        s = (s & 0xFFFF) + (s >> 16);
        return (ushort)~s;
    }

    public static ushort Compute(ReadOnlySpan<byte> data) => Fold(Add(0, data));

    /// <summary>True when the data, checksum field included, sums to all ones.</summary>
    public static bool IsValid(ReadOnlySpan<byte> data) => Compute(data) == 0;

    /// <summary>RFC 1624 incremental update when one 16-bit word changes from <paramref name="old"/> to <paramref name="new"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Update(ushort checksum, ushort old, ushort @new)
    {
        uint sum = (uint)(~checksum & 0xFFFF) + (uint)(~old & 0xFFFF) + @new;
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }
}
