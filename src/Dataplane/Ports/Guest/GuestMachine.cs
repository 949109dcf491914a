using System.Collections.Concurrent;
using System.Diagnostics;
using Fabric.Dataplane.Packets;

namespace Fabric.Dataplane.Ports.Guest;

public sealed record PingResult(int Sent, int Received, IReadOnlyList<double> RttMs, IReadOnlyList<int> ReplyTtl);

/// <summary>
/// A tiny in-process machine behind a <see cref="GuestPort"/>: it answers ARP for its address and ICMP echo, keeps an
/// ARP cache, and can ping. It exists so the fabric can be exercised end to end (API ping, tests) on machines where
/// TAP devices are not allowed. Frames it sends cross the real pipeline and, between nodes, the real UDP underlay.
/// </summary>
public sealed class GuestMachine
{
    /// <summary>A frame waiting to leave the guest, linked to the one queued before it (newest first) or after it.</summary>
    private sealed class Frame(byte[] bytes)
    {
        public readonly byte[] Bytes = bytes;
        public Frame? Next;
    }

    // An idle guest holds no queue, no table, no buffer: each is made on first use. Outbound frames are a lock-free
    // list that any thread pushes onto (newest first) and the dataplane thread takes whole and reverses, so a guest
    // with nothing to send costs two null fields instead of a ConcurrentQueue segment.
    private Frame? _inbox;
    private Frame? _taken;
    private ConcurrentDictionary<uint, MacAddress>? _arp;
    private ConcurrentDictionary<uint, TaskCompletionSource<(long Ticks, int Ttl)>>? _pending;
    private int _nextId = Random.Shared.Next(1, 0xFFFF);

    public GuestMachine(MacAddress mac, Ipv4Address ip, Ipv4Prefix subnet, Ipv4Address gateway = default)
    {
        Mac = mac; Ip = ip; Subnet = subnet; Gateway = gateway;
    }

    public MacAddress Mac { get; }
    public Ipv4Address Ip { get; }
    public Ipv4Prefix Subnet { get; }
    public Ipv4Address Gateway { get; }
    /// <summary>Called when the guest has queued a frame for the fabric (the port wakes the dataplane thread).</summary>
    public Action? Wake { get; set; }
    public long FramesReceived;
    public long EchoRequestsAnswered;

    /// <summary>The oldest frame the guest queued for the fabric. One consumer: the dataplane thread (through its port).</summary>
    internal bool TryDequeue(out byte[] frame)
    {
        if (_taken is null)
        {
            if (Volatile.Read(ref _inbox) is null) { frame = null!; return false; }
            var list = Interlocked.Exchange(ref _inbox, null);
            Frame? oldestFirst = null;
            while (list is not null)
            {
                var next = list.Next;
                list.Next = oldestFirst;
                oldestFirst = list;
                list = next;
            }
            _taken = oldestFirst;
        }
        frame = _taken!.Bytes;
        _taken = _taken.Next;
        return true;
    }

    private void Enqueue(byte[] bytes)
    {
        var frame = new Frame(bytes);
        Frame? head;
        do
        {
            head = Volatile.Read(ref _inbox);
            frame.Next = head;
        } while (Interlocked.CompareExchange(ref _inbox, frame, head) != head);
        Wake?.Invoke();
    }

    private ConcurrentDictionary<uint, MacAddress> Arp
        => _arp ?? Interlocked.CompareExchange(ref _arp, new ConcurrentDictionary<uint, MacAddress>(1, 4), null) ?? _arp;

    private ConcurrentDictionary<uint, TaskCompletionSource<(long Ticks, int Ttl)>> Pending
        => _pending ?? Interlocked.CompareExchange(ref _pending, new ConcurrentDictionary<uint, TaskCompletionSource<(long, int)>>(1, 4), null) ?? _pending;

    /// <summary>A frame the fabric delivers to this guest (dataplane thread).</summary>
    public void Receive(ReadOnlySpan<byte> frame)
    {
        Interlocked.Increment(ref FramesReceived);
        if (EthernetFrame.TryParse(frame, out var eth) != PacketError.None) return;
        if (eth.Destination != Mac && !eth.Destination.IsBroadcast) return;
        if (eth.EtherType == EtherTypes.Arp && ArpPacket.TryParse(eth.Payload, out var arp) == PacketError.None)
        {
            if (!arp.SenderIp.IsZero && arp.SenderMac.IsUnicast) Arp[arp.SenderIp.Value] = arp.SenderMac;
            if (arp.Operation == ArpOperation.Request && arp.TargetIp == Ip && !arp.IsGratuitous)
            {
                var reply = new byte[42];
                EthernetFrame.WriteHeader(reply, arp.SenderMac, Mac, EtherTypes.Arp);
                ArpPacket.Write(reply.AsSpan(14), ArpOperation.Reply, Mac, Ip, arp.SenderMac, arp.SenderIp);
                Enqueue(reply);
            }
            return;
        }
        if (eth.EtherType != EtherTypes.Ipv4 || Ipv4Header.TryParse(eth.Payload, out var ip) != PacketError.None) return;
        if (ip.Destination != Ip || ip.Protocol != IpProtocols.Icmp || ip.IsFragment) return;
        if (IcmpEcho.TryParse(ip.Payload, out var icmp) != PacketError.None) return;
        if (icmp.IsEchoRequest)
        {
            Interlocked.Increment(ref EchoRequestsAnswered);
            Enqueue(Echo(eth.Source, ip.Source, IcmpEcho.EchoReply, icmp.Identifier, icmp.Sequence, icmp.Data, 64));
        }
        else if (icmp.IsEchoReply && _pending is { } pending && pending.TryRemove(Key(icmp.Identifier, icmp.Sequence), out var tcs))
        {
            tcs.TrySetResult((Stopwatch.GetTimestamp(), ip.Ttl));
        }
    }

