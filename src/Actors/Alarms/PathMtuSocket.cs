using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Fabric.Actors.Alarms;

/// <summary>
/// The node's small path MTU probe socket: UDP on the VTEP address, its own port (the VTEP port + 1 unless set), with
/// IP_MTU_DISCOVER = IP_PMTUDISC_PROBE so every datagram leaves with DF set and is never fragmented (the kernel's cached
/// path MTU is ignored: each probe measures the path as it is now). It answers every probe it receives with a small
/// datagram naming the size it got, and hands the answers to its own probes to <paramref name="answered"/>.
/// </summary>
/// <remarks>
/// A port of its own rather than the underlay's: the underlay socket belongs to the dataplane thread (reading it elsewhere
/// would race its batches, and a probe format there would be one more branch per packet on the hot path); DF on it would
/// change how data is sent; and a separate socket is found by a firewall rule of its own. An answer is 20 bytes, smaller
/// than any probe, so the socket cannot be used to amplify traffic.
/// Wire format (UDP payload, big endian): "FMTU", kind (1 probe, 2 answer), 3 bytes zero, round (8 bytes), size (4 bytes):
/// for a probe the IPv4 packet length it was sent as, for an answer the length that arrived.
/// </remarks>
public sealed class PathMtuSocket : IDisposable
{
    private const int SolIp = 0, IpMtuDiscover = 10, IpPmtuDiscProbe = 3;
    private const int Header = 20, IpUdpHeaders = 28;
    private static readonly uint Magic = BinaryPrimitives.ReadUInt32BigEndian("FMTU"u8);

    private readonly Socket _socket;
    private readonly Action<IPEndPoint, long, int> _answered;
    private readonly CancellationTokenSource _stop = new();
    private readonly byte[] _send = new byte[65_507];

    public PathMtuSocket(IPEndPoint local, Action<IPEndPoint, long, int> answered)
    {
        _answered = answered;
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (OperatingSystem.IsLinux()) _socket.SetRawSocketOption(SolIp, IpMtuDiscover, BitConverter.GetBytes(IpPmtuDiscProbe));
            _socket.Bind(local);
        }
        catch
        {
            _socket.Dispose();
            throw;
        }
        Local = (IPEndPoint)_socket.LocalEndPoint!;
        _ = Task.Run(ReceiveLoop);
    }

    public IPEndPoint Local { get; }

    /// <summary>Sends one probe that makes an IPv4 packet of <paramref name="size"/> bytes; false when the kernel refused it (larger than the local link: EMSGSIZE).</summary>
    public bool Probe(IPEndPoint peer, long round, int size)
    {
        var payload = Math.Max(Header, size - IpUdpHeaders);
        lock (_send)
        {
            Write(_send, 1, round, size);
            try
            {
                _socket.SendTo(_send.AsSpan(0, payload), SocketFlags.None, peer);
                return true;
            }
            catch (SocketException) { return false; } // MessageSize (too big for the link), unreachable: the size did not go out
            catch (ObjectDisposedException) { return false; }
        }
    }

    private static void Write(Span<byte> b, byte kind, long round, int size)
    {
        b[..Header].Clear();
        BinaryPrimitives.WriteUInt32BigEndian(b, Magic);
        b[4] = kind;
        BinaryPrimitives.WriteInt64BigEndian(b[8..], round);
        BinaryPrimitives.WriteInt32BigEndian(b[16..], size);
    }

    private async Task ReceiveLoop()
    {
        var buffer = new byte[65_535];
        var answer = new byte[Header];
        EndPoint any = new IPEndPoint(IPAddress.Any, 0);
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult r;
            try { r = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, any, _stop.Token); }
            catch (OperationCanceledException) { return; }
            catch (ObjectDisposedException) { return; }
            catch (SocketException) { continue; } // an ICMP error reported on the socket: the next datagram is fine
            if (r.ReceivedBytes < Header || BinaryPrimitives.ReadUInt32BigEndian(buffer) != Magic) continue;
            var from = (IPEndPoint)r.RemoteEndPoint;
            var round = BinaryPrimitives.ReadInt64BigEndian(buffer.AsSpan(8));
            switch (buffer[4])
            {
                case 1:
                    Write(answer, 2, round, r.ReceivedBytes + IpUdpHeaders);
                    try { await _socket.SendToAsync(answer, SocketFlags.None, from); }
                    catch (SocketException) { }
                    catch (ObjectDisposedException) { return; }
                    break;
                case 2:
                    _answered(from, round, BinaryPrimitives.ReadInt32BigEndian(buffer.AsSpan(16)));
                    break;
            }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
        _stop.Dispose();
    }
}
