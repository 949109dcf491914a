using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Fabric.Dataplane.Packets;
using FsCheck;
using FsCheck.Fluent;
using Xunit.Sdk;
using static Fabric.Dataplane.Tests.Packets.TestFrames;

namespace Fabric.Dataplane.Tests.Packets;

public sealed record RandomBytes(byte[] Value)
{
    public override string ToString() => $"{Value.Length} bytes {Convert.ToHexString(Value)}";
}

public sealed record MutatedFrame(string Origin, string Mutations, byte[] Value)
{
    public override string ToString() => $"{Origin} after [{Mutations}]: {Value.Length} bytes {Convert.ToHexString(Value)}";
}

public sealed record AddressLikeText(string Value)
{
    public override string ToString() => $"\"{Value}\"";
}

/// <summary>Generators for the reader properties (registered through <c>[Property(Arbitrary = ...)]</c>).</summary>
public static class PacketArbitraries
{
    private static readonly Gen<byte> AnyByte = Gen.Choose(0, 255).Select(i => (byte)i);

    /// <summary>Arbitrary bytes, length uniformly 0..200 (not tied to FsCheck's size, so long inputs are common from the start).</summary>
    public static Arbitrary<RandomBytes> ArbRandomBytes()
        => Gen.Choose(0, 200).SelectMany(n => Gen.ArrayOf(AnyByte, n)).Select(b => new RandomBytes(b)).ToArbitrary();

    public static Arbitrary<MutatedFrame> ArbMutatedFrame()
        => Gen.Zip(Gen.Choose(0, FrameMutator.Seeds.Length - 1), Gen.Choose(0, int.MaxValue), FrameMutator.Mutate).ToArbitrary();

    public static Arbitrary<AddressLikeText> ArbAddressLikeText()
    {
        const string alphabet = "0123456789012345678901234567890123456789....../:-abcdefABCDEFx +";
        var noise = Gen.Choose(0, 24)
            .SelectMany(n => Gen.ArrayOf(Gen.Elements(alphabet.ToCharArray()), n))
            .Select(c => new string(c));
        // Near-misses of real addresses: plausible and implausible parts, mostly dot-separated, sometimes with a length.
        var part = Gen.OneOf(
            Gen.Choose(0, 300).Select(i => i.ToString()),
            Gen.Elements("0", "00", "01", "010", "0010", "255", "256", "0x0a", "0xff", "+1", "-1", " 1", "1 ", "", "a", "1e1", "\u0661"));
        var separator = Gen.Elements(".", ".", ".", ".", ".", ".", "..", ":", "-", "/");
        var structured =
            from n in Gen.Frequency((4, Gen.Constant(3)), (1, Gen.Choose(1, 6)))
            from parts in Gen.ArrayOf(Gen.Zip(part, separator, (p, sep) => p + sep), n)
            from last in part
            from suffix in Gen.Elements("", "", "/8", "/24", "/32", "/0", "/33", "/08", "/")
            select string.Concat(parts) + last + suffix;
        var mac = Gen.Zip(
            Gen.ArrayOf(Gen.OneOf(Gen.Choose(0, 255).Select(i => i.ToString("x2")), Gen.Elements("g0", "0", "000", "+1", " a")), 6),
            Gen.Elements(':', '-', '.'),
            (octets, sep) => string.Join(sep, octets));
        return Gen.Frequency((1, noise), (3, structured), (1, mac)).Select(t => new AddressLikeText(t)).ToArbitrary();
    }
}

/// <summary>Valid frames of every shape, and a deterministic (seeded) mutator that damages them the way real inputs do.</summary>
internal static class FrameMutator
{
    public static readonly (string Name, byte[] Bytes)[] Seeds = BuildSeeds();

