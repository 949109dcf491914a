using System.Diagnostics;
using System.Runtime.InteropServices;
using Fabric.Dataplane.Interop;
using Fabric.Dataplane.Offload;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Pipeline;

namespace Fabric.Dataplane.Ports;

/// <summary>What a TAP device is set up with, inside a network namespace when one is named.</summary>
public sealed record TapSettings(string DeviceName, MacAddress Mac, Ipv4Address Ip = default, int PrefixLength = 24,
    Ipv4Address Gateway = default, string? Namespace = null, int Mtu = 1450, bool Offloads = true, int Queues = 1);

/// <summary>
/// A Linux TAP device (/dev/net/tun, IFF_TAP | IFF_NO_PI). When a namespace is named, the device is moved into it
/// (created if missing) and given the endpoint's MAC, IP and a default route via the gateway, so that a real
/// <c>ping</c> run in that namespace talks through the fabric. Disposing closes the device, which removes it.
/// With <see cref="TapSettings.Offloads"/> (the default) the device is opened with IFF_VNET_HDR and asked for checksum,
/// TSO and USO offloads (TUNSETOFFLOAD), falling back to fewer where the kernel lacks them (logged once, counted in
/// <see cref="OffloadFallbacks"/>): every frame then comes with a virtio_net_hdr, and may be a partial-checksum frame
/// or a GSO super-frame of up to 64 KB that the dataplane carries whole and cuts only at the edge that needs it.
/// With <see cref="TapSettings.Queues"/> &gt; 1 the device is multiqueue (IFF_MULTI_QUEUE): one descriptor per queue,
/// each its own <see cref="TapPort"/> (<see cref="ExtraQueues"/>) for one dataplane thread. The kernel puts a flow's
/// frames on one queue (by flow hash, then on the queue that last wrote that flow), so one TCP flow stays on one thread.
/// A kernel without multiqueue TAP gets one queue (logged once, counted in <see cref="MultiQueueFallbacks"/>).
/// </summary>
public sealed unsafe class TapPort : IDataplanePort
{
    /// <summary>The largest frame a TAP with TSO may hand us: an IP packet of 64 KB plus its Ethernet header.</summary>
    public const int MaxGsoFrame = 65536 + 18;
    private const uint Segmentation = Libc.TUN_F_TSO4 | Libc.TUN_F_TSO6 | Libc.TUN_F_TSO_ECN | Libc.TUN_F_USO4 | Libc.TUN_F_USO6;
    private const int MaxHeaderBytes = 256;
    private static int _fallbackLogged;
    /// <summary>TAPs opened with fewer offloads than asked for, in this process.</summary>
    public static long OffloadFallbacks;
    private static int _multiQueueLogged;
    /// <summary>TAPs asked for several queues that got one (no IFF_MULTI_QUEUE), in this process.</summary>
    public static long MultiQueueFallbacks;

    private int _fd;
    private readonly bool _createdNamespace;
    private readonly bool _vnet;
    private uint _offloads;
    // Pinned for writev: the virtio_net_hdr (and a coalesced frame's headers) and the vector pointing at the frame.
    private readonly byte* _txHead;
    private readonly Libc.IoVec* _iov;

    private TapPort(int id, int fd, TapSettings settings, bool createdNamespace, bool vnet, uint offloads)
    {
        Id = id; _fd = fd; Settings = settings; _createdNamespace = createdNamespace; _vnet = vnet; _offloads = offloads;
        _txHead = (byte*)NativeMemory.AllocZeroed(VirtioNetHeader.Length + MaxHeaderBytes);
        _iov = (Libc.IoVec*)NativeMemory.AllocZeroed((nuint)(sizeof(Libc.IoVec) * (TcpCoalescer.MaxSegments + 2)));
    }

    /// <summary>Every frame read or written carries a virtio_net_hdr (IFF_VNET_HDR).</summary>
    public bool VnetHeader => _vnet;
    /// <summary>The TUN_F_* offloads in effect.</summary>
    public uint Offloads => _offloads;
    public long GsoFramesRead;
    public long GsoFramesWritten;

