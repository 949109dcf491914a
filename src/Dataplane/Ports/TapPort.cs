using System.Diagnostics;
using System.Runtime.InteropServices;
using Fabric.Dataplane.Interop;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Pipeline;

namespace Fabric.Dataplane.Ports;

/// <summary>What a TAP device is set up with, inside a network namespace when one is named.</summary>
public sealed record TapSettings(string DeviceName, MacAddress Mac, Ipv4Address Ip = default, int PrefixLength = 24,
    Ipv4Address Gateway = default, string? Namespace = null, int Mtu = 1450);

/// <summary>
/// A Linux TAP device (/dev/net/tun, IFF_TAP | IFF_NO_PI). When a namespace is named, the device is moved into it
/// (created if missing) and given the endpoint's MAC, IP and a default route via the gateway, so that a real
/// <c>ping</c> run in that namespace talks through the fabric. Disposing closes the device, which removes it.
/// </summary>
public sealed unsafe class TapPort : IDataplanePort
{
    private int _fd;
    private readonly bool _createdNamespace;

    private TapPort(int id, int fd, TapSettings settings, bool createdNamespace)
    {
        Id = id; _fd = fd; Settings = settings; _createdNamespace = createdNamespace;
    }

    public int Id { get; }
    public string Name => Settings.DeviceName;
    public TapSettings Settings { get; }
    public int PollFd => _fd;
    public Action? Wake { get; set; }
    public long ReadErrors;
    public long WriteErrors;

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
        var fd = Libc.open("/dev/net/tun", Libc.O_RDWR | Libc.O_NONBLOCK | Libc.O_CLOEXEC);
        if (fd < 0) throw new IOException($"open /dev/net/tun failed: errno {Libc.LastError}");
        var ifr = stackalloc byte[40];
        new Span<byte>(ifr, 40).Clear();
        System.Text.Encoding.ASCII.GetBytes(s.DeviceName, new Span<byte>(ifr, 16));
        *(short*)(ifr + 16) = Libc.IFF_TAP | Libc.IFF_NO_PI;
        if (Libc.ioctl(fd, Libc.TUNSETIFF, ifr) < 0)
        {
            var err = Libc.LastError;
            Libc.close(fd);
            throw new IOException($"TUNSETIFF {s.DeviceName} failed: errno {err}");
        }
        var created = false;
        try
        {
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
            Libc.close(fd);
            if (created) TryRun("ip", "netns", "delete", s.Namespace!);
            throw;
        }
        return new TapPort(id, fd, s, created);
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

    public bool Send(ReadOnlySpan<byte> frame)
    {
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