    private static uint Key(ushort id, ushort seq) => ((uint)id << 16) | seq;

    private byte[] Echo(MacAddress dstMac, Ipv4Address dst, byte type, ushort id, ushort seq, ReadOnlySpan<byte> data, byte ttl)
    {
        var f = new byte[14 + 20 + 8 + data.Length];
        EthernetFrame.WriteHeader(f, dstMac, Mac, EtherTypes.Ipv4);
        Ipv4Header.Write(f.AsSpan(14), Ip, dst, IpProtocols.Icmp, 8 + data.Length, ttl, identification: seq);
        IcmpEcho.Write(f.AsSpan(34), type, id, seq, data);
        return f;
    }

    /// <summary>Announces this guest's address (after a move, as a hypervisor does for a migrated VM).</summary>
    public void SendGratuitousArp()
    {
        var f = new byte[42];
        EthernetFrame.WriteHeader(f, MacAddress.Broadcast, Mac, EtherTypes.Arp);
        ArpPacket.Write(f.AsSpan(14), ArpOperation.Request, Mac, Ip, MacAddress.Zero, Ip);
        Enqueue(f);
    }

    /// <summary>Resolves the next hop for <paramref name="target"/> by ARP, waiting up to <paramref name="timeout"/>.</summary>
    public async Task<MacAddress?> ResolveAsync(Ipv4Address target, TimeSpan timeout, CancellationToken ct = default)
    {
        var hop = Subnet.Contains(target) || Gateway.IsZero ? target : Gateway;
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        var nextRequest = 0L;
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (_arp is { } arp && arp.TryGetValue(hop.Value, out var mac)) return mac;
            if (Stopwatch.GetTimestamp() >= nextRequest)
            {
                var f = new byte[42];
                EthernetFrame.WriteHeader(f, MacAddress.Broadcast, Mac, EtherTypes.Arp);
                ArpPacket.Write(f.AsSpan(14), ArpOperation.Request, Mac, Ip, MacAddress.Zero, hop);
                Enqueue(f);
                nextRequest = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 5; // re-ask every 200 ms
            }
            await Task.Delay(1, ct);
        }
        return null;
    }

    /// <summary>Pings <paramref name="target"/>: ARP first, then <paramref name="count"/> echo requests, one at a time.</summary>
    public async Task<PingResult> PingAsync(Ipv4Address target, int count = 3, byte ttl = 64, TimeSpan? timeout = null,
        TimeSpan? interval = null, CancellationToken ct = default)
    {
        var wait = timeout ?? TimeSpan.FromSeconds(1);
        var rtts = new List<double>();
        var ttls = new List<int>();
        var mac = await ResolveAsync(target, wait, ct);
        if (mac is null) return new PingResult(count, 0, rtts, ttls);
        var id = (ushort)Interlocked.Increment(ref _nextId);
        for (ushort seq = 1; seq <= count; seq++)
        {
            var tcs = new TaskCompletionSource<(long, int)>(TaskCreationOptions.RunContinuationsAsynchronously);
            Pending[Key(id, seq)] = tcs;
            var start = Stopwatch.GetTimestamp();
            Enqueue(Echo(mac.Value, target, IcmpEcho.EchoRequest, id, seq, "fabric-guest-ping-payload-0123456789"u8, ttl));
            var done = await Task.WhenAny(tcs.Task, Task.Delay(wait, ct));
            if (done == tcs.Task)
            {
                var (end, replyTtl) = tcs.Task.Result;
                rtts.Add((end - start) * 1000.0 / Stopwatch.Frequency);
                ttls.Add(replyTtl);
            }
            else
            {
                Pending.TryRemove(Key(id, seq), out _);
            }
            if (seq < count && interval is { } gap && gap > TimeSpan.Zero) await Task.Delay(gap, ct);
        }
        return new PingResult(count, rtts.Count, rtts, ttls);
    }
}
