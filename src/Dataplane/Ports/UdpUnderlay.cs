using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Fabric.Dataplane.Interop;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Pipeline;
using Fabric.Dataplane.Tables;

namespace Fabric.Dataplane.Ports;

/// <summary>
/// The underlay: one UDP socket on the node's VTEP address (port 4789). VXLAN datagrams are received and sent in
/// batches with recvmmsg/sendmmsg straight from and into the pinned batch buffer; where those calls are missing it
/// falls back to one recvmsg/sendmsg at a time. The kernel writes the outer Ethernet/IPv4/UDP headers.
/// </summary>
public sealed unsafe class UdpUnderlay : IDisposable
{
    public const int MaxBatch = 64;
    private readonly Socket _socket;
    private readonly int _fd;
    private readonly Libc.MMsgHdr* _msgs;
    private readonly Libc.IoVec* _iov;
    private readonly Libc.SockAddrIn* _addrs;
    private bool _batched = true;
    private bool _disposed;

    public UdpUnderlay(VtepEndpoint local, int socketBufferBytes = 8 << 20)
    {
        Local = local;
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            _socket.ReceiveBufferSize = socketBufferBytes;
            _socket.SendBufferSize = socketBufferBytes;
            _socket.Bind(new IPEndPoint(local.Address.ToIPAddress(), local.Port));
            _socket.Blocking = false;
        }
        catch
        {
            _socket.Dispose();
            throw;
        }
        _fd = (int)_socket.Handle;
        _msgs = (Libc.MMsgHdr*)NativeMemory.AllocZeroed((nuint)(sizeof(Libc.MMsgHdr) * MaxBatch));
        _iov = (Libc.IoVec*)NativeMemory.AllocZeroed((nuint)(sizeof(Libc.IoVec) * MaxBatch));
        _addrs = (Libc.SockAddrIn*)NativeMemory.AllocZeroed((nuint)(sizeof(Libc.SockAddrIn) * MaxBatch));
    }

    public VtepEndpoint Local { get; }
    public int Fd => _fd;
    /// <summary>The port actually bound (useful when 0 was asked for in tests).</summary>
    public int BoundPort => ((IPEndPoint)_socket.LocalEndPoint!).Port;
    public long ReceiveErrors;
    public long SendErrors;
    public long DatagramsReceived;
    public long DatagramsSent;
    public long Datagrams => Volatile.Read(ref DatagramsReceived) + Volatile.Read(ref DatagramsSent);
    public long Syscalls;

    /// <summary>Reads ready datagrams into the free slots of <paramref name="batch"/>; returns how many.</summary>
    public int Receive(PacketBatch batch, int max)
    {
        max = Math.Min(Math.Min(max, MaxBatch), batch.Capacity - batch.Count);
        if (max <= 0) return 0;
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
            var a = _addrs[k];
            var src = new VtepEndpoint(new Ipv4Address(BinaryPrimitives.ReverseEndianness(a.AddressBE)), BinaryPrimitives.ReverseEndianness(a.PortBE));
            // MSG_TRUNC: a datagram larger than a slot is cut; the pipeline would misread it, so give it zero length.
            var len = (_msgs[k].Header.Flags & 0x20) != 0 ? 0 : (int)_msgs[k].Length;
            batch.CommitFromUnderlay(src, len);
        }
        DatagramsReceived += got;
        return got;
    }

    /// <summary>Sends every underlay entry of <paramref name="tx"/>, up to 64 per system call.</summary>
    public int Send(PacketBatch batch, TxBatch tx)
    {
        var entries = tx.Entries;
        var sent = 0;
        var n = 0;
        for (int i = 0; i < entries.Length; i++)
        {
            ref readonly var e = ref entries[i];
            if (e.Kind != TxKind.Underlay) continue;
            PrepareMessage(n, batch.SlotPointer(e.Slot, e.Offset), e.Length);
            _addrs[n].Family = Libc.AF_INET;
            _addrs[n].PortBE = BinaryPrimitives.ReverseEndianness(e.Destination.Port);
            _addrs[n].AddressBE = BinaryPrimitives.ReverseEndianness(e.Destination.Address.Value);
            if (++n == MaxBatch) { sent += Flush(n); n = 0; }
        }
        if (n > 0) sent += Flush(n);
        return sent;
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

    private int Flush(int n)
    {
        var done = 0;
        while (done < n)
        {
            int r;
            if (_batched)
            {
                r = Libc.sendmmsg(_fd, _msgs + done, (uint)(n - done), 0);
                Syscalls++;
                if (r < 0 && Libc.LastError == Libc.ENOSYS) { _batched = false; continue; }
            }
            else
            {
                r = Libc.sendmsg(_fd, &_msgs[done].Header, 0) < 0 ? -1 : 1;
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
        DatagramsSent += n;
        return n;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _socket.Dispose();
        NativeMemory.Free(_msgs);
        NativeMemory.Free(_iov);
        NativeMemory.Free(_addrs);
    }
}