    private static (string, byte[])[] BuildSeeds()
    {
        var tagged = EthIpv4Icmp();
        var taggedFrame = new byte[tagged.Length + 4];
        EthernetFrame.WriteTaggedHeader(taggedFrame, MacB, MacA, 10, EtherTypes.Ipv4);
        tagged.AsSpan(14).CopyTo(taggedFrame.AsSpan(18));

        var optionsIp = Ipv4WithOptions(15, IpProtocols.Icmp, IcmpMessage(IcmpEcho.EchoRequest, 1, 2, Pattern(10)));
        var optionsFrame = new byte[14 + optionsIp.Length];
        EthernetFrame.WriteHeader(optionsFrame, MacB, MacA, EtherTypes.Ipv4);
        optionsIp.CopyTo(optionsFrame, 14);

        return
        [
            ("eth/ipv4/icmp", EthIpv4Icmp()),
            ("eth/ipv4/icmp padded", EthIpv4Icmp(Pattern(2), minLength: 60)),
            ("eth/802.1q/ipv4/icmp", taggedFrame),
            ("eth/ipv4+options/icmp", optionsFrame),
            ("eth/arp", EthArp(ArpOperation.Request, MacA, IpA, MacAddress.Zero, IpB, minLength: 60)),
            ("eth/ipv4/udp", EthIpv4Udp(MacA, MacB, IpA, IpB, 1000, 2000, Pattern(21))),
            ("eth/ipv4/udp no checksum", EthIpv4Udp(MacA, MacB, IpA, IpB, 1000, 2000, Pattern(3), computeChecksum: false)),
            ("vxlan/eth/ipv4/icmp", Vxlan(EthIpv4Icmp(), 100)),
            ("vxlan/eth/arp", Vxlan(EthArp(ArpOperation.Reply, MacA, IpA, MacB, IpB), 0xFFFFFF)),
            ("vxlan/eth/ipv4/udp", Vxlan(EthIpv4Udp(MacA, MacB, IpA, IpB, 7, 8, Pattern(5)), 1)),
        ];
    }

    private static readonly byte[] InterestingBytes = [0, 1, 4, 5, 6, 7, 8, 0x0F, 0x10, 0x14, 0x40, 0x44, 0x45, 0x46, 0x4F, 0x7F, 0x80, 0xF7, 0xFF];
    private static readonly ushort[] InterestingWords = [0, 1, 7, 8, 19, 20, 21, 23, 24, 0x7FFF, 0x8000, 0xFFFF, 0x0800, 0x0806, 0x8100, 0x88A8, 0x2000, 0x1FFF];
    // Length and type fields of the seeds: ethertypes, IPv4 total length/flags, UDP length, inner ethertype and lengths.
    private static readonly int[] FieldOffsets = [12, 16, 20, 24, 30, 34, 38, 42, 46, 50, 62, 66, 70, 86, 88];

