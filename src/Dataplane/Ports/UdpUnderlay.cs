using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Fabric.Dataplane.Interop;
using Fabric.Dataplane.Offload;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Pipeline;
using Fabric.Dataplane.Tables;

namespace Fabric.Dataplane.Ports;

/// <summary>How the underlay socket(s) are set up.</summary>
public sealed record UnderlayOptions
{
    public int SocketBufferBytes { get; init; } = 8 << 20;
    /// <summary>
    /// Send sockets, each on its own (ephemeral) source port, chosen per datagram by a hash of the inner headers
    /// (RFC 7348 §5 flow entropy: the underlay's ECMP and the receiver's RSS spread flows, one flow keeps one path).
    /// 0: send from the receiving socket, so every datagram leaves from the VTEP port as before.
    /// </summary>
    public int SourcePorts { get; init; } = 4;
    /// <summary>Send a super-frame's segments with one UDP GSO send (UDP_SEGMENT) where the kernel has it.</summary>
    public bool Gso { get; init; } = true;
    /// <summary>Receive with UDP_GRO: coalesced datagrams, split here (one system call and one wake-up for many).</summary>
    public bool Gro { get; init; } = true;
    /// <summary>
    /// Bind the VTEP port with SO_REUSEPORT, so that each of several dataplane threads has a receiving socket of its own
    /// on it; the kernel spreads datagrams over them by a hash of the outer addresses and ports (so by the source port
    /// that <see cref="SourcePorts"/> derived from the inner flow: one flow, one socket, one thread).
    /// </summary>
    public bool ReusePort { get; init; }
}

/// <summary>
/// The underlay: one UDP socket on the node's VTEP address (port 4789) that receives, and a small pool of send sockets
/// on other source ports (<see cref="UnderlayOptions.SourcePorts"/>). VXLAN datagrams are received and sent in batches
/// with recvmmsg/sendmmsg straight from and into the pinned batch buffer; where those calls are missing it falls back to
/// one recvmsg/sendmsg at a time. A GSO super-frame from a TAP is cut into segments here, each VXLAN-encapsulated, and
/// all of them leave with one sendmsg carrying UDP_SEGMENT; with UDP_GRO the kernel hands over runs of datagrams as one,
/// split here into the batch. Where the kernel lacks either, that is detected, logged once, counted and done without.
/// The kernel writes the outer Ethernet/IPv4/UDP headers.
/// </summary>
public sealed unsafe class UdpUnderlay : IDisposable
{
    public const int MaxBatch = 64;
    /// <summary>Segments per UDP GSO send (the kernel's UDP_MAX_SEGMENTS is 64 on older kernels).</summary>
    public const int MaxGsoSegments = 64;
    private const int MaxGsoBytes = 65000; // UDP payload of one GSO send, under the 65,507 an IPv4 datagram allows
    // Two iovecs (headers, payload) per segment of a gathered send: 128 segments per sendmmsg, their headers (at most
    // 8 + 138 bytes each) 18.7 KB of the GSO buffer. One UDP_SEGMENT control message per send, 8-aligned.
    private const int GatherIovs = 256, GsoControlBytes = 24;
    // As many reads per recvmmsg as without GRO (small datagrams are not coalesced: 8 would cost 8x the calls). The
    // 4 MB are calloc'ed: pages are only touched as far as datagrams fill them.
    private const int GroBuffers = MaxBatch, GroBufferBytes = 65536, GroControlBytes = 64;
    private static int _gsoLogged, _groLogged;

    private readonly Socket _socket;
    private readonly Socket[] _senders;
    private readonly int _fd;
    private readonly int[] _sendFds;
    private readonly int[] _queued;
    private readonly int _regions;
    private readonly Libc.MMsgHdr* _msgs;
    private readonly Libc.IoVec* _iov;
    private readonly Libc.SockAddrIn* _addrs;
    private readonly byte* _gsoBuffer;
    private readonly byte* _gsoControl;
    private readonly Libc.IoVec* _gatherIov;
    private readonly int[] _chunkEnd = new int[MaxBatch];
    private readonly byte* _groBuffers;
    private readonly byte* _groControl;
    private readonly Libc.MMsgHdr* _groMsgs;
    private readonly Libc.IoVec* _groIov;
    private readonly Libc.SockAddrIn* _groAddrs;
    private readonly int[] _groSegment = new int[GroBuffers];
    private readonly GroRunMerger _merger = new();
    private int _groCount, _groIndex, _groOffset, _groFilled;
    private bool _batched = true;
    private bool _gso, _gro;
    private bool _disposed;

