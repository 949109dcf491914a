using System.Diagnostics;
using System.Text.Json;
using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Engine;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Ports;
using Fabric.Dataplane.Tables;

namespace Fabric.Benchmarks;

/// <summary>
/// End to end, as root: two "VMs" (network namespaces) on two "hosts", iperf3 TCP and 64-byte UDP and ping between
/// them, first through Fabric (TAP → dataplane engine → UDP on loopback → engine → TAP), then through the kernel's
/// own VXLAN devices in the same run (each VTEP in its own namespace, joined by a veth pair: the kernel short-circuits
/// VXLAN between local addresses). Prints one table. Bounded: every tool runs for a fixed time.
/// </summary>
public static class ThroughputHarness
{
    private const string A = "10.20.1.10", B = "10.20.1.20";

    public static int Run(string[] args)
    {
        if (TapPort.Unavailable() is { } why) { Console.WriteLine($"throughput: skipped: {why}"); return 0; }
        foreach (var tool in new[] { "iperf3", "ping", "ip" })
            if (Sh("sh", "-c", $"command -v {tool}").Code != 0) { Console.WriteLine($"throughput: skipped: {tool} is not installed"); return 0; }
        var seconds = args.SkipWhile(a => a != "--seconds").Skip(1).Select(int.Parse).FirstOrDefault(5);
        var tag = $"{Environment.ProcessId % 10000}";
        var rows = new List<(string Setup, Result R)>();
        // One failed setup must not hide the others' numbers.
        static Result Try(Func<Result> f) { try { return f(); } catch (Exception e) { Console.WriteLine($"failed: {e.Message}"); return new Result(0, 0, 1, double.NaN); } }
        rows.Add(("Fabric (TAP + userspace dataplane, UDP on loopback), MTU 1450", Try(() => Fabric(tag, seconds, 1450))));
        rows.Add(("Fabric, same, TAP MTU 8950 (loopback underlay allows jumbo)", Try(() => Fabric(tag + "j", seconds, 8950))));
        rows.Add(("Linux kernel VXLAN (veth underlay), MTU 1450", Try(() => Kernel(tag, seconds))));
        Console.WriteLine();
        Console.WriteLine("| setup | TCP Gbit/s | UDP 64 B pps (received) | UDP loss | ping median ms |");
        Console.WriteLine("|---|---:|---:|---:|---:|");
        foreach (var (setup, r) in rows)
            Console.WriteLine($"| {setup} | {r.TcpGbps:F2} | {r.UdpPps:N0} | {r.UdpLoss:P1} | {r.PingMs:F3} |");
        return 0;
    }

    private sealed record Result(double TcpGbps, double UdpPps, double UdpLoss, double PingMs);

    private static Result Fabric(string tag, int seconds, int mtu)
    {
        var vtepA = new VtepEndpoint(Ipv4Address.Parse("127.0.61.1"), 4789);
        var vtepB = new VtepEndpoint(Ipv4Address.Parse("127.0.61.2"), 4789);
        var macA = MacAddress.Parse("02:00:00:00:61:0a");
        var macB = MacAddress.Parse("02:00:00:00:61:14");
        var prefix = Ipv4Prefix.Parse("10.20.1.0/24");
        var nodes = new[] { (Vtep: vtepA, Holder: new SnapshotHolder()), (Vtep: vtepB, Holder: new SnapshotHolder()) };
        for (int n = 0; n < 2; n++)
        {
            var b = new NetworkStateBuilder(7001, "bench", NetworkKind.L3, Ipv4Prefix.Parse("10.20.0.0/16")) { LocalVtep = nodes[n].Vtep }
                .Member(vtepA).Member(vtepB).Subnet("s", prefix)
                .Endpoint(macA, Ipv4Address.Parse(A), n == 0 ? Location.Local(1) : Location.Remote(vtepA))
                .Endpoint(macB, Ipv4Address.Parse(B), n == 1 ? Location.Local(1) : Location.Remote(vtepB));
            nodes[n].Holder.Publish(ForwardingSnapshot.Create(nodes[n].Vtep, [b.Build()],
                [new PortState(1, "vm", 7001, n == 0 ? macA : macB, Ipv4Address.Parse(n == 0 ? A : B), true, 0, new PortCounters())]));
        }
        using var uA = new UdpUnderlay(vtepA);
        using var uB = new UdpUnderlay(vtepB);
        using var eA = new DataplaneEngine(nodes[0].Holder, uA, new EngineOptions { Cpu = 0 });
        using var eB = new DataplaneEngine(nodes[1].Holder, uB, new EngineOptions { Cpu = 1 });
        eA.Start();
        eB.Start();
        var nsA = $"fbench{tag}a";
        var nsB = $"fbench{tag}b";
        eA.AddPortAsync(TapPort.Create(1, new TapSettings($"fbt{tag}a", macA, Ipv4Address.Parse(A), 24, prefix.FirstHost, nsA, mtu))).Wait();
        eB.AddPortAsync(TapPort.Create(1, new TapSettings($"fbt{tag}b", macB, Ipv4Address.Parse(B), 24, prefix.FirstHost, nsB, mtu))).Wait();
        try
        {
            return Measure(nsA, nsB, seconds);
        }
        finally
        {
            eA.Dispose();
            eB.Dispose();
        }
    }