    public int Id { get; }
    public string Name => Settings.DeviceName;
    public TapSettings Settings { get; }
    public int PollFd => _fd;
    public Action? Wake { get; set; }
    public long ReadErrors;
    public long WriteErrors;
    /// <summary>The device's further queues (multiqueue), each for another dataplane thread; empty with one queue.</summary>
    public IReadOnlyList<TapPort> ExtraQueues { get; private set; } = [];
    /// <summary>Which queue of the device this is (0: the first, which owns the namespace).</summary>
    public int Queue { get; private init; }

    /// <summary>Why TAP ports cannot be used here, or null when they can (root and /dev/net/tun present).</summary>
    public static string? Unavailable()
    {
        if (!OperatingSystem.IsLinux()) return "TAP devices need Linux";
        if (Environment.UserName != "root" && geteuid() != 0) return "TAP devices and network namespaces need root";
        if (!File.Exists("/dev/net/tun")) return "/dev/net/tun is missing";
        return null;
    }

    [DllImport("libc")] private static extern uint geteuid();

    public static TapPort Create(int id, TapSettings s)
    {
        if (s.DeviceName.Length is 0 or > 15) throw new ArgumentException("a Linux interface name has 1..15 characters", nameof(s));
        var flags = (short)(Libc.IFF_TAP | Libc.IFF_NO_PI | (s.Offloads ? Libc.IFF_VNET_HDR : 0));
        var fd = -1;
        var mqErr = 0;
        var queues = Math.Max(1, s.Queues);
        if (queues > 1) fd = OpenQueue(s.DeviceName, (short)(flags | Libc.IFF_MULTI_QUEUE), out mqErr);
        if (fd < 0)
        {
            if (queues > 1)
            {
                Interlocked.Increment(ref MultiQueueFallbacks);
                if (Interlocked.Exchange(ref _multiQueueLogged, 1) == 0)
                    Trace.TraceWarning($"TAP {s.DeviceName}: the kernel refused a multiqueue TAP (errno {mqErr}); one queue, one dataplane thread for it (logged once)");
                queues = 1;
            }
            fd = OpenQueue(s.DeviceName, flags, out var err);
            if (fd < 0) throw new IOException($"TUNSETIFF {s.DeviceName} failed: errno {err}");
        }
        var offloads = s.Offloads ? NegotiateOffloads(fd, s.DeviceName) : 0u;
        var created = false;
        var extra = new List<TapPort>();
        try
        {
            // Further queues attach by name, so before the device leaves this namespace.
            for (int q = 1; q < queues; q++)
            {
                var qfd = OpenQueue(s.DeviceName, (short)(flags | Libc.IFF_MULTI_QUEUE), out var err);
                if (qfd < 0) throw new IOException($"TUNSETIFF {s.DeviceName} queue {q} failed: errno {err}");
                if (s.Offloads) Libc.ioctl(qfd, Libc.TUNSETOFFLOAD, (void*)offloads);
                extra.Add(new TapPort(id, qfd, s, false, s.Offloads, offloads) { Queue = q });
            }
            if (s.Namespace is { } ns)
            {
                created = EnsureNamespace(ns);
                Ip("link", "set", "dev", s.DeviceName, "netns", ns);
                IpNs(ns, "link", "set", "dev", "lo", "up");
                IpNs(ns, "link", "set", "dev", s.DeviceName, "address", s.Mac.ToString(), "mtu", s.Mtu.ToString());
                if (!s.Ip.IsZero) IpNs(ns, "addr", "add", $"{s.Ip}/{s.PrefixLength}", "dev", s.DeviceName);
                IpNs(ns, "link", "set", "dev", s.DeviceName, "up");
                if (!s.Gateway.IsZero) IpNs(ns, "route", "replace", "default", "via", s.Gateway.ToString(), "dev", s.DeviceName);
            }
            else
            {
                Ip("link", "set", "dev", s.DeviceName, "mtu", s.Mtu.ToString(), "up");
            }
        }
        catch
        {
            foreach (var q in extra) q.Dispose();
            Libc.close(fd);
            if (created) TryRun("ip", "netns", "delete", s.Namespace!);
            throw;
        }
        return new TapPort(id, fd, s, created, s.Offloads, offloads) { ExtraQueues = extra };
    }