    public UdpUnderlay(VtepEndpoint local, int socketBufferBytes = 8 << 20)
        : this(local, new UnderlayOptions { SocketBufferBytes = socketBufferBytes }) { }

    public UdpUnderlay(VtepEndpoint local, UnderlayOptions options)
    {
        Local = local;
        Options = options;
        _socket = Open(local.Address, local.Port, options.SocketBufferBytes, options.ReusePort);
        _fd = (int)_socket.Handle;
        _senders = new Socket[Math.Max(0, options.SourcePorts)];
        try
        {
            for (int i = 0; i < _senders.Length; i++) _senders[i] = Open(local.Address, 0, options.SocketBufferBytes);
        }
        catch
        {
            foreach (var s in _senders) s?.Dispose();
            _socket.Dispose();
            throw;
        }
        _sendFds = _senders.Length == 0 ? [_fd] : Array.ConvertAll(_senders, s => (int)s.Handle);
        _queued = new int[_sendFds.Length];
        // One message region per send socket, and one more for a super-frame's segments when GSO is missing.
        _regions = _sendFds.Length + 1;
        _msgs = (Libc.MMsgHdr*)NativeMemory.AllocZeroed((nuint)(sizeof(Libc.MMsgHdr) * MaxBatch * _regions));
        _iov = (Libc.IoVec*)NativeMemory.AllocZeroed((nuint)(sizeof(Libc.IoVec) * MaxBatch * _regions));
        _addrs = (Libc.SockAddrIn*)NativeMemory.AllocZeroed((nuint)(sizeof(Libc.SockAddrIn) * MaxBatch * _regions));
        _gsoBuffer = (byte*)NativeMemory.AllocZeroed(MaxGsoBytes + TapPort.MaxGsoFrame);
        _gsoControl = (byte*)NativeMemory.AllocZeroed(MaxBatch * GsoControlBytes);
        _gatherIov = (Libc.IoVec*)NativeMemory.AllocZeroed((nuint)(sizeof(Libc.IoVec) * GatherIovs));
        _groBuffers = (byte*)NativeMemory.AllocZeroed(GroBuffers * GroBufferBytes);
        _groControl = (byte*)NativeMemory.AllocZeroed(GroBuffers * GroControlBytes);
        _groMsgs = (Libc.MMsgHdr*)NativeMemory.AllocZeroed((nuint)(sizeof(Libc.MMsgHdr) * GroBuffers));
        _groIov = (Libc.IoVec*)NativeMemory.AllocZeroed((nuint)(sizeof(Libc.IoVec) * GroBuffers));
        _groAddrs = (Libc.SockAddrIn*)NativeMemory.AllocZeroed((nuint)(sizeof(Libc.SockAddrIn) * GroBuffers));
        for (int k = 0; k < GroBuffers; k++)
        {
            _groIov[k].Base = _groBuffers + (nint)k * GroBufferBytes;
            _groIov[k].Length = GroBufferBytes;
            ref var h = ref _groMsgs[k].Header;
            h.Name = &_groAddrs[k];
            h.NameLength = (uint)sizeof(Libc.SockAddrIn);
            h.Iov = &_groIov[k];
            h.IovLength = 1;
            h.Control = _groControl + k * GroControlBytes;
            h.ControlLength = GroControlBytes;
        }
        _gso = options.Gso && ProbeGso(_sendFds[0]);
        _gro = options.Gro && EnableGro(_fd);
    }

