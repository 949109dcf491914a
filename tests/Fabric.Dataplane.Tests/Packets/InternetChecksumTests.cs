using System.Buffers.Binary;
using Fabric.Dataplane.Packets;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Fabric.Dataplane.Tests.Packets;

public class InternetChecksumTests
{
    [Fact]
    public void Checksum_matches_the_rfc1071_worked_example()
    {
        // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2, whose complement is 220d.
        var data = Convert.FromHexString("0001F203F4F5F6F7");
        Assert.Equal(0x220D, InternetChecksum.Compute(data));
        Assert.Equal(0xDDF2, InternetChecksum.Fold(InternetChecksum.Add(0, data)) ^ 0xFFFF);
    }

    [Fact]
    public void Checksum_matches_a_known_ipv4_header()
    {
        var header = Convert.FromHexString("450000730000400040110000C0A80001C0A800C7");
        Assert.Equal(0xB861, InternetChecksum.Compute(header));
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(10), 0xB861);
        Assert.True(InternetChecksum.IsValid(header));
    }

    [Fact]
    public void Checksum_pads_an_odd_trailing_byte_with_zero()
    {
        Assert.Equal(InternetChecksum.Compute([0x12, 0x34, 0x56, 0x00]), InternetChecksum.Compute([0x12, 0x34, 0x56]));
        Assert.Equal(unchecked((ushort)~0xAB00), InternetChecksum.Compute([0xAB]));
    }

    [Fact]
    public void Checksum_of_nothing_is_all_ones_and_all_zero_data_is_not_valid()
    {
        Assert.Equal(0xFFFF, InternetChecksum.Compute([]));
        Assert.False(InternetChecksum.IsValid(new byte[20]));
    }

    [Fact]
    public void Checksum_loses_no_carry_over_a_maximum_size_datagram()
    {
        var data = new byte[65535];
        data.AsSpan().Fill(0xFF);
        Assert.Equal(TestFrames.ReferenceChecksum(data), InternetChecksum.Compute(data));
        data.AsSpan().Fill(0xFE);
        Assert.Equal(TestFrames.ReferenceChecksum(data), InternetChecksum.Compute(data));
    }

    [Fact]
    public void Checksum_loses_no_carry_over_buffers_longer_than_one_accumulator_round()
    {
        // The vector path keeps 32-bit lanes for 1 MB at a time: 3 MB of all ones crosses that twice, odd tail included.
        var data = new byte[3 * 1024 * 1024 + 77];
        data.AsSpan().Fill(0xFF);
        Assert.Equal(TestFrames.ReferenceChecksum(data), InternetChecksum.Compute(data));
        new Random(11).NextBytes(data);
        Assert.Equal(TestFrames.ReferenceChecksum(data), InternetChecksum.Compute(data));
    }

    [Property(MaxTest = 300)]
    public void Checksum_of_any_payload_sized_buffer_equals_the_textbook_sum(PositiveInt length, int seed, byte fill, bool random)
    {
        // Lengths around the vector steps (32, 64 bytes) and up to a jumbo segment, at any alignment of the tail.
        var data = new byte[length.Get % 9100];
        if (random) new Random(seed).NextBytes(data); else data.AsSpan().Fill(fill);
        Assert.Equal(TestFrames.ReferenceChecksum(data), InternetChecksum.Compute(data));
        var offset = Math.Min(data.Length, seed & 7);
        Assert.Equal(TestFrames.ReferenceChecksum(data.AsSpan(offset).ToArray()), InternetChecksum.Compute(data.AsSpan(offset)));
    }

    [Property(MaxTest = 2000)]
    public void Checksum_equals_the_textbook_16_bit_word_sum(byte[] data)
        => Assert.Equal(TestFrames.ReferenceChecksum(data), InternetChecksum.Compute(data));

    [Property(MaxTest = 2000)]
    public void Checksum_written_into_data_makes_it_valid(byte[] data)
    {
        var withField = new byte[data.Length + 2];
        data.CopyTo(withField, 2);
        BinaryPrimitives.WriteUInt16BigEndian(withField, InternetChecksum.Compute(withField));
        Assert.True(InternetChecksum.IsValid(withField));
    }

    [Fact]
    public void Incremental_update_after_ttl_decrement_equals_full_recompute()
    {
        var header = TestFrames.Ipv4WithOptions(5, IpProtocols.Udp, []);
        for (int ttl = 255; ttl > 0; ttl--)
        {
            header[8] = (byte)ttl;
            Ipv4Header.WriteChecksum(header);
            var before = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(8));
            var checksum = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(10));
            header[8] = (byte)(ttl - 1);
            var after = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(8));
            var incremental = InternetChecksum.Update(checksum, before, after);
            Ipv4Header.WriteChecksum(header);
            Assert.Equal(BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(10)), incremental);
        }
    }

    /// <summary>
    /// RFC 1624 eqn. 3 on every word of a real IPv4 header (word 0 is never zero, so +0/-0 cannot differ).
    /// Word 5 is the checksum itself and is never "updated".
    /// </summary>
    [Property(MaxTest = 2000)]
    public void Incremental_update_of_any_header_word_equals_full_recompute(uint seedA, uint seedB, ushort newWord, byte wordChoice)
    {
        var header = new byte[20];
        var rnd = new Random((int)(seedA ^ seedB));
        rnd.NextBytes(header);
        header[0] = 0x45;
        int[] words = [1, 2, 3, 4, 6, 7, 8, 9];
        var w = words[wordChoice % words.Length] * 2;
        Ipv4Header.WriteChecksum(header);
        var checksum = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(10));
        var old = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(w));
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(w), newWord);
        var incremental = InternetChecksum.Update(checksum, old, newWord);
        Ipv4Header.WriteChecksum(header);
        Assert.Equal(BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(10)), incremental);
        Assert.True(InternetChecksum.IsValid(header));
    }
}
