using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using Fabric.Dataplane.Offload;
using Fabric.Dataplane.Packets;

namespace Fabric.Benchmarks;

/// <summary>
/// Per-segment cost of the offload edges (src/Dataplane/Offload): cutting a 64 KB TCP super-frame into 1,398-byte
/// segments (what the underlay does before one UDP GSO send; copies, IP and TCP checksums included), coalescing those
/// segments again (what a TAP's receive side does: header compare and checksum verification, no payload copy), and
/// completing one partial checksum and one flow hash. Since issue 11's second round: the header-only segmentation of a
/// gather send and the merge of a GRO read's run on receive. Mean and Allocated are per segment (OperationsPerInvoke).
/// </summary>
public class OffloadBenchmarks
{
    private const int Mss = 1398;
    private const int Segments = 46; // 46 × 1398 + 54 bytes of headers fits one 64 KB IP packet
    private byte[] _super = null!;
    private OffloadInfo _info;
    private GsoLayout _layout;
    private byte[][] _segments = null!;
    private readonly byte[] _out = GC.AllocateUninitializedArray<byte>(2048, pinned: true);
    private readonly byte[] _header = new byte[256];
    private readonly TcpCoalescer _coalescer = new();
    private byte[] _partial = null!;
    private byte[] _run = null!;
    private int _datagram;
    private readonly byte[] _merged = GC.AllocateUninitializedArray<byte>(8 + 65536 + 18, pinned: true);
    private readonly GroRunMerger _merger = new();

    [GlobalSetup]
    public void Setup()
    {
        _super = Tcp4(Segments * Mss);
        _info = new OffloadInfo
        {
            Flags = VirtioNetHeader.FlagNeedsCsum, GsoType = VirtioNetHeader.GsoTcpV4, GsoSize = Mss, CsumStart = 34, CsumOffset = 16,
        };
        if (!GsoSegmenter.TryLayout(_super, _info, out _layout) || _layout.Count != Segments) throw new InvalidOperationException("layout");
        _segments = new byte[Segments][];
        for (int k = 0; k < Segments; k++)
        {
            var len = GsoSegmenter.Segment(_super, _layout, k, _out);
            _segments[k] = _out.AsSpan(0, len).ToArray();
        }
        if (Coalesce() != Segments) throw new InvalidOperationException("the segments did not coalesce");
        // What one UDP_GRO read holds: the segments, each behind the same VXLAN header, back to back.
        _datagram = 8 + _segments[0].Length;
        _run = new byte[Segments * _datagram];
        for (int k = 0; k < Segments; k++)
        {
            VxlanHeader.Write(_run.AsSpan(k * _datagram), 7001);
            _segments[k].CopyTo(_run.AsSpan(k * _datagram + 8));
        }
        if (MergeRun() != Segments) throw new InvalidOperationException("the run did not merge");
        _partial = Tcp4(Mss);
    }

    /// <summary>An IPv4 TCP frame whose checksum field holds the pseudo-header sum, as a TAP with TSO hands it over.</summary>
    private static byte[] Tcp4(int payload)
    {
        var f = new byte[14 + 20 + 20 + payload];
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0800);
        var ip = f.AsSpan(14);
        ip[0] = 0x45; ip[6] = 0x40; ip[8] = 64; ip[9] = 6;
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(2), (ushort)(f.Length - 14));
        new byte[] { 10, 0, 1, 10, 10, 0, 1, 11 }.CopyTo(ip.Slice(12));
        Ipv4Header.WriteChecksum(ip.Slice(0, 20));
        var tcp = ip.Slice(20);
        BinaryPrimitives.WriteUInt16BigEndian(tcp, 40000);
        BinaryPrimitives.WriteUInt16BigEndian(tcp.Slice(2), 5201);
        tcp[12] = 5 << 4; tcp[13] = 0x18;
        new Random(1).NextBytes(tcp.Slice(20));
        BinaryPrimitives.WriteUInt16BigEndian(tcp.Slice(16), TcpCoalescer.PartialChecksum(ip, tcp.Length));
        return f;
    }

    /// <summary>Segmentation at the underlay edge: one 1,398-byte segment cut from the super-frame, checksums included.</summary>
    [Benchmark(OperationsPerInvoke = Segments)]
    public int SegmentSuperFrame()
    {
        var n = 0;
        for (int k = 0; k < Segments; k++) n += GsoSegmenter.Segment(_super, _layout, k, _out);
        return n;
    }

    /// <summary>The headers of one segment for a gather send (payload summed in place for its checksum, not copied).</summary>
    [Benchmark(OperationsPerInvoke = Segments)]
    public int SegmentHeaderForGather()
    {
        var n = 0;
        for (int k = 0; k < Segments; k++) n += GsoSegmenter.SegmentHeader(_super, _layout, k, _out);
        return n;
    }

    /// <summary>
    /// Merging on receive: one datagram of a GRO read's run compared, checksum-verified and its payload copied behind the
    /// first one's headers (the copy out of the GRO buffer every datagram paid before, now into one slot).
    /// </summary>
    [Benchmark(OperationsPerInvoke = Segments)]
    public int MergeGroRun() => MergeRun();

    private int MergeRun()
    {
        _merger.TryMerge(_run, _datagram, _merged, out _, out var segments, out _);
        return segments;
    }

    /// <summary>Coalescing at the TAP edge: one segment compared, checksum-verified and appended (payload not copied).</summary>
    [Benchmark(OperationsPerInvoke = Segments)]
    public int CoalesceSegments() => Coalesce();

    private int Coalesce()
    {
        var c = _coalescer;
        c.TryStart(_segments[0]);
        for (int k = 1; k < Segments; k++) c.TryAppend(_segments[k]);
        c.Finish(_header);
        return c.Count;
    }

    /// <summary>Completing a partial checksum of a 1,398-byte segment (a non-GSO frame with NEEDS_CSUM leaving for the underlay).</summary>
    [Benchmark]
    public bool CompleteChecksum()
    {
        BinaryPrimitives.WriteUInt16BigEndian(_partial.AsSpan(14 + 20 + 16), 0); // any start value: the cost is the same
        return ChecksumOffload.Complete(_partial, 34, 16);
    }

    /// <summary>The flow hash that picks the source port (RFC 7348 §5), per datagram.</summary>
    [Benchmark]
    public uint FlowHashOfSegment() => FlowHash.Compute(_segments[1]);
}