    private static Socket Open(Ipv4Address address, int port, int bufferBytes, bool reusePort = false)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (reusePort) s.SetRawSocketOption(Libc.SOL_SOCKET, Libc.SO_REUSEPORT, BitConverter.GetBytes(1));
            s.ReceiveBufferSize = bufferBytes;
            s.SendBufferSize = bufferBytes;
            s.Bind(new IPEndPoint(address.ToIPAddress(), port));
            s.Blocking = false;
            return s;
        }
        catch
        {
            s.Dispose();
            throw;
        }
    }

    /// <summary>UDP_SEGMENT exists (Linux 4.18) when the socket option can be read.</summary>
    private static bool ProbeGso(int fd)
    {
        int v = 0;
        uint len = sizeof(int);
        if (Libc.getsockopt(fd, Libc.SOL_UDP, Libc.UDP_SEGMENT, &v, &len) == 0) return true;
        CountMissing(ref _gsoLogged, "UDP_SEGMENT (GSO)");
        return false;
    }

    private static bool EnableGro(int fd)
    {
        int on = 1;
        if (Libc.setsockopt(fd, Libc.SOL_UDP, Libc.UDP_GRO, &on, sizeof(int)) == 0) return true;
        CountMissing(ref _groLogged, "UDP_GRO");
        return false;
    }

    private static void CountMissing(ref int logged, string what)
    {
        Interlocked.Increment(ref MissingFeatures);
        if (Interlocked.Exchange(ref logged, 1) == 0)
            Trace.TraceWarning($"underlay: the kernel has no {what} (errno {Libc.LastError}); working without it (logged once)");
    }

    /// <summary>Kernel features the underlay asked for and did without, in this process (GSO, GRO).</summary>
    public static long MissingFeatures;

    public VtepEndpoint Local { get; }
    public UnderlayOptions Options { get; }
    public int Fd => _fd;
    /// <summary>The port actually bound (useful when 0 was asked for in tests).</summary>
    public int BoundPort => ((IPEndPoint)_socket.LocalEndPoint!).Port;
    /// <summary>The source ports datagrams leave from.</summary>
    public int[] SourcePorts => _senders.Length == 0 ? [BoundPort] : Array.ConvertAll(_senders, s => ((IPEndPoint)s.LocalEndPoint!).Port);
    public bool GsoEnabled => _gso;
    public bool GroEnabled => _gro;
    public long ReceiveErrors;
    public long SendErrors;
    public long DatagramsReceived;
    public long DatagramsSent;
    public long Datagrams => Volatile.Read(ref DatagramsReceived) + Volatile.Read(ref DatagramsSent);
    public long Syscalls;
    /// <summary>UDP GSO sends (each many datagrams), GRO datagrams that held more than one, super-frames cut here.</summary>
    public long GsoSends;
    public long GroCoalesced;
    /// <summary>Runs of one inner TCP flow put back together on receive (<see cref="Merge"/>), and the datagrams they held.</summary>
    public long RunsMerged, SegmentsMerged;
    /// <summary>Off: every datagram of a GRO read is its own packet (measurements; the coalescing on the TAP side still runs).</summary>
    public bool MergeRuns { get; set; } = true;
    public long SuperFramesSegmented;
    public long ChecksumsCompleted;
    public long BadSuperFrames;

    /// <summary>Reads ready datagrams into the free slots of <paramref name="batch"/>; returns how many.</summary>
    public int Receive(PacketBatch batch, int max)
    {
        max = Math.Min(Math.Min(max, MaxBatch), batch.Capacity - batch.Count);
        if (max <= 0) return 0;
        if (_gro) return ReceiveCoalesced(batch, max);
        var first = batch.Count;
        for (int k = 0; k < max; k++)
        {
            PrepareMessage(k, batch.SlotPointer(first + k, PacketBatch.Headroom), batch.MaxFrame);
        }
        int got;
        if (_batched)
        {
            got = Libc.recvmmsg(_fd, _msgs, (uint)max, Libc.MSG_DONTWAIT, null);
            Syscalls++;
            if (got < 0 && Libc.LastError == Libc.ENOSYS) { _batched = false; return Receive(batch, max); }
        }
        else
        {
            var r = Libc.recvmsg(_fd, &_msgs[0].Header, Libc.MSG_DONTWAIT);
            Syscalls++;
            got = r < 0 ? -1 : 1;
            if (r >= 0) _msgs[0].Length = (uint)r;
        }
        if (got <= 0)
        {
            if (got < 0 && Libc.LastError is not (Libc.EAGAIN or Libc.EINTR)) ReceiveErrors++;
            return 0;
        }
        for (int k = 0; k < got; k++)
        {
            // MSG_TRUNC: a datagram larger than a slot is cut; the pipeline would misread it, so give it zero length.
            var len = (_msgs[k].Header.Flags & 0x20) != 0 ? 0 : (int)_msgs[k].Length;
            batch.CommitFromUnderlay(Source(_addrs[k]), len);
        }
        DatagramsReceived += got;
        return got;
    }

    private static VtepEndpoint Source(in Libc.SockAddrIn a)
        => new(new Ipv4Address(BinaryPrimitives.ReverseEndianness(a.AddressBE)), BinaryPrimitives.ReverseEndianness(a.PortBE));

    /// <summary>
    /// With UDP_GRO a read may return a run of datagrams of one size (the last may be shorter) as one, with that size in
    /// a control message. They are read into buffers of their own and copied into the batch one datagram a slot; what
    /// does not fit stays for the next turn (the engine polls the underlay every turn, so nothing waits for epoll).
    /// </summary>
    private int ReceiveCoalesced(PacketBatch batch, int max)
    {
        var n = 0;
        while (n < max && !batch.IsFull)
        {
            if (_groIndex >= _groCount && !Refill()) break;
            var k = _groIndex;
            var len = (int)_groMsgs[k].Length;
            if (_groOffset >= len) { _groIndex++; _groOffset = 0; continue; }
            var seg = _groSegment[k];
            var l = Math.Min(seg, len - _groOffset);
            n++;
            if (l > batch.MaxFrame) batch.CommitFromUnderlay(Source(_groAddrs[k]), 0); // cannot be VXLAN we sent: count it as malformed
            else if (MergeRuns && _groOffset + l < len && batch.MaxFrame >= TapPort.MaxGsoFrame && Merge(batch))
                continue; // Merge moved past the run and counted its datagrams
            else
            {
                new ReadOnlySpan<byte>(_groBuffers + (nint)k * GroBufferBytes + _groOffset, l).CopyTo(batch.NextReceiveBuffer());
                batch.CommitFromUnderlay(Source(_groAddrs[k]), l);
            }
            _groOffset += l;
            DatagramsReceived++;
        }
        return n;
    }

    /// <summary>
    /// Puts the run at <c>_groOffset</c> back together in the next slot (<see cref="GroRunMerger"/>), on into the next
    /// reads while they come from the same sender and continue it: a 64 KB super-frame leaves in two UDP GSO sends (at
    /// most 65,507 bytes each), so it arrives as two reads. False, with nothing consumed, when the next datagrams do
    /// not make a run.
    /// </summary>
    private bool Merge(PacketBatch batch)
    {
        var k = _groIndex;
        var len = (int)_groMsgs[k].Length;
        var dst = batch.NextReceiveBuffer();
        var merger = _merger;
        if (!merger.Begin(new ReadOnlySpan<byte>(_groBuffers + (nint)k * GroBufferBytes + _groOffset, len - _groOffset), _groSegment[k], dst, out var consumed))
            return false;
        var src = _groAddrs[k];
        _groOffset += consumed;
        while (_groOffset >= len && _groIndex + 1 < _groCount && SameSender(_groAddrs[_groIndex + 1], src))
        {
            var next = _groIndex + 1;
            var nextLen = (int)_groMsgs[next].Length;
            var taken = merger.Extend(new ReadOnlySpan<byte>(_groBuffers + (nint)next * GroBufferBytes, nextLen), _groSegment[next], dst);
            if (taken == 0) break;
            _groIndex = next;
            _groOffset = taken;
            len = nextLen;
        }
        var used = merger.End(dst, out var segments, out var info);
        batch.CommitFromUnderlay(Source(src), used);
        ref var m = ref batch.Meta(batch.Count - 1);
        m.Offload = info;
        m.GsoSegmentLength = info.HdrLen + info.GsoSize;
        DatagramsReceived += segments;
        RunsMerged++;
        SegmentsMerged += segments;
        return true;
    }

    private static bool SameSender(in Libc.SockAddrIn a, in Libc.SockAddrIn b) => a.AddressBE == b.AddressBE && a.PortBE == b.PortBE;

    private bool Refill()
    {
        _groIndex = _groCount = _groOffset = 0;
        // The kernel rewrote these three in the messages it filled last time (buffers and iovecs stay as the constructor
        // set them): resetting all 64 on every call was 1 % of the dataplane core under single-flow TCP.
        for (int k = 0; k < _groFilled; k++)
        {
            ref var h = ref _groMsgs[k].Header;
            h.NameLength = (uint)sizeof(Libc.SockAddrIn);
            h.ControlLength = GroControlBytes;
            h.Flags = 0;
        }
        _groFilled = 0;
        var got = Libc.recvmmsg(_fd, _groMsgs, GroBuffers, Libc.MSG_DONTWAIT, null);
        Syscalls++;
        // Also the message after the last one filled: the call that found nothing more may have touched it.
        _groFilled = Math.Min(Math.Max(got, 0) + 1, GroBuffers);
        if (got <= 0)
        {
            if (got < 0 && Libc.LastError is not (Libc.EAGAIN or Libc.EINTR)) ReceiveErrors++;
            return false;
        }
        for (int k = 0; k < got; k++)
        {
            ref var h = ref _groMsgs[k].Header;
            var len = (int)_groMsgs[k].Length;
            var seg = len;
            var c = (byte*)h.Control;
            var end = c + (int)h.ControlLength;
            while (c + Libc.CmsgHeader <= end)
            {
                var cm = (Libc.CmsgHdr*)c;
                if (cm->Length < Libc.CmsgHeader) break;
                if (cm->Level == Libc.SOL_UDP && cm->Type == Libc.UDP_GRO) seg = *(int*)(c + Libc.CmsgHeader);
                c += ((int)cm->Length + 7) & ~7;
            }
            if ((h.Flags & 0x20) != 0) { len = 0; seg = 1; } // MSG_TRUNC: cannot happen with 64 KB buffers
            if (seg <= 0) seg = Math.Max(1, len);
            if (seg < len) GroCoalesced++;
            // A zero-length read still becomes one (malformed) packet, as without GRO.
            if (len == 0) { _groMsgs[k].Length = 1; *(_groBuffers + (nint)k * GroBufferBytes) = 0; seg = 1; }
            _groSegment[k] = seg;
        }
        _groCount = got;
        return true;
    }

    /// <summary>Sends every underlay entry of <paramref name="tx"/>, up to 64 per system call and send socket.</summary>
    public int Send(PacketBatch batch, TxBatch tx)
    {
        var entries = tx.Entries;
        var sent = 0;
        var pool = _sendFds.Length;
        for (int i = 0; i < entries.Length; i++)
        {
            ref readonly var e = ref entries[i];
            if (e.Kind != TxKind.Underlay) continue;
            var inner = batch.SlotBytes(e.Slot, e.Offset + VxlanHeader.Length, e.Length - VxlanHeader.Length);
            var s = pool == 1 ? 0 : (int)(FlowHash.Compute(inner) % (uint)pool);
            ref var meta = ref batch.Meta(e.Slot);
            if (!meta.Offload.IsPlain)
            {
                if (meta.Offload.IsGso)
                {
                    // Earlier datagrams of this socket (maybe of this flow) leave first: order within a flow holds.
                    sent += Flush(s);
                    sent += SendSuperFrame(s, batch, e, meta.Offload);
                    continue;
                }
                ChecksumOffload.Complete(inner, meta.Offload.CsumStart, meta.Offload.CsumOffset);
                meta.Offload = default;
                ChecksumsCompleted++;
            }
            var k = s * MaxBatch + _queued[s];
            PrepareMessage(k, batch.SlotPointer(e.Slot, e.Offset), e.Length);
            SetDestination(k, e.Destination);
            if (++_queued[s] == MaxBatch) sent += Flush(s);
        }
        for (int s = 0; s < pool; s++) sent += Flush(s);
        return sent;
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private void SetDestination(int k, in VtepEndpoint d)
    {
        _addrs[k].Family = Libc.AF_INET;
        _addrs[k].PortBE = BinaryPrimitives.ReverseEndianness(d.Port);
        _addrs[k].AddressBE = BinaryPrimitives.ReverseEndianness(d.Address.Value);
    }

    /// <summary>
    /// Cuts a super-frame into segments, each behind a copy of its VXLAN header, and sends them with UDP_SEGMENT (all
    /// datagrams of a send but the last have the same size, as GSO wants). With GSO the send gathers: each segment's
    /// headers are written here and its payload goes from where it lies in the slot, so the payload is read once (its
    /// checksum) and copied only by the kernel; the sends of one super-frame (a 64 KB one of 1,398-byte segments needs
    /// two: 44 + 2) go in one sendmmsg, so the receiver finds them together and merges them into one super-frame again.
    /// Without GSO, or when the kernel refuses it, the segments are built whole, back to back, and go with sendmmsg.
    /// </summary>
    private int SendSuperFrame(int s, PacketBatch batch, in TxEntry e, in OffloadInfo offload)
    {
        var vxlan = batch.SlotBytes(e.Slot, e.Offset, VxlanHeader.Length);
        var frame = batch.SlotBytes(e.Slot, e.Offset + VxlanHeader.Length, e.Length - VxlanHeader.Length);
        if (!GsoSegmenter.TryLayout(frame, offload, out var layout)) { BadSuperFrames++; SendErrors++; return 0; }
        SuperFramesSegmented++;
        var datagram = VxlanHeader.Length + layout.SegmentLength;
        var perSend = Math.Clamp(MaxGsoBytes / datagram, 1, MaxGsoSegments);
        var frameAt = batch.SlotPointer(e.Slot, e.Offset + VxlanHeader.Length);
        var sent = 0;
        var k0 = 0;
        while (_gso && k0 < layout.Count)
        {
            var handled = SendGathered(s, frameAt, frame, vxlan, layout, k0, perSend, datagram, e.Destination);
            if (handled == 0) break; // GSO refused on this path: the rest goes without
            sent += handled;
            k0 += handled;
        }
        for (; k0 < layout.Count; k0 += perSend)
        {
            var m = Math.Min(perSend, layout.Count - k0);
            var off = 0;
            var dst = new Span<byte>(_gsoBuffer, MaxGsoBytes + TapPort.MaxGsoFrame);
            for (int k = k0; k < k0 + m; k++)
            {
                vxlan.CopyTo(dst.Slice(off));
                off += VxlanHeader.Length + GsoSegmenter.Segment(frame, layout, k, dst.Slice(off + VxlanHeader.Length));
            }
            sent += SendEach(s, m, datagram, off, e.Destination);
        }
        DatagramsSent += sent;
        return sent;
    }

    /// <summary>
    /// From segment <paramref name="k0"/> on, as many GSO sends of up to <paramref name="perSend"/> segments as the
    /// iovec table holds, each a message with its own UDP_SEGMENT and two iovecs per segment (its headers, written into
    /// the GSO buffer here; its payload, in the slot at <paramref name="frameAt"/>), all in one sendmmsg. Returns the
    /// segments handled (sent, or dropped with a count when the socket buffer was full or the peer unreachable); 0 when
    /// the kernel refused GSO (turned off from now on, logged once).
    /// </summary>
    private int SendGathered(int s, nint frameAt, ReadOnlySpan<byte> frame, ReadOnlySpan<byte> vxlan, in GsoLayout layout, int k0,
        int perSend, int datagram, in VtepEndpoint destination)
    {
        var headers = VxlanHeader.Length + layout.HdrLen;
        var region = (_regions - 1) * MaxBatch;
        int msgs = 0, iov = 0, k = k0;
        while (k < layout.Count && msgs < MaxBatch)
        {
            var m = Math.Min(perSend, layout.Count - k);
            if (iov + 2 * m > GatherIovs) break;
            var first = iov;
            for (int j = 0; j < m; j++, k++)
            {
                var h = _gsoBuffer + iov / 2 * headers;
                var span = new Span<byte>(h, headers);
                vxlan.CopyTo(span);
                var pay = GsoSegmenter.SegmentHeader(frame, layout, k, span.Slice(VxlanHeader.Length));
                _gatherIov[iov].Base = h;
                _gatherIov[iov++].Length = (nuint)headers;
                _gatherIov[iov].Base = (void*)(frameAt + layout.HdrLen + k * layout.GsoSize);
                _gatherIov[iov++].Length = (nuint)pay;
            }
            var at = region + msgs;
            SetDestination(at, destination);
            ref var h0 = ref _msgs[at].Header;
            h0.Name = &_addrs[at];
            h0.NameLength = (uint)sizeof(Libc.SockAddrIn);
            h0.Iov = _gatherIov + first;
            h0.IovLength = (nuint)(iov - first);
            var control = _gsoControl + msgs * GsoControlBytes;
            var cm = (Libc.CmsgHdr*)control;
            cm->Length = Libc.CmsgHeader + sizeof(ushort);
            cm->Level = Libc.SOL_UDP;
            cm->Type = Libc.UDP_SEGMENT;
            *(ushort*)(control + Libc.CmsgHeader) = (ushort)datagram;
            h0.Control = control;
            h0.ControlLength = GsoControlBytes;
            h0.Flags = 0;
            _chunkEnd[msgs++] = k;
        }
        var done = 0;
        while (done < msgs)
        {
            var r = Libc.sendmmsg(_sendFds[s], _msgs + region + done, (uint)(msgs - done), 0);
            Syscalls++;
            if (r > 0) { done += r; GsoSends += r; continue; }
            var err = Libc.LastError;
            if (err == Libc.EINTR) continue;
            // No GSO on this path (EIO: the device cannot checksum; others: not supported; ENOSYS: no sendmmsg, which the
            // plain path does without): do without from now on.
            if (err is Libc.EIO or Libc.ENOPROTOOPT or 95 /* EOPNOTSUPP */ or Libc.ENOSYS)
            {
                _gso = false;
                CountMissing(ref _gsoLogged, $"UDP GSO on this path (sendmmsg errno {err})");
                break;
            }
            // EAGAIN (socket buffer full) or an unreachable peer: this send's datagrams are dropped, counted; go on.
            SendErrors++;
            done++;
        }
        for (int j = 0; j < msgs; j++) { _msgs[region + j].Header.Control = null; _msgs[region + j].Header.ControlLength = 0; }
        return (done == 0 ? k0 : _chunkEnd[done - 1]) - k0;
    }

    private int SendEach(int s, int m, int datagram, int length, in VtepEndpoint destination)
    {
        var region = (_regions - 1) * MaxBatch;
        for (int j = 0; j < m; j++)
        {
            var at = j * datagram;
            PrepareMessage(region + j, (nint)(_gsoBuffer + at), Math.Min(datagram, length - at));
            SetDestination(region + j, destination);
        }
        return FlushRange(_sendFds[s], region, m);
    }

    /// <summary>Points message <paramref name="k"/> at one buffer and at its own address slot (filled by the kernel on receive, by us on send).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private void PrepareMessage(int k, nint buffer, int length)
    {
        _iov[k].Base = (void*)buffer;
        _iov[k].Length = (nuint)length;
        ref var h = ref _msgs[k].Header;
        h.Name = &_addrs[k];
        h.NameLength = (uint)sizeof(Libc.SockAddrIn);
        h.Iov = &_iov[k];
        h.IovLength = 1;
        h.Control = null;
        h.ControlLength = 0;
        h.Flags = 0;
    }

    private int Flush(int s)
    {
        var n = _queued[s];
        if (n == 0) return 0;
        _queued[s] = 0;
        var sent = FlushRange(_sendFds[s], s * MaxBatch, n);
        DatagramsSent += sent;
        return sent;
    }

    private int FlushRange(int fd, int first, int n)
    {
        var msgs = _msgs + first;
        var done = 0;
        while (done < n)
        {
            int r;
            if (_batched)
            {
                r = Libc.sendmmsg(fd, msgs + done, (uint)(n - done), 0);
                Syscalls++;
                if (r < 0 && Libc.LastError == Libc.ENOSYS) { _batched = false; continue; }
            }
            else
            {
                r = Libc.sendmsg(fd, &msgs[done].Header, 0) < 0 ? -1 : 1;
                Syscalls++;
            }
            if (r < 0)
            {
                if (Libc.LastError == Libc.EINTR) continue;
                // EAGAIN (socket buffer full) or an unreachable peer: drop this datagram, count it, go on.
                SendErrors++;
                done++;
                continue;
            }
            done += r;
        }
        return n;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _socket.Dispose();
        foreach (var s in _senders) s.Dispose();
        NativeMemory.Free(_msgs);
        NativeMemory.Free(_iov);
        NativeMemory.Free(_addrs);
        NativeMemory.Free(_gsoBuffer);
        NativeMemory.Free(_gsoControl);
        NativeMemory.Free(_gatherIov);
        NativeMemory.Free(_groBuffers);
        NativeMemory.Free(_groControl);
        NativeMemory.Free(_groMsgs);
        NativeMemory.Free(_groIov);
        NativeMemory.Free(_groAddrs);
    }
}
