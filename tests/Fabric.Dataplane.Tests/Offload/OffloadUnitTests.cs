using System.Buffers.Binary;
using Fabric.Dataplane.Offload;
using PacketDotNet;

namespace Fabric.Dataplane.Tests.Offload;

public class VirtioNetHeaderTests
{
    [Fact]
    public void Reads_the_fields_in_host_order_as_the_kernel_lays_them_out()
    {
        // flags NEEDS_CSUM, gso TCPV4|ECN, hdr_len 66, gso_size 1398, csum_start 34, csum_offset 16
        byte[] raw = [1, 0x81, 66, 0, 0x76, 0x05, 34, 0, 16, 0, 0xEE];
        var h = new VirtioNetHeader(raw).Read();
        Assert.Equal(1, h.Flags);
        Assert.Equal(0x81, h.GsoType);
        Assert.Equal(VirtioNetHeader.GsoTcpV4, h.GsoKind);
        Assert.True(h.IsGso);
        Assert.True(h.NeedsChecksum);
        Assert.Equal(66, h.HdrLen);
        Assert.Equal(1398, h.GsoSize);
        Assert.Equal(34, h.CsumStart);
        Assert.Equal(16, h.CsumOffset);

        var copy = new byte[11];
        copy[10] = 0xEE;
        new VirtioNetHeader(copy).Write(h);
        Assert.Equal(raw, copy);
        new VirtioNetHeader(copy).Clear();
        Assert.True(new VirtioNetHeader(copy).Read().IsPlain);
        Assert.Equal(0xEE, copy[10]);
    }

    [Fact]
    public void A_short_buffer_is_refused() => Assert.Throws<ArgumentException>(() => new VirtioNetHeader(new byte[9]));
}

public class ChecksumCompletionTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(1397)]
    [InlineData(1398)]
    public void A_partial_tcp_checksum_is_completed_to_what_PacketDotNet_accepts(int payload)
    {
        var frame = SuperFrames.Tcp4(payload, SuperFrames.Ack | SuperFrames.Psh, 9, 12345, partial: true, seed: payload);
        var tcpBefore = Packet.ParsePacket(LinkLayers.Ethernet, frame).Extract<TcpPacket>();
        Assert.False(tcpBefore.ValidTcpChecksum);
        Assert.True(ChecksumOffload.Complete(frame, 34, 16));
        var tcp = Packet.ParsePacket(LinkLayers.Ethernet, frame).Extract<TcpPacket>();
        Assert.True(tcp.ValidTcpChecksum);
        Assert.Equal(SuperFrames.Tcp4(payload, SuperFrames.Ack | SuperFrames.Psh, 9, 12345, partial: false, seed: payload), frame);
    }

    [Fact]
    public void A_partial_udp_checksum_is_completed_and_never_left_zero()
    {
        var frame = new byte[14 + 20 + 8 + 31];
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x0800);
        var ip = frame.AsSpan(14);
        ip[0] = 0x45; ip[8] = 64; ip[9] = 17;
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(2), (ushort)(frame.Length - 14));
        new byte[] { 10, 0, 1, 10, 10, 0, 1, 11 }.CopyTo(ip.Slice(12));
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(10), SuperFrames.Reference(ip.Slice(0, 20), 0));
        var udp = ip.Slice(20);
        BinaryPrimitives.WriteUInt16BigEndian(udp, 5000);
        BinaryPrimitives.WriteUInt16BigEndian(udp.Slice(2), 5201);
        BinaryPrimitives.WriteUInt16BigEndian(udp.Slice(4), (ushort)udp.Length);
        new Random(3).NextBytes(udp.Slice(8));
        BinaryPrimitives.WriteUInt16BigEndian(udp.Slice(6), (ushort)~SuperFrames.Reference([], SuperFrames.PseudoSum(ip, udp.Length)));
        Assert.True(ChecksumOffload.Complete(frame, 34, 6));
        var p = Packet.ParsePacket(LinkLayers.Ethernet, frame).Extract<UdpPacket>();
        Assert.True(p.ValidUdpChecksum);
        Assert.NotEqual(0, p.Checksum);
    }

    [Fact]
    public void Offsets_outside_the_frame_are_refused_and_leave_it_alone()
    {
        var frame = SuperFrames.Tcp4(10, SuperFrames.Ack, 1, 1);
        var copy = (byte[])frame.Clone();
        Assert.False(ChecksumOffload.Complete(frame, frame.Length, 0));
        Assert.False(ChecksumOffload.Complete(frame, 34, frame.Length));
        Assert.Equal(copy, frame);
    }

    [Fact]
    public void The_flow_hash_follows_the_inner_five_tuple_and_nothing_else()
    {
        var a = SuperFrames.Tcp4(100, SuperFrames.Ack, 1, 1, seed: 1);
        var b = SuperFrames.Tcp4(900, SuperFrames.Ack | SuperFrames.Psh, 2, 99, seed: 2);
        Assert.Equal(FlowHash.Compute(a), FlowHash.Compute(b)); // same flow, other segment
        var c = (byte[])a.Clone();
        c[14 + 20 + 1] ^= 1; // other source port
        Assert.NotEqual(FlowHash.Compute(a), FlowHash.Compute(c));
    }
}