    /// <summary>Opens /dev/net/tun and attaches it to the device (creating it); -1 and why when that failed.</summary>
    private static int OpenQueue(string device, short flags, out int error)
    {
        error = 0;
        var fd = Libc.open("/dev/net/tun", Libc.O_RDWR | Libc.O_NONBLOCK | Libc.O_CLOEXEC);
        if (fd < 0) { error = Libc.LastError; return -1; }
        var ifr = stackalloc byte[40];
        new Span<byte>(ifr, 40).Clear();
        System.Text.Encoding.ASCII.GetBytes(device, new Span<byte>(ifr, 16));
        *(short*)(ifr + 16) = flags;
        if (Libc.ioctl(fd, Libc.TUNSETIFF, ifr) < 0)
        {
            error = Libc.LastError;
            Libc.close(fd);
            return -1;
        }
        return fd;
    }

    /// <summary>Asks for the most the kernel gives: checksum + TSO + USO (Linux 6.2), then without USO, then checksum only.</summary>
    private static uint NegotiateOffloads(int fd, string device)
    {
        uint[] tries =
        [
            Libc.TUN_F_CSUM | Segmentation,
            Libc.TUN_F_CSUM | Libc.TUN_F_TSO4 | Libc.TUN_F_TSO6 | Libc.TUN_F_TSO_ECN,
            Libc.TUN_F_CSUM,
            0,
        ];
        foreach (var t in tries)
        {
            if (Libc.ioctl(fd, Libc.TUNSETOFFLOAD, (void*)t) == 0)
            {
                if (t != tries[0])
                {
                    Interlocked.Increment(ref OffloadFallbacks);
                    if (Interlocked.Exchange(ref _fallbackLogged, 1) == 0)
                        Trace.TraceWarning($"TAP {device}: the kernel refused some offloads (errno {Libc.LastError}); using TUN_F flags 0x{t:x} (logged once)");
                }
                return t;
            }
        }
        return 0;
    }

    /// <summary>
    /// Called by the engine with the size of its slots: a TAP that could hand over super-frames larger than a slot is
    /// turned down to checksum offload only (a cut super-frame would be lost).
    /// </summary>
    public void FitTo(int maxFrame)
    {
        if (!_vnet || maxFrame >= MaxGsoFrame || (_offloads & Segmentation) == 0) return;
        if (Libc.ioctl(_fd, Libc.TUNSETOFFLOAD, (void*)Libc.TUN_F_CSUM) == 0) _offloads = Libc.TUN_F_CSUM;
        Interlocked.Increment(ref OffloadFallbacks);
    }

    /// <summary>Creates the namespace if it does not exist; true when this call created it.</summary>
    public static bool EnsureNamespace(string ns)
    {
        if (File.Exists($"/run/netns/{ns}")) return false;
        Ip("netns", "add", ns);
        return true;
    }

    public int Receive(PacketBatch batch, int max)
    {
        if (_vnet) return ReceiveWithHeader(batch, max);
        var n = 0;
        while (n < max && !batch.IsFull)
        {
            var buf = batch.NextReceiveBuffer();
            nint r;
            fixed (byte* p = buf) r = Libc.read(_fd, p, (nuint)buf.Length);
            if (r <= 0)
            {
                if (r < 0 && Libc.LastError is not (Libc.EAGAIN or Libc.EINTR)) ReadErrors++;
                break;
            }
            batch.CommitFromPort(Id, (int)r);
            n++;
        }
        return n;
    }