    private static Result Kernel(string tag, int seconds)
    {
        var hA = $"kbench{tag}a";
        var hB = $"kbench{tag}b";
        try
        {
            foreach (var (ns, me, peer, ip, other) in new[] { (hA, "10.99.0.1", "10.99.0.2", A, "ua"), (hB, "10.99.0.2", "10.99.0.1", B, "ub") })
            {
                Must("ip", "netns", "add", ns);
                Must("ip", "-n", ns, "link", "set", "lo", "up");
            }
            Must("ip", "link", "add", $"kbu{tag}a", "netns", hA, "type", "veth", "peer", "name", $"kbu{tag}b", "netns", hB);
            foreach (var (ns, dev, me, peer, ip) in new[] { (hA, $"kbu{tag}a", "10.99.0.1", "10.99.0.2", A), (hB, $"kbu{tag}b", "10.99.0.2", "10.99.0.1", B) })
            {
                Must("ip", "-n", ns, "addr", "add", $"{me}/24", "dev", dev);
                Must("ip", "-n", ns, "link", "set", dev, "up");
                Must("ip", "-n", ns, "link", "add", "vx0", "type", "vxlan", "id", "7001", "local", me, "remote", peer, "dstport", "4789", "dev", dev);
                Must("ip", "-n", ns, "link", "set", "vx0", "mtu", "1450", "up");
                Must("ip", "-n", ns, "addr", "add", $"{ip}/24", "dev", "vx0");
            }
            return Measure(hA, hB, seconds);
        }
        finally
        {
            Sh("ip", "netns", "delete", hA);
            Sh("ip", "netns", "delete", hB);
        }
    }

    private static Result Measure(string nsA, string nsB, int seconds)
    {
        var ping = Sh("ip", "netns", "exec", nsA, "ping", "-c", "20", "-i", "0.05", "-W", "2", B);
        var rtts = ping.Output.Split('\n').Select(l => l.Split("time=")).Where(p => p.Length == 2)
            .Select(p => double.Parse(p[1].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture)).Order().ToArray();
        var server = Process.Start(new ProcessStartInfo("ip", ["netns", "exec", nsB, "iperf3", "-s", "-1", "--json"]) { RedirectStandardOutput = true })!;
        Thread.Sleep(300);
        var tcp = Sh("ip", "netns", "exec", nsA, "iperf3", "-c", B, "-t", seconds.ToString(), "--json");
        server.WaitForExit(5000);
        server = Process.Start(new ProcessStartInfo("ip", ["netns", "exec", nsB, "iperf3", "-s", "-1", "--json"]) { RedirectStandardOutput = true })!;
        Thread.Sleep(300);
        var udp = Sh("ip", "netns", "exec", nsA, "iperf3", "-u", "-c", B, "-t", seconds.ToString(), "-l", "64", "-b", "0", "--json");
        var udpServer = server.StandardOutput.ReadToEnd();
        server.WaitForExit(5000);
        double tcpBps = 0, udpPps = 0, udpLoss = 1;
        try
        {
            using var t = JsonDocument.Parse(tcp.Output);
            tcpBps = t.RootElement.GetProperty("end").GetProperty("sum_received").GetProperty("bits_per_second").GetDouble();
        }
        catch (Exception e) { Console.WriteLine($"tcp: {e.Message}: {tcp.Output[..Math.Min(300, tcp.Output.Length)]}"); }
        try
        {
            using var u = JsonDocument.Parse(udpServer);
            var sum = u.RootElement.GetProperty("end").GetProperty("sum");
            var packets = sum.GetProperty("packets").GetDouble();
            var lost = sum.GetProperty("lost_packets").GetDouble();
            var secs = sum.GetProperty("seconds").GetDouble();
            udpPps = (packets - lost) / secs;
            udpLoss = packets > 0 ? lost / packets : 1;
        }
        catch (Exception e) { Console.WriteLine($"udp: {e.Message}"); }
        Console.WriteLine($"{nsA} → {nsB}: ping {rtts.Length}/20 answered");
        return new Result(tcpBps / 1e9, udpPps, udpLoss, rtts.Length == 0 ? double.NaN : rtts[rtts.Length / 2]);
    }

    private static void Must(string file, params string[] args)
    {
        var r = Sh(file, args);
        if (r.Code != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)}: {r.Output}");
    }

    private static (int Code, string Output) Sh(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, o.Result + e);
    }
}
