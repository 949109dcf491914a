using System.Buffers.Binary;
using Fabric.Dataplane.Offload;
using FsCheck;
using FsCheck.Xunit;
using PacketDotNet;

namespace Fabric.Dataplane.Tests.Offload;

/// <summary>
/// Segmentation (the transmit edge) and coalescing (the receive edge) are inverses: any TCP super-frame a TAP can hand
/// us, cut into segments and coalesced again, comes back byte for byte with the same virtio_net_hdr; every segment in
/// between is a frame PacketDotNet reads as valid, with the right sequence numbers, IP ids, flags and checksums.
/// </summary>
public class SegmentationCoalescingProperties
{
    [Property(MaxTest = 300)]
    public void Segmenting_then_coalescing_gives_back_any_tcp_super_frame(PositiveInt gso, PositiveInt segments, PositiveInt lastShort,
        byte flagBits, ushort ipId, uint seq, byte optionWords, bool vlan, int seed)
    {
        var (super, info, n, hdr, flags) = SuperFrames.Generated(gso.Get, segments.Get, lastShort.Get, flagBits, ipId, seq, optionWords, vlan, seed);
        var gsoSize = info.GsoSize;

        Assert.True(GsoSegmenter.TryLayout(super, info, out var layout));
        Assert.Equal(n, layout.Count);
        Assert.Equal(hdr, layout.HdrLen);
        var segs = new byte[n][];
        var buffer = new byte[layout.SegmentLength];
        for (int k = 0; k < n; k++)
        {
            var len = GsoSegmenter.Segment(super, layout, k, buffer);
            segs[k] = buffer.AsSpan(0, len).ToArray();
            CheckSegment(segs[k], k, n, gsoSize, ipId, seq, flags);
        }

        var c = new TcpCoalescer();
        Assert.True(c.TryStart(segs[0]));
        for (int k = 1; k < n; k++) Assert.True(c.TryAppend(segs[k]), $"segment {k} of {n} refused");
        var back = new byte[c.HeaderLength + c.PayloadBytes];
        var outInfo = c.Finish(back);
        var at = c.HeaderLength;
        foreach (var s in segs) { s.AsSpan(c.HeaderLength).CopyTo(back.AsSpan(at)); at += s.Length - c.HeaderLength; }

        Assert.Equal(super, back);
        Assert.Equal(info.Flags, outInfo.Flags);
        Assert.Equal(info.GsoType, outInfo.GsoType);
        Assert.Equal(info.GsoSize, outInfo.GsoSize);
        Assert.Equal(info.CsumStart, outInfo.CsumStart);
        Assert.Equal(info.CsumOffset, outInfo.CsumOffset);
        Assert.Equal(hdr, outInfo.HdrLen);
    }

    private static void CheckSegment(byte[] seg, int k, int n, int gsoSize, ushort ipId, uint seq, byte flags)
    {
        var eth = Assert.IsType<EthernetPacket>(Packet.ParsePacket(LinkLayers.Ethernet, seg));
        var ip = eth.Extract<IPv4Packet>();
        Assert.NotNull(ip);
        Assert.True(ip.ValidIPChecksum, $"segment {k}: IP checksum");
        Assert.Equal((ushort)(ipId + k), ip.Id);
        Assert.Equal(seg.Length - (seg.Length - ip.TotalLength), ip.TotalLength);
        var tcp = ip.Extract<TcpPacket>();
        Assert.NotNull(tcp);
        Assert.True(tcp.ValidTcpChecksum, $"segment {k}: TCP checksum");
        Assert.Equal(seq + (uint)(k * gsoSize), tcp.SequenceNumber);
        var last = k == n - 1;
        Assert.Equal(last ? tcp.PayloadData.Length : gsoSize, tcp.PayloadData.Length);
        Assert.True(tcp.PayloadData.Length <= gsoSize);
        Assert.Equal(k == 0 && (flags & SuperFrames.Cwr) != 0, tcp.CongestionWindowReduced);
        Assert.Equal(last && (flags & SuperFrames.Psh) != 0, tcp.Push);
        Assert.True(tcp.Acknowledgment);
        Assert.Equal((flags & SuperFrames.Ece) != 0, tcp.ExplicitCongestionNotificationEcho);
    }

    [Fact]
    public void Coalescing_stops_at_a_gap_a_reorder_a_new_flow_a_bad_checksum_and_after_a_short_or_pushed_segment()
    {
        byte[] Seg(int k, int payload = 100, byte flags = SuperFrames.Ack, int seed = 1)
            => SuperFrames.Tcp4(payload, flags, (ushort)(7 + k), 1000u + (uint)(k * 100), partial: false, seed: seed + k);
        var c = new TcpCoalescer();

        Assert.True(c.TryStart(Seg(0)));
        Assert.False(c.TryAppend(Seg(2)));                  // gap in the sequence
        Assert.True(c.TryAppend(Seg(1)));
        var other = Seg(2); other[14 + 20 + 1] ^= 1;       // another source port: another flow
        Assert.False(c.TryAppend(other));
        var bad = Seg(2); bad[^1] ^= 0xFF;                  // corrupt payload: TCP checksum wrong
        Assert.False(c.TryAppend(bad));
        Assert.True(c.TryAppend(Seg(2, payload: 60)));     // shorter: the last one
        Assert.False(c.TryAppend(Seg(3)));

        Assert.True(c.TryStart(Seg(0)));
        Assert.True(c.TryAppend(Seg(1, flags: SuperFrames.Ack | SuperFrames.Psh)));
        Assert.False(c.TryAppend(Seg(2)));                  // nothing after a PSH
        Assert.Equal(2, c.Count);

        Assert.False(c.TryStart(Seg(0, flags: SuperFrames.Ack | 0x01)));   // FIN
        Assert.False(c.TryStart(Seg(0, flags: 0x02)));                      // SYN
        Assert.False(c.TryStart(Seg(0, payload: 0)));                       // a pure ACK carries nothing to merge
        Assert.False(c.TryStart(SuperFrames.Tcp4(100, SuperFrames.Ack, 1, 1, partial: true))); // checksum not complete
    }
}
