using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Engine;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Ports;
using Fabric.Dataplane.Tables;

namespace Fabric.Benchmarks;

/// <summary>
/// End to end, as root: two "VMs" (network namespaces) on two "hosts" (two more namespaces joined by an underlay veth
/// pair whose MTU is the overlay MTU + 50), iperf3 TCP, 64-byte UDP and ping between the VMs, through Fabric and
/// through the kernel's own VXLAN, with the same depth on both sides (issue 11):
/// <list type="bullet">
/// <item>Fabric: VM namespace ← TAP → dataplane thread → UDP socket in the host namespace → underlay veth → ...</item>
/// <item>kernel: VM namespace ← veth → Linux bridge + vxlan device in the host namespace → underlay veth → ...</item>
/// </list>
/// Each repetition runs every setup once, interleaved (Fabric, kernel, Fabric, kernel...), so drift in machine load
/// hits both alike; the table gives the median and the spread (min–max) over the repetitions. iperf3 warms up
/// (<c>-O 1</c>) and is pinned with taskset to a core away from Fabric's dataplane threads (both engines share the
/// other core). CPU per Gbit/s is the whole machine's busy time (/proc/stat: user+nice+system+irq+softirq+steal,
/// all cores) over the TCP run, divided by the Gbit/s: the only measure that also sees the kernel's softirq work,
/// which no process is charged for; it includes both iperf3 ends (the same on both sides) and whatever else ran.
/// Bounded: every tool runs for a fixed time.
/// </summary>
public static class ThroughputHarness
{
    private const string A = "10.20.1.10", B = "10.20.1.20";
    private const string UnderA = "10.99.0.1", UnderB = "10.99.0.2";

    private sealed record Options(int Seconds, int Reps, int[] Mtus, int[] DataplaneCpus, int IperfCpu, bool Tcp, bool Udp, int Pings, double PingInterval,
        int[] Threads, int Streams, bool Merge, bool NoYield, bool AlsoUnpinned);