    /// <summary>Reads frames with their virtio_net_hdr, which lands in the slot's headroom just in front of the frame.</summary>
    private int ReceiveWithHeader(PacketBatch batch, int max)
    {
        var n = 0;
        while (n < max && !batch.IsFull)
        {
            var p = (byte*)batch.SlotPointer(batch.Count, PacketBatch.Headroom - VirtioNetHeader.Length);
            var r = Libc.read(_fd, p, (nuint)(batch.MaxFrame + VirtioNetHeader.Length));
            if (r <= VirtioNetHeader.Length)
            {
                if (r < 0 && Libc.LastError is not (Libc.EAGAIN or Libc.EINTR)) ReadErrors++;
                if (r < 0 || r == 0) break;
                ReadErrors++;
                continue;
            }
            var info = new VirtioNetHeader(new Span<byte>(p, VirtioNetHeader.Length)).Read();
            info.Flags &= VirtioNetHeader.FlagNeedsCsum; // DATA_VALID says nothing we act on
            if (info.IsGso) GsoFramesRead++;
            batch.CommitFromPort(Id, (int)r - VirtioNetHeader.Length, info);
            n++;
        }
        return n;
    }

    /// <summary>Writes a frame with the virtio_net_hdr it came with (TAP to TAP: a super-frame or partial checksum stays so).</summary>
    public bool Send(ReadOnlySpan<byte> frame, in OffloadInfo offload)
    {
        if (!_vnet) return Send(frame);
        new VirtioNetHeader(new Span<byte>(_txHead, VirtioNetHeader.Length)).Write(offload);
        if (offload.IsGso) GsoFramesWritten++;
        nint r;
        fixed (byte* p = frame)
        {
            _iov[0] = new Libc.IoVec { Base = _txHead, Length = VirtioNetHeader.Length };
            _iov[1] = new Libc.IoVec { Base = p, Length = (nuint)frame.Length };
            r = Libc.writev(_fd, _iov, 2);
        }
        if (r == frame.Length + VirtioNetHeader.Length) return true;
        WriteErrors++;
        return false;
    }

    /// <summary>
    /// Writes one coalesced super-frame in one call: its virtio_net_hdr and headers, then the payloads where they lie
    /// (<paramref name="payloads"/>/<paramref name="lengths"/>: pinned addresses, at most <see cref="TcpCoalescer.MaxSegments"/>).
    /// </summary>
    public bool SendGather(in OffloadInfo offload, ReadOnlySpan<byte> headers, ReadOnlySpan<nint> payloads, ReadOnlySpan<int> lengths)
    {
        if (!_vnet || headers.Length > MaxHeaderBytes || payloads.Length > TcpCoalescer.MaxSegments) { WriteErrors++; return false; }
        new VirtioNetHeader(new Span<byte>(_txHead, VirtioNetHeader.Length)).Write(offload);
        headers.CopyTo(new Span<byte>(_txHead + VirtioNetHeader.Length, MaxHeaderBytes));
        var total = VirtioNetHeader.Length + headers.Length;
        _iov[0] = new Libc.IoVec { Base = _txHead, Length = (nuint)total };
        for (int k = 0; k < payloads.Length; k++)
        {
            _iov[k + 1] = new Libc.IoVec { Base = (void*)payloads[k], Length = (nuint)lengths[k] };
            total += lengths[k];
        }
        var r = Libc.writev(_fd, _iov, payloads.Length + 1);
        if (r == total) { GsoFramesWritten++; return true; }
        WriteErrors++;
        return false;
    }

    public bool Send(ReadOnlySpan<byte> frame)
    {
        if (_vnet) return Send(frame, default);
        nint r;
        fixed (byte* p = frame) r = Libc.write(_fd, p, (nuint)frame.Length);
        if (r == frame.Length) return true;
        WriteErrors++;
        return false;
    }

    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0) Libc.close(fd); // closing a non-persistent TAP removes the device, wherever it lives
        else return;
        NativeMemory.Free(_txHead);
        NativeMemory.Free(_iov);
        if (_createdNamespace && Settings.Namespace is { } ns) TryRun("ip", "netns", "delete", ns);
    }

    private static void IpNs(string ns, params string[] args) => Ip(["-n", ns, .. args]);
    private static void Ip(params string[] args)
    {
        var (code, output) = Run("ip", args);
        if (code != 0) throw new IOException($"ip {string.Join(' ', args)} failed ({code}): {output.Trim()}");
    }

    internal static void TryRun(string file, params string[] args) { try { Run(file, args); } catch { /* best effort cleanup */ } }

    internal static (int Code, string Output) Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr);
    }
}
