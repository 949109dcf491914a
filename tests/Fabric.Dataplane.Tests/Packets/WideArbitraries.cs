using FsCheck;
using FsCheck.Fluent;

namespace Fabric.Dataplane.Tests.Packets;

/// <summary>
/// Integers over their whole range. FsCheck 3's default generators keep every integer within ±size (size ≤ 100, so
/// 0–100 unsigned): a uint never leaves 0.0.0.0/25, a MAC never gets a high octet or the multicast bit, a port never
/// passes 100. Registered through <c>[Property(Arbitrary = [typeof(WideArbitraries)])]</c>, these replace the defaults
/// for byte, ushort, int, uint and ulong: mostly uniform over the full range, plus the edges (0, max, sign and
/// multicast bits) and small values, so both ends are reached in a few hundred cases. <see cref="WideArbitrariesTests"/>
/// checks they do, and that every property that needs them registers them.
/// </summary>
public static class WideArbitraries
{
    private static readonly Gen<int> Uniform16 = Gen.Choose(0, 0xFFFF);
    private static readonly Gen<uint> Uniform32 = Gen.Zip(Uniform16, Uniform16, (hi, lo) => (uint)hi << 16 | (uint)lo);

    public static readonly Gen<byte> AnyByte = Gen.Choose(0, 255).Select(i => (byte)i);

    public static readonly Gen<ushort> AnyUInt16 = Gen.Frequency(
        (6, Uniform16),
        (1, Gen.Elements(0, 1, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFE, 0xFFFF)),
        (1, Gen.Choose(0, 0xFF))).Select(i => (ushort)i);

    public static readonly Gen<uint> AnyUInt32 = Gen.Frequency(
        (6, Uniform32),
        (1, Gen.Elements(0u, 1u, 0xFFu, 0x100u, 0xFFFFu, 0x1_0000u, 0xFF_FFFFu, 0x100_0000u, 0x7FFF_FFFFu, 0x8000_0000u, 0xFFFF_FFFEu, uint.MaxValue)),
        (1, Gen.Choose(0, 0xFF).Select(i => (uint)i)));

    public static readonly Gen<int> AnyInt32 = AnyUInt32.Select(u => unchecked((int)u));

    /// <summary>48-bit MACs: uniform (half of them multicast), well-known ones, and unicast ones with high octets.</summary>
    public static readonly Gen<ulong> AnyMac48 = Gen.Frequency(
        (6, Gen.Zip(Uniform16, Uniform32, (hi, lo) => (ulong)hi << 32 | lo)),
        (1, Gen.Elements(0UL, 0xFFFF_FFFF_FFFFUL, 0x0100_5E00_0001UL, 0x3333_0000_0001UL, 0x0180_C200_0000UL, 0x0200_0000_0001UL,
            0xFEFF_FFFF_FFFFUL, 0x8000_0000_0000UL, 0x0100_0000_0000UL)),
        (1, Gen.Zip(Uniform16, Uniform32, (hi, lo) => ((ulong)hi << 32 | lo) & ~0x0100_0000_0000UL)));

    /// <summary>A ulong is mostly a MAC (the properties mask to 48 bits), sometimes all 64 bits, so the mask is exercised.</summary>
    public static readonly Gen<ulong> AnyUInt64 = Gen.Frequency(
        (5, AnyMac48),
        (1, Gen.Zip(Uniform32, Uniform32, (hi, lo) => (ulong)hi << 32 | lo)));

    // Shrinking keeps FsCheck's own shrinkers (towards 0), so a counterexample still comes out small.
    public static Arbitrary<byte> Byte() => Arb.From(AnyByte, ArbMap.Default.ArbFor<byte>().Shrinker);
    public static Arbitrary<ushort> UInt16() => Arb.From(AnyUInt16, ArbMap.Default.ArbFor<ushort>().Shrinker);
    public static Arbitrary<uint> UInt32() => Arb.From(AnyUInt32, ArbMap.Default.ArbFor<uint>().Shrinker);
    public static Arbitrary<int> Int32() => Arb.From(AnyInt32, ArbMap.Default.ArbFor<int>().Shrinker);
    public static Arbitrary<ulong> UInt64() => Arb.From(AnyUInt64, ArbMap.Default.ArbFor<ulong>().Shrinker);
}