    public static int Run(string[] args)
    {
        if (TapPort.Unavailable() is { } why) { Console.WriteLine($"throughput: skipped: {why}"); return 0; }
        foreach (var tool in new[] { "iperf3", "ping", "ip", "taskset" })
            if (Sh("sh", "-c", $"command -v {tool}").Code != 0) { Console.WriteLine($"throughput: skipped: {tool} is not installed"); return 0; }
        string? Arg(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
        // --quick: one repetition of 2 s at MTU 1450, for a check that the harness and both paths work (~30 s).
        var quick = args.Contains("--quick");
        var only = Arg("--only")?.Split(',') ?? ["tcp", "udp", "ping"];
        var o = new Options(
            Seconds: int.Parse(Arg("--seconds") ?? (quick ? "2" : "5"), CultureInfo.InvariantCulture),
            Reps: int.Parse(Arg("--reps") ?? (quick ? "1" : "5"), CultureInfo.InvariantCulture),
            Mtus: (Arg("--mtu") ?? (quick ? "1450" : "1450,8950")).Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray(),
            // "0": both engines on CPU 0; "0,1": node A's on 0, node B's on 1. --iperf-cpu -1 leaves iperf3/ping unpinned.
            DataplaneCpus: (Arg("--dataplane-cpu") ?? "0").Split(',').Select(c => int.Parse(c, CultureInfo.InvariantCulture)).ToArray(),
            IperfCpu: int.Parse(Arg("--iperf-cpu") ?? (Environment.ProcessorCount > 1 ? "1" : "0"), CultureInfo.InvariantCulture),
            Tcp: only.Contains("tcp"), Udp: only.Contains("udp"),
            Pings: int.Parse(Arg("--pings") ?? "40", CultureInfo.InvariantCulture),
            PingInterval: double.Parse(Arg("--ping-interval") ?? "0.05", CultureInfo.InvariantCulture),
            // --threads 1,2: Fabric with one and with two dataplane threads per node, interleaved in every repetition
            // (fabric.dataplane.threads: thread k of a node pinned to its dataplane CPU + k).
            Threads: (Arg("--threads") ?? "1").Split(',').Select(t => int.Parse(t, CultureInfo.InvariantCulture)).ToArray(),
            // -P: parallel iperf3 streams (TCP and UDP): several flows, which the kernel spreads over the threads.
            Streams: int.Parse(Arg("-P") ?? Arg("--streams") ?? "1", CultureInfo.InvariantCulture),
            Merge: !args.Contains("--no-merge"),
            NoYield: args.Contains("--no-yield"),
            // Adds a Fabric setup with the dataplane threads left to the scheduler (the shipped fabric.dataplane.cpu = -1),
            // interleaved with the others: the placement a user gets, next to the harness's pinned one.
            AlsoUnpinned: args.Contains("--also-unpinned"));
        // Engine knobs for the latency experiments (fabric.dataplane.busy-poll); unset: EngineOptions' defaults.
        var busyPoll = Arg("--busy-poll-us") is { } bp ? int.Parse(bp, CultureInfo.InvariantCulture) : (int?)null;
        var spinPolls = Arg("--spin-polls") is { } sp ? int.Parse(sp, CultureInfo.InvariantCulture) : (int?)null;
        var tag = $"{Environment.ProcessId % 10000}";
        Console.WriteLine($"throughput: {o.Reps} repetition(s) of {o.Seconds} s, MTU {string.Join('/', o.Mtus)}, dataplane threads on CPU {string.Join('/', o.DataplaneCpus)}, " +
            $"{string.Join('/', o.Threads)} dataplane thread(s) per node, {o.Streams} iperf3 stream(s), " +
            $"iperf3 and ping on CPU {(o.IperfCpu < 0 ? "any" : o.IperfCpu)}{(busyPoll is { } b ? $", busy-poll {b} µs" : "")}{(spinPolls is { } s ? $", spin-polls {s}" : "")}; load before: {File.ReadAllText("/proc/loadavg").Trim()}");
        var results = new Dictionary<string, List<Result>>();
        var order = new List<string>();
        void Add(string setup, Result r)
        {
            if (!results.TryGetValue(setup, out var list)) { results[setup] = list = []; order.Add(setup); }
            list.Add(r);
            Console.WriteLine($"  {setup}: TCP {r.TcpGbps:F2} Gbit/s ({r.TcpCores:F2} cores busy), UDP {r.UdpPps:N0} pps, loss {r.UdpLoss:P1}, ping median {r.PingMs:F3} ms");
        }
        // One failed setup must not hide the others' numbers.
        static Result Try(Func<Result> f) { try { return f(); } catch (Exception e) { Console.WriteLine($"failed: {e.Message}"); return Result.Failed; } }
        for (int rep = 0; rep < o.Reps; rep++)
            foreach (var mtu in o.Mtus)
            {
                foreach (var threads in o.Threads)
                    Add(o.Threads.Length == 1 && threads == 1 ? $"Fabric, MTU {mtu}" : $"Fabric, {threads} thread{(threads == 1 ? "" : "s")}, MTU {mtu}",
                        Try(() => Fabric(tag, o, mtu, busyPoll, spinPolls, threads)));
                if (o.AlsoUnpinned)
                    Add($"Fabric, dataplane unpinned, MTU {mtu}", Try(() => Fabric(tag, o with { DataplaneCpus = [-1] }, mtu, busyPoll, spinPolls, o.Threads[0])));
                Add($"Linux kernel VXLAN, MTU {mtu}", Try(() => Kernel(tag, o, mtu)));
            }
        Console.WriteLine();
        Console.WriteLine($"load after: {File.ReadAllText("/proc/loadavg").Trim()}");
        Console.WriteLine($"median (min–max) of {o.Reps} interleaved repetition(s), {o.Seconds} s each; CPU: whole machine busy cores during TCP / Gbit/s");
        Console.WriteLine("| setup | TCP Gbit/s | CPU cores per Gbit/s | UDP 64 B pps (received) | UDP loss | ping median ms |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|");
        foreach (var setup in order)
        {
            var rs = results[setup];
            Console.WriteLine($"| {setup} | {Spread(rs, r => r.TcpGbps, "F2")} | {Spread(rs, r => r.TcpGbps > 0 ? r.TcpCores / r.TcpGbps : double.NaN, "F3")} " +
                $"| {Spread(rs, r => r.UdpPps, "N0")} | {Spread(rs, r => r.UdpLoss * 100, "F1")} % | {Spread(rs, r => r.PingMs, "F3")} |");
        }
        return 0;
    }

    private static string Spread(List<Result> rs, Func<Result, double> f, string format)
    {
        var v = rs.Select(f).Where(x => !double.IsNaN(x)).Order().ToArray();
        if (v.Length == 0) return "–";
        var median = v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
        var m = median.ToString(format, CultureInfo.InvariantCulture);
        return v.Length == 1 ? m : $"{m} ({v[0].ToString(format, CultureInfo.InvariantCulture)}–{v[^1].ToString(format, CultureInfo.InvariantCulture)})";
    }

    private sealed record Result(double TcpGbps, double TcpCores, double UdpPps, double UdpLoss, double PingMs)
    {
        public static readonly Result Failed = new(double.NaN, double.NaN, double.NaN, double.NaN, double.NaN);
    }

    /// <summary>Two host namespaces joined by a veth pair (the underlay), MTU overlay + 50.</summary>
    private static void Underlay(string hA, string hB, string tag, int mtu)
    {
        foreach (var ns in new[] { hA, hB })
        {
            Must("ip", "netns", "add", ns);
            Must("ip", "-n", ns, "link", "set", "lo", "up");
        }
        Must("ip", "link", "add", $"u{tag}a", "netns", hA, "mtu", $"{mtu + 50}", "type", "veth", "peer", "name", $"u{tag}b", "netns", hB, "mtu", $"{mtu + 50}");
        foreach (var (ns, dev, me) in new[] { (hA, $"u{tag}a", UnderA), (hB, $"u{tag}b", UnderB) })
        {
            Must("ip", "-n", ns, "addr", "add", $"{me}/24", "dev", dev);
            Must("ip", "-n", ns, "link", "set", dev, "up");
        }
    }

    private static Result Fabric(string tag, Options o, int mtu, int? busyPollUs, int? spinPolls, int threads)
    {
        var hA = $"fbh{tag}a";
        var hB = $"fbh{tag}b";
        var nsA = $"fbv{tag}a";
        var nsB = $"fbv{tag}b";
        try
        {
            Underlay(hA, hB, $"fb{tag}", mtu);
            var vtepA = new VtepEndpoint(Ipv4Address.Parse(UnderA), 4789);
            var vtepB = new VtepEndpoint(Ipv4Address.Parse(UnderB), 4789);
            var macA = MacAddress.Parse("02:00:00:00:61:0a");
            var macB = MacAddress.Parse("02:00:00:00:61:14");
            var prefix = Ipv4Prefix.Parse("10.20.1.0/24");
            var nodes = new[] { (Vtep: vtepA, Holder: new SnapshotHolder()), (Vtep: vtepB, Holder: new SnapshotHolder()) };
            PortCounters[] portCounters = [new(), new()];
            for (int n = 0; n < 2; n++)
            {
                var b = new NetworkStateBuilder(7001, "bench", NetworkKind.L3, Ipv4Prefix.Parse("10.20.0.0/16")) { LocalVtep = nodes[n].Vtep }
                    .Member(vtepA).Member(vtepB).Subnet("s", prefix)
                    .Endpoint(macA, Ipv4Address.Parse(A), n == 0 ? Location.Local(1) : Location.Remote(vtepA))
                    .Endpoint(macB, Ipv4Address.Parse(B), n == 1 ? Location.Local(1) : Location.Remote(vtepB));
                nodes[n].Holder.Publish(ForwardingSnapshot.Create(nodes[n].Vtep, [b.Build()],
                    [new PortState(1, "vm", 7001, n == 0 ? macA : macB, Ipv4Address.Parse(n == 0 ? A : B), true, 0, portCounters[n])]));
            }
            var options = new EngineOptions { Cpu = o.DataplaneCpus[0], UnderlayMtu = mtu + 50 };
            if (busyPollUs is { } us) options = options with { BusyPollMicroseconds = us };
            if (spinPolls is { } sp) options = options with { SpinPolls = sp };
            // --no-yield: a polling engine keeps its core (fabric.dataplane.busy-poll-yield = off).
            if (o.NoYield) options = options with { BusyPollYield = false };
            // Each underlay socket is opened inside its host namespace (a socket keeps the namespace it was made in); one
            // thread is one engine and one socket as the node runs it (fabric.dataplane.threads = 1).
            using var eA = InNamespace(hA, () => DataplaneGroup.Create(nodes[0].Holder, vtepA, new UnderlayOptions(), options, threads));
            using var eB = InNamespace(hB, () => DataplaneGroup.Create(nodes[1].Holder, vtepB, new UnderlayOptions(), options with { Cpu = o.DataplaneCpus[^1] }, threads));
            if (eA.Threads != threads) Console.WriteLine($"  asked for {threads} dataplane threads, running {eA.Threads}");
            eA.Start();
            eB.Start();
            eA.AddPortAsync(TapPort.Create(1, new TapSettings($"fbt{tag}a", macA, Ipv4Address.Parse(A), 24, prefix.FirstHost, nsA, mtu, Queues: eA.Threads))).Wait();
            eB.AddPortAsync(TapPort.Create(1, new TapSettings($"fbt{tag}b", macB, Ipv4Address.Parse(B), 24, prefix.FirstHost, nsB, mtu, Queues: eB.Threads))).Wait();
            // --no-merge: node B takes a GRO read's datagrams one by one and coalesces them at the TAP, as before the merge.
            if (!o.Merge) foreach (var u in eB.Underlays) u.MergeRuns = false;
            var result = Measure(nsA, nsB, o);
            var pa = portCounters[0];
            Console.WriteLine($"  node A read {pa.RxPackets:N0} frames from its TAP ({(pa.RxPackets == 0 ? 0 : pa.RxBytes / pa.RxPackets):N0} bytes each on average), " +
                $"sent {eA.Underlays.Sum(u => u.GsoSends):N0} UDP GSO sends; node B wrote {portCounters[1].TxPackets:N0} frames to its TAP");
            foreach (var (name, g) in new[] { ("A", eA), ("B", eB) })
                Console.WriteLine($"  node {name}: {g.Engines.Sum(e => e.Turns):N0} turns, {g.Engines.Sum(e => e.IdleSleeps):N0} sleeps, {g.Engines.Sum(e => e.Wakeups):N0} wake-ups by command, " +
                    $"{g.Underlays.Sum(u => u.Syscalls):N0} underlay system calls");
            Console.WriteLine($"  node B received {eB.Underlays.Sum(u => u.DatagramsReceived):N0} datagrams, {eB.Underlays.Sum(u => u.RunsMerged):N0} runs merged ({eB.Underlays.Sum(u => u.SegmentsMerged):N0} datagrams), {eB.Engines.Sum(e => e.PortTransmit.SuperFrames):N0} coalesced at the TAP");
            if (threads > 1)
                Console.WriteLine($"  packets per thread, node A: {string.Join(" / ", Enumerable.Range(0, eA.Threads).Select(k => eA.Counters.Lane(k).Packets))}, " +
                    $"node B: {string.Join(" / ", Enumerable.Range(0, eB.Threads).Select(k => eB.Counters.Lane(k).Packets))}");
            return result;
        }
        finally
        {
            foreach (var ns in new[] { hA, hB, nsA, nsB }) Sh("ip", "netns", "delete", ns);
        }
    }

    private static Result Kernel(string tag, Options o, int mtu)
    {
        var hA = $"kbh{tag}a";
        var hB = $"kbh{tag}b";
        var vA = $"kbv{tag}a";
        var vB = $"kbv{tag}b";
        try
        {
            Underlay(hA, hB, $"kb{tag}", mtu);
            foreach (var (host, vm, under, me, peer, ip, mac) in new[]
                     { (hA, vA, $"ukb{tag}a", UnderA, UnderB, A, "02:00:00:00:61:0a"), (hB, vB, $"ukb{tag}b", UnderB, UnderA, B, "02:00:00:00:61:14") })
            {
                Must("ip", "netns", "add", vm);
                Must("ip", "-n", vm, "link", "set", "lo", "up");
                // VM side: a veth into the host namespace, like a VM's tap/veth into the host's bridge.
                Must("ip", "-n", host, "link", "add", "vmport", "mtu", $"{mtu}", "type", "veth", "peer", "name", "eth0", "netns", vm, "mtu", $"{mtu}");
                Must("ip", "-n", vm, "link", "set", "eth0", "address", mac, "up");
                Must("ip", "-n", vm, "addr", "add", $"{ip}/24", "dev", "eth0");
                Must("ip", "-n", host, "link", "add", "br0", "type", "bridge");
                Must("ip", "-n", host, "link", "add", "vx0", "type", "vxlan", "id", "7001", "local", me, "remote", peer, "dstport", "4789", "dev", under);
                Must("ip", "-n", host, "link", "set", "vx0", "mtu", $"{mtu}", "master", "br0", "up");
                Must("ip", "-n", host, "link", "set", "vmport", "master", "br0", "up");
                Must("ip", "-n", host, "link", "set", "br0", "up");
            }
            return Measure(vA, vB, o);
        }
        finally
        {
            foreach (var ns in new[] { hA, hB, vA, vB }) Sh("ip", "netns", "delete", ns);
        }
    }

    private static Result Measure(string nsA, string nsB, Options o)
    {
        string[] pin = o.IperfCpu < 0 ? [] : ["taskset", "-c", o.IperfCpu.ToString(CultureInfo.InvariantCulture)];
        string[] InNs(string ns, params string[] cmd) => ["netns", "exec", ns, .. cmd];
        // Warm up the path (ARP, first-packet work) before the pings that count.
        Sh("ip", InNs(nsA, "ping", "-c", "5", "-i", "0.05", "-W", "2", B));
        var ping = Sh("ip", InNs(nsA, [.. pin, "ping", "-c", o.Pings.ToString(CultureInfo.InvariantCulture), "-i",
            o.PingInterval.ToString(CultureInfo.InvariantCulture), "-W", "2", B]));
        var rtts = ping.Output.Split('\n').Select(l => l.Split("time=")).Where(p => p.Length == 2)
            .Select(p => double.Parse(p[1].Split(' ')[0], CultureInfo.InvariantCulture)).Order().ToArray();
        Console.WriteLine($"  {nsA} → {nsB}: ping {rtts.Length}/{o.Pings} answered");
        double tcpBps = double.NaN, tcpCores = double.NaN, udpPps = double.NaN, udpLoss = double.NaN;
        if (o.Tcp)
        {
            var server = Process.Start(new ProcessStartInfo("ip", InNs(nsB, [.. pin, "iperf3", "-s", "-1", "--json"])) { RedirectStandardOutput = true })!;
            Thread.Sleep(300);
            var before = BusyJiffies();
            var sw = Stopwatch.StartNew();
            var tcp = Sh("ip", InNs(nsA, [.. pin, "iperf3", "-c", B, "-O", "1", "-t", o.Seconds.ToString(CultureInfo.InvariantCulture),
                "-P", o.Streams.ToString(CultureInfo.InvariantCulture), "--json"]));
            var busy = (BusyJiffies() - before) / 100.0; // USER_HZ
            tcpCores = busy / sw.Elapsed.TotalSeconds;
            server.WaitForExit(5000);
            try
            {
                using var t = JsonDocument.Parse(tcp.Output);
                tcpBps = t.RootElement.GetProperty("end").GetProperty("sum_received").GetProperty("bits_per_second").GetDouble();
            }
            catch (Exception e) { Console.WriteLine($"tcp: {e.Message}: {tcp.Output[..Math.Min(300, tcp.Output.Length)]}"); }
        }
        if (o.Udp)
        {
            var server = Process.Start(new ProcessStartInfo("ip", InNs(nsB, [.. pin, "iperf3", "-s", "-1", "--json"])) { RedirectStandardOutput = true })!;
            Thread.Sleep(300);
            Sh("ip", InNs(nsA, [.. pin, "iperf3", "-u", "-c", B, "-t", o.Seconds.ToString(CultureInfo.InvariantCulture), "-l", "64", "-b", "0",
                "-P", o.Streams.ToString(CultureInfo.InvariantCulture), "--json"]));
            var udpServer = server.StandardOutput.ReadToEnd();
            server.WaitForExit(5000);
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
        }
        return new Result(tcpBps / 1e9, tcpCores, udpPps, udpLoss, rtts.Length == 0 ? double.NaN : rtts[rtts.Length / 2]);
    }

    /// <summary>Busy jiffies of all cores: user, nice, system, irq, softirq, steal (not idle, not iowait).</summary>
    private static long BusyJiffies()
    {
        var f = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        long J(int i) => long.Parse(f[i], CultureInfo.InvariantCulture);
        return J(1) + J(2) + J(3) + J(6) + J(7) + J(8);
    }

    [DllImport("libc", SetLastError = true)] private static extern int setns(int fd, int nstype);
    private const int CloneNewNet = 0x40000000;

    /// <summary>Runs <paramref name="make"/> on a fresh thread that first entered the named network namespace.</summary>
    private static T InNamespace<T>(string ns, Func<T> make)
    {
        T result = default!;
        Exception? error = null;
        var t = new Thread(() =>
        {
            try
            {
                using var f = File.OpenHandle($"/var/run/netns/{ns}");
                if (setns((int)f.DangerousGetHandle(), CloneNewNet) != 0) throw new IOException($"setns {ns}: errno {Marshal.GetLastPInvokeError()}");
                result = make();
            }
            catch (Exception e) { error = e; }
        });
        t.Start();
        t.Join();
        if (error is not null) throw error;
        return result;
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