    public static MutatedFrame Mutate(int seedIndex, int seed)
    {
        var rnd = new Random(seed);
        var (name, original) = Seeds[seedIndex];
        var b = (byte[])original.Clone();
        var log = new List<string>();
        int n = rnd.Next(1, 5);
        for (int i = 0; i < n; i++)
        {
            switch (rnd.Next(8))
            {
                case 0 when b.Length > 0:
                {
                    var at = rnd.Next(b.Length); var bit = rnd.Next(8);
                    b[at] ^= (byte)(1 << bit);
                    log.Add($"flip {at}.{bit}");
                    break;
                }
                case 1 when b.Length > 0:
                {
                    var at = rnd.Next(b.Length);
                    b[at] = (byte)rnd.Next(256);
                    log.Add($"set {at}={b[at]:x2}");
                    break;
                }
                case 2 when b.Length > 0:
                {
                    var at = rnd.Next(b.Length);
                    b[at] = InterestingBytes[rnd.Next(InterestingBytes.Length)];
                    log.Add($"set {at}={b[at]:x2}");
                    break;
                }
                case 3:
                case 4:
                {
                    var at = rnd.Next(2) == 0 ? FieldOffsets[rnd.Next(FieldOffsets.Length)] : rnd.Next(Math.Max(1, b.Length));
                    var w = rnd.Next(3) == 0 ? (ushort)rnd.Next(65536) : InterestingWords[rnd.Next(InterestingWords.Length)];
                    if (at + 2 <= b.Length)
                    {
                        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(at), w);
                        log.Add($"word {at}={w:x4}");
                    }
                    break;
                }
                case 5:
                {
                    var len = rnd.Next(b.Length + 1);
                    b = b.AsSpan(0, len).ToArray();
                    log.Add($"truncate {len}");
                    break;
                }
                case 6:
                {
                    var extra = new byte[rnd.Next(1, 24)];
                    rnd.NextBytes(extra);
                    b = [.. b, .. extra];
                    log.Add($"append {extra.Length}");
                    break;
                }
                default:
                {
                    var cut = Math.Min(b.Length, rnd.Next(1, 5));
                    b = b.AsSpan(cut).ToArray();
                    log.Add($"drop front {cut}");
                    break;
                }
            }
        }
        // Half the time make damaged IPv4 headers checksum-valid again, so the lies in them reach the deeper readers.
        if (rnd.Next(2) == 0)
        {
            foreach (var off in new[] { 14, 18, 14 + 50, 18 + 50 }) FixIpv4Checksum(b, off);
            log.Add("fix ipv4 checksums");
        }
        return new MutatedFrame(name, string.Join(", ", log), b);
    }

    private static void FixIpv4Checksum(byte[] b, int offset)
    {
        if (b.Length < offset + 20 || b[offset] >> 4 != 4) return;
        var ihl = (b[offset] & 0x0F) * 4;
        if (ihl < 20 || offset + ihl > b.Length) return;
        Ipv4Header.WriteChecksum(b.AsSpan(offset, ihl));
    }
}

/// <summary>What a sweep reached, so tests can prove the fuzzing is not vacuous.</summary>
internal sealed class SweepCoverage
{
    public readonly Dictionary<string, int> Counts = [];
    public void Hit(string what) => Counts[what] = Counts.GetValueOrDefault(what) + 1;
    public int this[string what] => Counts.GetValueOrDefault(what);
}

/// <summary>
/// Runs every reader over a span and over every span a successful parse exposes, touches every property of every
/// successfully parsed value, and checks that nothing exposed lies outside the span it was parsed from (hence outside the original input).
/// </summary>
internal static class ReaderSweep
{
    private const int MaxDepth = 5;

    public static long Run(ReadOnlySpan<byte> input, SweepCoverage? coverage = null)
        => Everything(input, 0, coverage);

    private static long Everything(ReadOnlySpan<byte> s, int depth, SweepCoverage? cov)
    {
        if (depth > MaxDepth) return 0;
        long sink = VxlanEncapsulation.SourcePortFor(s);
        if (sink < 49152) throw new XunitException($"source port {sink} below the ephemeral range");
        sink += Ethernet(s, depth, cov);
        sink += Arp(s, depth, cov);
        sink += Ipv4(s, depth, cov);
        sink += Icmp(s, depth, cov);
        sink += Udp(s, default, default, depth, cov);
        sink += Vxlan(s, depth, cov);
        return sink;
    }

    private static long Ethernet(ReadOnlySpan<byte> s, int depth, SweepCoverage? cov)
    {
        var e = EthernetFrame.TryParse(s, out var f);
        cov?.Hit($"eth:{e}");
        if (e != PacketError.None) { Empty(f.Bytes, "EthernetFrame.Bytes after failure"); return (long)e; }
        Inside(s, f.Bytes, "EthernetFrame.Bytes");
        Inside(f.Bytes, f.Payload, "EthernetFrame.Payload");
        Check(f.PayloadOffset == (f.HasVlanTag ? 18 : 14), "PayloadOffset matches the tag");
        Check(f.HasVlanTag || f.VlanId == 0, "VlanId is 0 when untagged");
        Check(f.VlanId <= 0xFFF, "VlanId fits 12 bits");
        Check(f.Bytes.Length == s.Length, "Ethernet keeps all bytes");
        long sink = (long)f.Destination.Value + (long)f.Source.Value + f.EtherType + f.VlanId + f.Payload.Length
                    + (f.HasVlanTag ? 1 : 0) + (f.Destination.IsMulticast ? 1 : 0) + (f.Source.IsUnicast ? 1 : 0);
        switch (f.EtherType)
        {
            case EtherTypes.Ipv4: cov?.Hit("eth->ipv4"); break;
            case EtherTypes.Arp: cov?.Hit("eth->arp"); break;
        }
        if (depth > 0) cov?.Hit("inner eth");
        return sink + Everything(f.Payload, depth + 1, cov);
    }