public class LongChecksumTests
{
    [Fact]
    public void The_vectorised_sum_of_long_unaligned_buffers_matches_the_reference_for_every_length_and_start()
    {
        var rng = new Random(11);
        var data = new byte[9100];
        rng.NextBytes(data);
        for (int len = 0; len < 300; len++)
            for (int start = 0; start < 4; start++)
                Assert.Equal(Packets.TestFrames.ReferenceChecksum(data.AsSpan(start, len)), Fabric.Dataplane.Packets.InternetChecksum.Compute(data.AsSpan(start, len)));
        for (int t = 0; t < 300; t++)
        {
            var start = rng.Next(8);
            var len = rng.Next(9000);
            Assert.Equal(Packets.TestFrames.ReferenceChecksum(data.AsSpan(start, len)), Fabric.Dataplane.Packets.InternetChecksum.Compute(data.AsSpan(start, len)));
        }
    }
}

public class OtherSegmentationTests
{
    [Fact]
    public void A_udp_super_frame_from_a_tap_with_uso_is_cut_into_datagrams_PacketDotNet_accepts()
    {
        const int gso = 1000, payload = 2 * gso + 333;
        var f = new byte[14 + 20 + 8 + payload];
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0800);
        var ip = f.AsSpan(14);
        ip[0] = 0x45; ip[8] = 64; ip[9] = 17;
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(2), (ushort)(f.Length - 14));
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(4), 0xFFFF); // the id wraps
        new byte[] { 10, 0, 1, 10, 10, 0, 1, 11 }.CopyTo(ip.Slice(12));
        var udp = ip.Slice(20);
        BinaryPrimitives.WriteUInt16BigEndian(udp, 5000);
        BinaryPrimitives.WriteUInt16BigEndian(udp.Slice(2), 443);
        BinaryPrimitives.WriteUInt16BigEndian(udp.Slice(4), (ushort)udp.Length);
        new Random(5).NextBytes(udp.Slice(8));
        var info = new OffloadInfo { Flags = 1, GsoType = VirtioNetHeader.GsoUdpL4, GsoSize = gso, CsumStart = 34, CsumOffset = 6 };
        Assert.True(GsoSegmenter.TryLayout(f, info, out var layout));
        Assert.Equal(3, layout.Count);
        var buf = new byte[layout.SegmentLength];
        for (int k = 0; k < 3; k++)
        {
            var len = GsoSegmenter.Segment(f, layout, k, buf);
            var p = Packet.ParsePacket(LinkLayers.Ethernet, buf.AsSpan(0, len).ToArray());
            var ip4 = p.Extract<IPv4Packet>();
            Assert.True(ip4.ValidIPChecksum);
            Assert.Equal((ushort)(0xFFFF + k), ip4.Id);
            var u = p.Extract<UdpPacket>();
            Assert.True(u.ValidUdpChecksum);
            Assert.Equal(k < 2 ? gso : 333, u.PayloadData.Length);
            Assert.Equal(f.AsSpan(42 + k * gso, u.PayloadData.Length).ToArray(), u.PayloadData);
        }
    }

    [Fact]
    public void A_tcp_over_ipv6_super_frame_is_cut_with_payload_lengths_and_checksums_PacketDotNet_accepts()
    {
        const int gso = 1200, payload = 3 * gso;
        var f = new byte[14 + 40 + 20 + payload];
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x86DD);
        var ip = f.AsSpan(14);
        ip[0] = 0x60; ip[6] = 6; ip[7] = 64;
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(4), (ushort)(f.Length - 54));
        ip[8] = 0xfd; ip[23] = 1; ip[24] = 0xfd; ip[39] = 2;
        var tcp = ip.Slice(40);
        BinaryPrimitives.WriteUInt16BigEndian(tcp, 40000);
        BinaryPrimitives.WriteUInt16BigEndian(tcp.Slice(2), 80);
        BinaryPrimitives.WriteUInt32BigEndian(tcp.Slice(4), uint.MaxValue - 100); // the sequence wraps
        tcp[12] = 5 << 4; tcp[13] = 0x19; // ACK PSH FIN: PSH and FIN only on the last segment
        new Random(6).NextBytes(tcp.Slice(20));
        var info = new OffloadInfo { Flags = 1, GsoType = VirtioNetHeader.GsoTcpV6, GsoSize = gso, CsumStart = 54, CsumOffset = 16 };
        Assert.True(GsoSegmenter.TryLayout(f, info, out var layout));
        var buf = new byte[layout.SegmentLength];
        for (int k = 0; k < layout.Count; k++)
        {
            var len = GsoSegmenter.Segment(f, layout, k, buf);
            var p = Packet.ParsePacket(LinkLayers.Ethernet, buf.AsSpan(0, len).ToArray());
            Assert.Equal(20 + gso, p.Extract<IPv6Packet>().PayloadLength);
            var t = p.Extract<TcpPacket>();
            Assert.True(t.ValidTcpChecksum);
            Assert.Equal(unchecked(uint.MaxValue - 100 + (uint)(k * gso)), t.SequenceNumber);
            Assert.Equal(k == 2, t.Finished);
            Assert.Equal(k == 2, t.Push);
        }
        info.GsoType = VirtioNetHeader.GsoTcpV4; // the kind must match the packet
        Assert.False(GsoSegmenter.TryLayout(f, info, out _));
    }
}

/// <summary>A super-frame read from a TAP carries its segment size into the pipeline, where the underlay MTU check reads it.</summary>
public class SuperFrameCommitTests
{
    [Fact]
    public void A_committed_super_frame_is_measured_by_one_segment_and_a_plain_frame_is_not()
    {
        var batch = new Fabric.Dataplane.Pipeline.PacketBatch(4, 65536);
        var super = SuperFrames.Tcp4(payload: 20_000, SuperFrames.Ack, ipId: 7, seq: 1, optionBytes: 12);
        super.CopyTo(batch.NextReceiveBuffer());
        batch.CommitFromPort(1, super.Length, SuperFrames.TsoHeader(super, 1398));
        Assert.Equal(14 + 20 + 32 + 1398, batch.Meta(0).GsoSegmentLength);

        var plain = SuperFrames.Tcp4(payload: 100, SuperFrames.Ack, ipId: 8, seq: 1);
        plain.CopyTo(batch.NextReceiveBuffer());
        batch.CommitFromPort(1, plain.Length, new OffloadInfo { Flags = VirtioNetHeader.FlagNeedsCsum, CsumStart = 34, CsumOffset = 16 });
        Assert.Equal(0, batch.Meta(1).GsoSegmentLength);
    }
}
