using Fabric.Dataplane.Packets;
using FsCheck.Xunit;

namespace Fabric.Dataplane.Tests.Packets;

/// <summary>Readers must never throw, whatever the bytes, and must never expose a span beyond their input.</summary>
public class ReaderPropertyTests
{
    [Property(MaxTest = 2000, Arbitrary = [typeof(PacketArbitraries)])]
    public void No_reader_throws_or_overreaches_on_random_bytes(RandomBytes bytes)
        => ReaderSweep.Run(bytes.Value);

    [Property(MaxTest = 4000, Arbitrary = [typeof(PacketArbitraries)])]
    public void No_reader_throws_or_overreaches_on_mutated_valid_frames(MutatedFrame frame)
        => ReaderSweep.Run(frame.Value);

    [Fact]
    public void No_reader_throws_on_any_truncation_or_suffix_of_any_valid_frame()
    {
        foreach (var (_, bytes) in FrameMutator.Seeds)
        {
            ReaderSweep.Run(bytes);
            for (int i = 0; i < bytes.Length; i++)
            {
                ReaderSweep.Run(bytes.AsSpan(0, i));
                ReaderSweep.Run(bytes.AsSpan(i));
            }
        }
    }

    [Fact]
    public void Valid_seed_frames_parse_all_the_way_down()
    {
        foreach (var (name, bytes) in FrameMutator.Seeds)
        {
            var cov = new SweepCoverage();
            ReaderSweep.Run(bytes, cov);
            Assert.True(cov["icmp:None"] + cov["arp:None"] + cov["udp in ipv4"] > 0, $"{name} reached no upper layer");
        }
    }

    /// <summary>Proves the mutation fuzzing is not vacuous: it reaches deep layers and every reader's failure branches.</summary>
    [Fact]
    public void Mutation_fuzzing_reaches_every_layer_and_every_rejection()
    {
        var cov = new SweepCoverage();
        for (int seed = 0; seed < 3000; seed++)
            ReaderSweep.Run(FrameMutator.Mutate(seed % FrameMutator.Seeds.Length, seed).Value, cov);

        string[] mustSee =
        [
            "eth:None", "eth:Truncated", "eth->ipv4", "eth->arp", "inner eth",
            "arp:None", "arp:Truncated", "arp:UnsupportedArpFormat", "arp:UnsupportedArpOperation",
            "ipv4:None", "ipv4:Truncated", "ipv4:BadVersion", "ipv4:BadHeaderLength", "ipv4:BadTotalLength", "ipv4:BadChecksum",
            "icmp:None", "icmp:BadChecksum", "icmp:Truncated", "deep echo request",
            "udp:None", "udp:BadLength", "udp:Truncated", "udp checksum valid",
            "vxlan:None", "vxlan:VxlanFlagNotSet", "vxlan:Truncated",
        ];
        var missing = mustSee.Where(k => cov[k] == 0).ToArray();
        Assert.True(missing.Length == 0, "never reached: " + string.Join(", ", missing));
    }

    [Property(MaxTest = 2000)]
    public void Text_parsers_never_throw_on_arbitrary_strings(string? text)
    {
        MacAddress.TryParse(text, out _);
        Ipv4Address.TryParse(text, out _);
        Ipv4Prefix.TryParse(text, out _, out var error);
        Assert.NotNull(error);
    }

    [Property(MaxTest = 3000, Arbitrary = [typeof(PacketArbitraries)])]
    public void Accepted_ipv4_text_is_exactly_the_canonical_dotted_quad(AddressLikeText text)
    {
        if (Ipv4Address.TryParse(text.Value, out var a)) Assert.Equal(text.Value, a.ToString());
    }

    [Property(MaxTest = 3000, Arbitrary = [typeof(PacketArbitraries)])]
    public void Accepted_prefix_text_has_no_host_bits_and_round_trips(AddressLikeText text)
    {
        if (!Ipv4Prefix.TryParse(text.Value, out var p, out _)) return;
        Assert.Equal(0u, p.Network.Value & ~p.Mask);
        Assert.StartsWith(p.Network + "/", text.Value);
        Assert.Equal(p, Ipv4Prefix.Parse(p.ToString()));
    }

    [Property(MaxTest = 3000, Arbitrary = [typeof(PacketArbitraries)])]
    public void Accepted_mac_text_is_the_canonical_form_up_to_case_and_separator(AddressLikeText text)
    {
        if (MacAddress.TryParse(text.Value, out var m))
            Assert.Equal(text.Value.ToLowerInvariant().Replace('-', ':'), m.ToString());
    }
}