    private static long Arp(ReadOnlySpan<byte> s, int depth, SweepCoverage? cov)
    {
        var e = ArpPacket.TryParse(s, out var a);
        cov?.Hit($"arp:{e}");
        if (e != PacketError.None) { Empty(a.Bytes, "ArpPacket.Bytes after failure"); return (long)e; }
        Inside(s, a.Bytes, "ArpPacket.Bytes");
        Check(a.Bytes.Length == ArpPacket.Length, "ARP spans 28 bytes");
        Check(a.Operation is ArpOperation.Request or ArpOperation.Reply, "ARP operation is request or reply");
        Check(!(a.IsProbe && a.IsGratuitous), "a probe is never gratuitous");
        return (long)a.Operation + (long)a.SenderMac.Value + a.SenderIp.Value + (long)a.TargetMac.Value + a.TargetIp.Value
               + (a.IsGratuitous ? 1 : 0) + (a.IsProbe ? 1 : 0);
    }

    private static long Ipv4(ReadOnlySpan<byte> s, int depth, SweepCoverage? cov)
    {
        var e = Ipv4Header.TryParse(s, out var h);
        cov?.Hit($"ipv4:{e}");
        if (e != PacketError.None) { Empty(h.Bytes, "Ipv4Header.Bytes after failure"); return (long)e; }
        Inside(s, h.Bytes, "Ipv4Header.Bytes");
        Inside(h.Bytes, h.Payload, "Ipv4Header.Payload");
        Check(h.Bytes.Length == h.TotalLength, "IPv4 Bytes spans TotalLength");
        Check(h.HeaderLength is >= 20 and <= 60 && h.HeaderLength <= h.TotalLength, "IHL within 20..TotalLength");
        Check(h.Payload.Length == h.TotalLength - h.HeaderLength, "IPv4 payload is TotalLength - IHL");
        Check(InternetChecksum.IsValid(h.Bytes[..h.HeaderLength]), "accepted IPv4 header has a valid checksum");
        Check(h.IsFragment == (h.MoreFragments || h.FragmentOffset != 0), "IsFragment");
        Check(h.FragmentOffset % 8 == 0 && h.FragmentOffset <= 65528, "fragment offset in bytes");
        long sink = h.HeaderLength + h.Dscp + h.TotalLength + h.Identification + (h.DontFragment ? 1 : 0) + (h.MoreFragments ? 1 : 0)
                    + h.FragmentOffset + (h.IsFragment ? 1 : 0) + h.Ttl + h.Protocol + h.Checksum + h.Source.Value + h.Destination.Value
                    + h.Payload.Length + (h.Source.IsMulticast ? 1 : 0) + (h.Destination.IsLimitedBroadcast ? 1 : 0);
        if (h.Protocol == IpProtocols.Udp)
        {
            cov?.Hit("ipv4->udp");
            sink += Udp(h.Payload, h.Source, h.Destination, depth + 1, cov);
        }
        if (h.Protocol == IpProtocols.Icmp) cov?.Hit("ipv4->icmp");
        return sink + Everything(h.Payload, depth + 1, cov);
    }

