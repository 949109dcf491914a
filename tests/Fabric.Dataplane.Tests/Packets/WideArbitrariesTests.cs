using System.Reflection;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Tests.Pipeline;
using Fabric.Dataplane.Tests.Tables;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Fabric.Dataplane.Tests.Packets;

/// <summary>
/// The property generators really reach the ranges the properties claim, and the properties really use them: FsCheck 3's
/// defaults keep integers within ±100, which is easy to bring back by dropping an <c>Arbitrary =</c> or typing a seed as
/// a plain int, and nothing else would notice.
/// </summary>
public class WideArbitrariesTests
{
    private const int Samples = 2000;

    /// <summary>At size 100, the largest a property run reaches with the default MaxSize (sized generators stay within it).</summary>
    private static T[] Sample<T>(Gen<T> gen) => gen.Sample(numberOfSamples: Samples, size: 100).ToArray();

    /// <summary>What the property attribute does with <c>Arbitrary = [typeof(WideArbitraries)]</c>: merge, then ask for the type.</summary>
    private static T[] AsRegistered<T>() => Sample(FsCheck.FSharp.ArbMap.mergeWithType(typeof(WideArbitraries), ArbMap.Default).ArbFor<T>().Generator);

    [Fact]
    public void Registered_integers_reach_the_top_of_their_range_and_the_edges()
    {
        var u32 = AsRegistered<uint>();
        Assert.Contains(u32, x => x >= 0x8000_0000u);                  // first octet ≥ 128
        Assert.Contains(u32, x => x is > 0xFFFF and < 0x100_0000);      // middle octets without the top one
        Assert.Contains(u32, x => (x >> 24) is > 0 and < 0x80);
        Assert.Contains(0u, u32);
        Assert.Contains(uint.MaxValue, u32);
        Assert.True(u32.Select(x => x >> 16).Distinct().Count() > 1000, "the trie's level-1 index should vary widely");

        var u16 = AsRegistered<ushort>();
        Assert.Contains(u16, x => x >= 0x8000);
        Assert.Contains(u16, x => x is > 100 and < 0x1000);
        Assert.Contains(u16, x => (x & 0xF000) != 0 && (x & 0x1000) != 0); // a TCI with PCP bits and DEI set
        Assert.Contains(u16, x => (x & 0x1000) == 0 && (x & 0xE000) != 0); // PCP without DEI

        var i32 = AsRegistered<int>();
        Assert.Contains(i32, x => x < -1_000_000);
        Assert.Contains(i32, x => x > 1_000_000);
        Assert.Contains(i32, x => (x & VxlanHeader.MaxVni) > 0xFFFF);     // VNIs with their high byte
        Assert.Contains(i32, x => (x & VxlanHeader.MaxVni) is > 100 and <= 0xFFFF);

        var macs = AsRegistered<ulong>().Select(x => new MacAddress(x & 0xFFFF_FFFF_FFFFUL)).ToArray();
        Assert.Contains(macs, m => m.IsMulticast && !m.IsBroadcast);
        Assert.Contains(macs, m => m.IsBroadcast);
        Assert.Contains(macs, m => m.IsUnicast && (m.Value >> 40) >= 0x80);
        Assert.Contains(macs, m => m.IsUnicast && (m.Value & 0xFF) > 100);
        Assert.Contains(AsRegistered<ulong>(), x => x > 0xFFFF_FFFF_FFFFUL); // the mask to 48 bits is exercised

        var bytes = AsRegistered<byte>();
        Assert.Contains(bytes, b => b > 200);
    }

    [Fact]
    public void A_seed_as_DoNotSize_int_is_not_one_of_201()
    {
        var seeds = Sample(ArbMap.Default.ArbFor<DoNotSize<int>>().Generator).Select(s => s.Item).ToArray();
        Assert.True(seeds.Distinct().Count() > Samples / 2, $"{seeds.Distinct().Count()} distinct seeds in {Samples}");
        Assert.Contains(seeds, s => Math.Abs((long)s) > 1_000_000);
        // The trap this guards against: FsCheck's plain int.
        Assert.All(Sample(ArbMap.Default.ArbFor<int>().Generator), s => Assert.InRange(s, -100, 100));
    }

    [Fact]
    public void Route_cases_spread_over_all_three_trie_levels_with_nested_prefixes_of_every_length()
    {
        var cases = RouteArbitraries.Cases.Sample(numberOfSamples: 300, size: 100).ToArray();
        var routes = cases.SelectMany(c => c.Routes).ToArray();
        var probes = cases.SelectMany(c => c.Probes).ToArray();
        Assert.Equal(Enumerable.Range(0, 33), routes.Select(r => r.Destination.Length).Distinct().Order());
        Assert.True(probes.Select(p => p >> 16).Distinct().Count() > 1000, "level-1 indices");
        Assert.Contains(probes, p => p >= 0x8000_0000u);
        Assert.Equal(256, probes.Select(p => (p >> 8) & 0xFF).Distinct().Count()); // every level-2 index
        Assert.Equal(256, probes.Select(p => p & 0xFF).Distinct().Count());        // every level-3 index
        // Prefixes compete: many probes are covered by two routes or more, at different trie levels.
        var nested = cases.Sum(c => c.Probes.Count(p => c.Routes.Count(r => r.Destination.Contains(new Ipv4Address(p))) >= 2));
        Assert.True(nested > probes.Length / 10, $"{nested} of {probes.Length} probes lie in nested routes");
        var acrossLevels = cases.Sum(c => c.Probes.Count(p =>
        {
            var lengths = c.Routes.Where(r => r.Destination.Contains(new Ipv4Address(p))).Select(r => r.Destination.Length).ToArray();
            return lengths.Any(l => l <= 16) && lengths.Any(l => l is > 16 and <= 24) && lengths.Any(l => l > 24);
        }));
        Assert.True(acrossLevels > 100, $"{acrossLevels} probes are covered by routes on all three levels");
    }

    /// <summary>Every property over integers in these classes registers the wide generators; every seed is full-range.</summary>
    [Theory]
    [InlineData(typeof(CodecRoundTripProperties), typeof(WideArbitraries))]
    [InlineData(typeof(RouteTableTests), typeof(RouteArbitraries))]
    [InlineData(typeof(IsolationPropertyTests), null)]
    [InlineData(typeof(RobustnessPropertyTests), null)]
    public void Properties_register_the_wide_generators_and_take_no_sized_integers(Type tests, Type? arbitraries)
    {
        // FsCheck's bytes are not sized (checked below), so raw byte arrays may stay; sized integers may not.
        Type[] narrow = [typeof(short), typeof(ushort), typeof(int), typeof(uint), typeof(long), typeof(ulong)];
        Assert.Contains(Sample(ArbMap.Default.ArbFor<byte>().Generator), b => b > 200);
        var properties = tests.GetMethods().Where(m => m.GetCustomAttribute<PropertyAttribute>() is not null).ToArray();
        Assert.NotEmpty(properties);
        foreach (var p in properties)
        {
            var registered = p.GetCustomAttribute<PropertyAttribute>()!.Arbitrary ?? [];
            var types = p.GetParameters().Select(x => x.ParameterType).Select(t => t.IsArray ? t.GetElementType()! : t).Select(t => t.IsArray ? t.GetElementType()! : t);
            if (arbitraries is not null) Assert.True(registered.Contains(arbitraries), $"{tests.Name}.{p.Name} does not register {arbitraries.Name}");
            else Assert.DoesNotContain(types, t => narrow.Contains(t)); // seeds must be DoNotSize<int>
        }
    }
}
