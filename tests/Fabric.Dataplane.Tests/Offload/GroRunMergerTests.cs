using System.Buffers.Binary;
using Fabric.Dataplane.Offload;
using Fabric.Dataplane.Packets;
using FsCheck;
using FsCheck.Xunit;

namespace Fabric.Dataplane.Tests.Offload;

/// <summary>
/// The receive side of the underlay puts a GRO read's run of VXLAN datagrams back together (<see cref="GroRunMerger"/>):
/// any super-frame the sender cut comes back byte for byte behind its VXLAN header, and a datagram that does not
/// continue the run (bad checksum, another VNI, a probe, no room) ends it there, never merged across.
/// </summary>
public class GroRunMergerTests
{
    private const int Vni = 7001;

    [Property(MaxTest = 200)]
    public void Any_super_frame_cut_for_the_underlay_comes_back_whole_from_its_run(PositiveInt gso, PositiveInt segments, PositiveInt lastShort,
        byte flagBits, ushort ipId, uint seq, byte optionWords, bool vlan, int seed)
    {
        var (super, info, size, run, n) = Run(gso, segments, lastShort, flagBits, ipId, seq, optionWords, vlan, seed);
        var dst = new byte[8 + 65535 + 18];
        var used = new GroRunMerger().TryMerge(run, size, dst, out var consumed, out var merged, out var back);

        Assert.Equal(8 + super.Length, used);
        Assert.Equal(run.Length, consumed);
        Assert.Equal(n, merged);
        Assert.Equal(Vxlan(), dst.AsSpan(0, 8).ToArray());
        Assert.Equal(super, dst.AsSpan(8, super.Length).ToArray());
        Assert.Equal(info.Flags, back.Flags);
        Assert.Equal(info.GsoType, back.GsoType);
        Assert.Equal(info.GsoSize, back.GsoSize);
        Assert.Equal(info.CsumStart, back.CsumStart);
        Assert.Equal(info.CsumOffset, back.CsumOffset);
    }

    [Property(MaxTest = 200)]
    public void A_segments_headers_written_for_a_gather_send_are_those_of_the_whole_segment(PositiveInt gso, PositiveInt segments,
        PositiveInt lastShort, byte flagBits, ushort ipId, uint seq, byte optionWords, bool vlan, int seed)
    {
        var (super, info, _, _, n) = Run(gso, segments, lastShort, flagBits, ipId, seq, optionWords, vlan, seed);
        Assert.True(GsoSegmenter.TryLayout(super, info, out var layout));
        var whole = new byte[layout.SegmentLength];
        var header = new byte[layout.HdrLen];
        for (int k = 0; k < n; k++)
        {
            var len = GsoSegmenter.Segment(super, layout, k, whole);
            var pay = GsoSegmenter.SegmentHeader(super, layout, k, header);
            Assert.Equal(len - layout.HdrLen, pay);
            Assert.Equal(whole.AsSpan(0, layout.HdrLen).ToArray(), header);
            Assert.Equal(whole.AsSpan(layout.HdrLen, pay).ToArray(), super.AsSpan(layout.HdrLen + k * layout.GsoSize, pay).ToArray());
        }
    }

    [Fact]
    public void A_super_frame_that_left_in_two_gso_sends_comes_back_whole_from_two_reads()
    {
        // 46 segments of 1,398 bytes: 44 fit one UDP GSO send (65,000 bytes), the other 2 go in a second one.
        var super = SuperFrames.Tcp4(46 * 1398, SuperFrames.Ack | SuperFrames.Psh, 7, 1_000_000);
        var (_, info, size, run, n) = Cut(super, SuperFrames.TsoHeader(super, 1398));
        Assert.Equal(46, n);
        var m = new GroRunMerger();
        var dst = new byte[8 + 65536 + 18];

        Assert.True(m.Begin(run.AsSpan(0, 44 * size), size, dst, out var consumed));
        Assert.Equal(44 * size, consumed);
        Assert.Equal(2 * size, m.Extend(run.AsSpan(44 * size), size, dst));
        var used = m.End(dst, out var segments, out var back);
        Assert.Equal(46, segments);
        Assert.Equal(8 + super.Length, used);
        Assert.Equal(super, dst.AsSpan(8, super.Length).ToArray());
        Assert.Equal(info.GsoSize, back.GsoSize);

        // A second read that does not continue the run (another VNI) is not taken.
        var other = run.AsSpan(44 * size).ToArray();
        BinaryPrimitives.WriteUInt32BigEndian(other.AsSpan(4), (Vni + 1) << 8);
        Assert.True(m.Begin(run.AsSpan(0, 44 * size), size, dst, out _));
        Assert.Equal(0, m.Extend(other, size, dst));
        Assert.Equal(44, m.End(dst, out segments, out _) > 0 ? segments : -1);
    }