    private static long Icmp(ReadOnlySpan<byte> s, int depth, SweepCoverage? cov)
    {
        var e = IcmpEcho.TryParse(s, out var m);
        cov?.Hit($"icmp:{e}");
        if (e != PacketError.None) { Empty(m.Bytes, "IcmpEcho.Bytes after failure"); return (long)e; }
        Inside(s, m.Bytes, "IcmpEcho.Bytes");
        Inside(m.Bytes, m.Data, "IcmpEcho.Data");
        Check(m.Data.Length == m.Bytes.Length - IcmpEcho.HeaderLength, "ICMP data follows the 8-byte header");
        Check(InternetChecksum.IsValid(m.Bytes), "accepted ICMP message has a valid checksum");
        if (m.IsEchoRequest && depth > 2) cov?.Hit("deep echo request");
        return m.Type + m.Code + m.Checksum + m.Identifier + m.Sequence + m.Data.Length + (m.IsEchoRequest ? 1 : 0) + (m.IsEchoReply ? 1 : 0);
    }

    private static long Udp(ReadOnlySpan<byte> s, Ipv4Address src, Ipv4Address dst, int depth, SweepCoverage? cov)
    {
        var e = UdpHeader.TryParse(s, out var u);
        cov?.Hit($"udp:{e}");
        if (e != PacketError.None) { Empty(u.Bytes, "UdpHeader.Bytes after failure"); return (long)e; }
        Inside(s, u.Bytes, "UdpHeader.Bytes");
        Inside(u.Bytes, u.Payload, "UdpHeader.Payload");
        Check(u.Bytes.Length == u.DatagramLength && u.DatagramLength >= 8, "UDP Bytes spans DatagramLength");
        Check(u.Payload.Length == u.DatagramLength - 8, "UDP payload is DatagramLength - 8");
        var valid = u.ChecksumValid(src, dst);
        if (u.Checksum == 0) Check(valid, "zero UDP checksum is accepted");
        if (!src.IsZero) cov?.Hit("udp in ipv4");
        if (valid && u.Checksum != 0 && !src.IsZero) cov?.Hit("udp checksum valid");
        return u.SourcePort + u.DestinationPort + u.DatagramLength + u.Checksum + u.Payload.Length + (valid ? 1 : 0)
               + Everything(u.Payload, depth + 1, cov);
    }

    private static long Vxlan(ReadOnlySpan<byte> s, int depth, SweepCoverage? cov)
    {
        var e = VxlanHeader.TryParse(s, out var v);
        cov?.Hit($"vxlan:{e}");
        if (e != PacketError.None) { Empty(v.Bytes, "VxlanHeader.Bytes after failure"); return (long)e; }
        Inside(s, v.Bytes, "VxlanHeader.Bytes");
        Inside(v.Bytes, v.Inner, "VxlanHeader.Inner");
        Check(v.Vni is >= 0 and <= VxlanHeader.MaxVni, "VNI fits 24 bits");
        Check((v.Bytes[0] & VxlanHeader.FlagI) != 0, "accepted VXLAN has the I flag");
        Check(v.Inner.Length == v.Bytes.Length - 8, "VXLAN inner follows the 8-byte header");
        return v.Vni + v.Inner.Length + Everything(v.Inner, depth + 1, cov);
    }

    private static void Inside(ReadOnlySpan<byte> outer, ReadOnlySpan<byte> span, string what)
    {
        var offset = (long)Unsafe.ByteOffset(ref MemoryMarshal.GetReference(outer), ref MemoryMarshal.GetReference(span));
        if (offset < 0 || offset + span.Length > outer.Length)
            throw new XunitException($"{what} = [{offset}, {offset + span.Length}) escapes the {outer.Length}-byte span it was parsed from");
    }

    private static void Empty(ReadOnlySpan<byte> span, string what)
    {
        if (!span.IsEmpty) throw new XunitException($"{what} should be empty");
    }

    private static void Check(bool condition, string what)
    {
        if (!condition) throw new XunitException($"invariant broken: {what}");
    }
}
