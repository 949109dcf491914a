using System.Collections.Frozen;
using System.Diagnostics;
using Fabric.Dataplane.Tables;

namespace Fabric.Dataplane.Tracing;

/// <summary>
/// The hops of traced packets on one dataplane thread (issue 12), in a ring of pre-allocated <see cref="TraceHop"/>s.
/// One writer, the dataplane thread, which takes no lock and allocates nothing; readers copy a slot out and check its
/// sequence number before and after (a seqlock, as <see cref="Counters.DropSampler"/>). Untraced packets never reach
/// this class: each stage tests <see cref="Pipeline.PacketMeta.Trace"/> first. Memory: capacity × 80 bytes (1024: 80 KB).
/// </summary>
public sealed class TraceRecorder
{
    private struct Slot
    {
        // Odd while the writer is in the slot; 2 × (sequence + 1) once written.
        public long Seq;
        public TraceHop Hop;
    }

    /// <summary>An answer the probed endpoint may send (dataplane thread only).</summary>
    private struct Expected
    {
        public int Vni;
        public uint ReplySource;
        public uint ReplyDestination;
        public byte Protocol;
        /// <summary>The answer's ICMP identifier, or its TCP/UDP ports (source &lt;&lt; 16 | destination): one answer per probe.</summary>
        public uint L4;
        public int Trace;
        public long UntilMs;
    }

    /// <summary>How long after a probe's delivery its answer is still recognised.</summary>
    public const long ReplyWindowMs = 1000;
    private const int MaxExpected = 16;

    private readonly Slot[] _slots;
    private readonly int _mask;
    private long _written;
    private readonly Expected[] _expected = new Expected[MaxExpected];
    private int _expectedCount;
    private FrozenSet<VtepEndpoint> _members = FrozenSet<VtepEndpoint>.Empty;

    public TraceRecorder(int capacityPowerOfTwo = 1024)
    {
        if (capacityPowerOfTwo <= 0 || (capacityPowerOfTwo & (capacityPowerOfTwo - 1)) != 0)
            throw new ArgumentException("capacity must be a power of two", nameof(capacityPowerOfTwo));
        _slots = new Slot[capacityPowerOfTwo];
        _mask = capacityPowerOfTwo - 1;
    }

    public int Capacity => _slots.Length;
    /// <summary>Hops recorded so far (the ring keeps the last <see cref="Capacity"/>).</summary>
    public long Written => Volatile.Read(ref _written);
    /// <summary>Probes that reached their last hop with "do not deliver": counted here, not sent.</summary>
    public long Stopped;
    /// <summary>Answers for a probe's sender kept from its VM (gateway echo replies, ARP replies, the probed endpoint's replies).</summary>
    public long Absorbed;

    /// <summary>True while an answer to a delivered probe may come (the input stage then looks at frames from ports).</summary>
    public bool ExpectingReplies => _expectedCount != 0;

    /// <summary>The VTEPs of the Fabric nodes (marks go to these only). Any thread sets it; the dataplane reads it per traced packet.</summary>
    public IReadOnlySet<VtepEndpoint> FabricMembers
    {
        get => Volatile.Read(ref _members);
        set => Volatile.Write(ref _members, value.ToFrozenSet());
    }

    public bool IsFabricMember(in VtepEndpoint vtep) => Volatile.Read(ref _members).Contains(vtep);

    /// <summary>Dataplane thread only.</summary>
    public void Record(in TraceHop hop)
    {
        var n = _written;
        ref var s = ref _slots[(int)(n & _mask)];
        Interlocked.Exchange(ref s.Seq, 2 * n + 1);
        s.Hop = hop;
        s.Hop.AtTicks = Stopwatch.GetTimestamp();
        s.Hop.Sequence = n;
        Volatile.Write(ref s.Seq, 2 * n + 2);
        Volatile.Write(ref _written, n + 1);
    }

    /// <summary>Any thread: the hops still in the ring of these probe ids (with or without the reply bit), oldest first.</summary>
    public List<TraceHop> Read(IReadOnlyCollection<int> probes)
    {
        var found = new List<TraceHop>();
        var written = Volatile.Read(ref _written);
        for (long n = Math.Max(0, written - _slots.Length); n < written; n++)
        {
            ref var s = ref _slots[(int)(n & _mask)];
            var before = Volatile.Read(ref s.Seq);
            if (before != 2 * n + 2) continue; // being written or overwritten
            var hop = s.Hop;
            Interlocked.MemoryBarrier();
            if (Volatile.Read(ref s.Seq) != before) continue;
            if (probes.Contains(hop.Probe & TraceMark.ProbeMask)) found.Add(hop);
        }
        return found;
    }

    /// <summary>
    /// The key an answer carries in its transport header (<paramref name="l4"/>: the IPv4 payload): the ICMP identifier,
    /// or the TCP/UDP ports as source &lt;&lt; 16 | destination; <paramref name="reverse"/> for the probe (ports swapped).
    /// </summary>
    public static uint L4Key(byte protocol, ReadOnlySpan<byte> l4, bool reverse)
    {
        if (protocol == Packets.IpProtocols.Icmp) return l4.Length >= 6 ? System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(l4.Slice(4)) : 0u;
        if (l4.Length < 4) return 0;
        var ports = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(l4);
        return reverse ? (ports << 16) | (ports >> 16) : ports;
    }

    /// <summary>Dataplane thread only: a probe was delivered; its answer (source and destination swapped) is traced too.</summary>
    public void ExpectReply(int vni, uint probeSource, uint probeDestination, byte protocol, uint replyL4, int trace, long nowMs)
    {
        var slot = -1;
        for (int k = 0; k < _expectedCount; k++)
            if (_expected[k].UntilMs <= nowMs) { slot = k; break; }
        if (slot < 0)
        {
            if (_expectedCount == MaxExpected) return; // more probes in flight than answers we look for: not traced
            slot = _expectedCount++;
        }
        _expected[slot] = new Expected
        {
            Vni = vni, ReplySource = probeDestination, ReplyDestination = probeSource, Protocol = protocol, L4 = replyL4,
            Trace = (trace & (TraceMark.ProbeMask | TraceMark.NoDeliverBit)) | TraceMark.ReplyBit, UntilMs = nowMs + ReplyWindowMs,
        };
    }

    /// <summary>Dataplane thread only: the trace value of a frame from a port that answers a delivered probe, else 0.</summary>
    public int MatchReply(int vni, uint source, uint destination, byte protocol, uint l4, long nowMs)
    {
        for (int k = 0; k < _expectedCount; k++)
        {
            ref var e = ref _expected[k];
            if (e.UntilMs <= nowMs)
            {
                _expected[k] = _expected[--_expectedCount];
                k--;
                continue;
            }
            if (e.Vni != vni || e.ReplySource != source || e.ReplyDestination != destination || e.Protocol != protocol || e.L4 != l4) continue;
            var trace = e.Trace;
            _expected[k] = _expected[--_expectedCount];
            return trace;
        }
        return 0;
    }
}