    [Fact]
    public void A_segment_with_a_bad_checksum_ends_the_run_and_is_never_merged()
    {
        var (_, _, size, run, n) = Fixed(segments: 6);
        run[3 * size + size - 1] ^= 0x5A; // payload of segment 3: its TCP checksum no longer holds
        var m = new GroRunMerger();
        var dst = new byte[70_000];

        Assert.True(m.TryMerge(run, size, dst, out var consumed, out var merged, out _) > 0);
        Assert.Equal(3, merged);
        Assert.Equal(3 * size, consumed);
        // Segment 3 cannot start a run either: it goes on as a datagram of its own, dropped by the receiver's checksum.
        Assert.Equal(0, m.TryMerge(run.AsSpan(3 * size), size, dst, out consumed, out _, out _));
        Assert.Equal(0, consumed);
        Assert.True(m.TryMerge(run.AsSpan(4 * size), size, dst, out consumed, out merged, out _) > 0);
        Assert.Equal(n - 4, merged);
    }

    [Fact]
    public void A_datagram_of_another_vni_is_never_merged_into_the_run()
    {
        var (_, _, size, run, _) = Fixed(segments: 4);
        BinaryPrimitives.WriteUInt32BigEndian(run.AsSpan(2 * size + 4), (Vni + 1) << 8);
        var dst = new byte[70_000];
        Assert.True(new GroRunMerger().TryMerge(run, size, dst, out var consumed, out var merged, out _) > 0);
        Assert.Equal(2, merged);
        Assert.Equal(2 * size, consumed);

        BinaryPrimitives.WriteUInt32BigEndian(run.AsSpan(size + 4), (Vni + 1) << 8);
        Assert.Equal(0, new GroRunMerger().TryMerge(run, size, dst, out consumed, out _, out _));
        Assert.Equal(0, consumed);
    }

    [Fact]
    public void A_traced_datagram_is_not_merged_and_a_short_buffer_is_never_overrun()
    {
        var (_, _, size, run, _) = Fixed(segments: 5);
        var traced = (byte[])run.Clone();
        traced[0] |= Fabric.Dataplane.Tracing.TraceMark.FlagTraced;
        Assert.Equal(0, new GroRunMerger().TryMerge(traced, size, new byte[70_000], out _, out _, out _));

        // Room for the first datagram and two more payloads only: the run stops there, and nothing is written beyond.
        var hl = size - 1000;
        var dst = new byte[size + 2 * 1000 + 16];
        var used = new GroRunMerger().TryMerge(run, size, dst.AsSpan(0, size + 2 * 1000), out var consumed, out var merged, out _);
        Assert.Equal(3, merged);
        Assert.Equal(size + 2 * (size - hl), used);
        Assert.Equal(3 * size, consumed);
        Assert.All(dst.AsSpan(size + 2 * 1000).ToArray(), b => Assert.Equal(0, b));
    }

    private static byte[] Vxlan()
    {
        var v = new byte[8];
        VxlanHeader.Write(v, Vni);
        return v;
    }

    /// <summary>A super-frame cut as the underlay cuts it, each segment behind the same VXLAN header, back to back as a GRO read holds them.</summary>
    private static (byte[] Super, OffloadInfo Info, int Size, byte[] Run, int N) Cut(byte[] super, OffloadInfo info)
    {
        Assert.True(GsoSegmenter.TryLayout(super, info, out var layout));
        var size = 8 + layout.SegmentLength;
        var run = new byte[layout.Count * size];
        var at = 0;
        for (int k = 0; k < layout.Count; k++)
        {
            Vxlan().CopyTo(run.AsSpan(at));
            at += 8 + GsoSegmenter.Segment(super, layout, k, run.AsSpan(at + 8));
        }
        return (super, info, size, run[..at], layout.Count);
    }

    private static (byte[] Super, OffloadInfo Info, int Size, byte[] Run, int N) Run(PositiveInt gso, PositiveInt segments, PositiveInt lastShort,
        byte flagBits, ushort ipId, uint seq, byte optionWords, bool vlan, int seed)
    {
        var (super, info, _, _, _) = SuperFrames.Generated(gso.Get, segments.Get, lastShort.Get, flagBits, ipId, seq, optionWords, vlan, seed);
        return Cut(super, info);
    }

    /// <summary>Segments of 1,000 payload bytes, the last one full too.</summary>
    private static (byte[] Super, OffloadInfo Info, int Size, byte[] Run, int N) Fixed(int segments)
    {
        var super = SuperFrames.Tcp4(segments * 1000, SuperFrames.Ack, 100, 5000);
        return Cut(super, SuperFrames.TsoHeader(super, 1000));
    }
}
