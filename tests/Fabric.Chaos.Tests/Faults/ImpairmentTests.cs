using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Fabric.Chaos.Tests.Harness;
using Xunit.Abstractions;

namespace Fabric.Chaos.Tests.Faults;

/// <summary>
/// The userspace netem on its own: two namespaces joined by a veth pair, <c>ping</c> from one to the other with and
/// without an <see cref="Impairment"/> on the first one's egress. Measured numbers are printed.
/// </summary>
/// <remarks>
/// A delay is checked against a baseline measured in the same run and with bounds a loaded 2-core machine does not
/// reach by itself: an impairment never delivers early, so the lower bounds are tight; the upper bounds leave room for
/// scheduling stalls but not for the delay applied twice. Loss is checked with a binomial bound.
/// </remarks>
public sealed partial class ImpairmentTests(ITestOutputHelper output)
{
    private const string A = "chaos-imp-a", B = "chaos-imp-b";
    private const string AddressA = "10.251.0.1", AddressB = "10.251.0.2", AddressB2 = "10.251.0.3";

    [ChaosFact("ping", "iptables")]
    public void Loss_drops_about_the_configured_fraction()
    {
        using var net = new Topology();
        var baseline = Ping(AddressB);
        Report("no impairment", baseline);
        Assert.Equal(0, baseline.Transmitted - baseline.Received);

        using var impairment = Impairment.Start(A, new ImpairmentSettings { Loss = 0.10, Seed = 1 });
        var lossy = Ping(AddressB, count: 500);
        Report($"{impairment.Settings}", lossy, impairment);
        // Binomial(500, 0.1): mean 50, σ 6.7; 4.5 σ either side is 20..80 (4 %..16 %): no loss, or twice the loss, fails.
        var (low, high) = BinomialBounds(lossy.Transmitted, 0.10);
        Assert.InRange(lossy.Transmitted - lossy.Received, low, high);
        Assert.Equal(lossy.Transmitted, impairment.Counters.Seen);
        Assert.Equal(lossy.Transmitted - lossy.Received, impairment.Counters.Dropped);
    }

    [ChaosFact("ping", "iptables")]
    public void Delay_adds_its_mean_to_the_round_trip()
    {
        using var net = new Topology();
        var baseline = Ping(AddressB);
        Report("no impairment", baseline);

        using var impairment = Impairment.Start(A, new ImpairmentSettings { Delay = TimeSpan.FromMilliseconds(30), Jitter = TimeSpan.FromMilliseconds(10) });
        var delayed = Ping(AddressB);
        Report($"{impairment.Settings}", delayed, impairment);
        var added = delayed.MedianRttMs - baseline.MedianRttMs;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"median RTT added: {added:0.00} ms (min {delayed.MinRttMs:0.00}, max {delayed.MaxRttMs:0.00})"));
        Assert.Equal(0, delayed.Transmitted - delayed.Received);
        // Uniform 20..40 ms one way: the median adds 30 ms. Below 26 the delay is short or missing; 50 allows for
        // stalls of a loaded machine but not for the delay applied twice (60).
        Assert.InRange(added, 26.0, 50.0);
        // Never early: no echo comes back faster than the shortest delay (20 ms, less 1 ms of timer granularity).
        Assert.True(delayed.MinRttMs >= 19.0, $"min RTT {delayed.MinRttMs} ms under a 20..40 ms delay");
        // The jitter spreads the delays: 10th to 90th percentile of uniform 20..40 ms is 16 ms; without jitter it is
        // what the machine adds (baseline spread), well under 8.
        var spread = Percentile(delayed, 0.9) - Percentile(delayed, 0.1);
        var baselineSpread = Percentile(baseline, 0.9) - Percentile(baseline, 0.1);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"10th..90th percentile spread: {spread:0.00} ms (baseline {baselineSpread:0.00} ms)"));
        Assert.True(spread >= 8.0 + baselineSpread / 2, $"RTTs spread over {spread:0.00} ms (baseline {baselineSpread:0.00} ms): the jitter did not apply");
    }

    [ChaosFact("ping", "iptables")]
    public void Jitter_beyond_the_packet_gap_reorders()
    {
        using var net = new Topology();
        var baseline = Ping(AddressB);
        Report("no impairment", baseline);
        Assert.Equal(0, baseline.OutOfOrder);

        // 10 ms between packets, delays spread over 10..50 ms: later packets often overtake earlier ones.
        using (var jitter = Impairment.Start(A, new ImpairmentSettings { Delay = TimeSpan.FromMilliseconds(30), Jitter = TimeSpan.FromMilliseconds(20), Seed = 2 }))
        {
            var r = Ping(AddressB);
            Report($"{jitter.Settings}", r, jitter);
            Assert.True(r.OutOfOrder > 10, $"only {r.OutOfOrder} replies arrived out of icmp_seq order");
            if (!jitter.UsesNetem) Assert.True(jitter.Counters.Reordered > 10);
        }

        // Explicit: no jitter, but a fifth of the packets are held 40 ms longer than the rest.
        using (var explicitly = Impairment.Start(A, new ImpairmentSettings
        {
            Delay = TimeSpan.FromMilliseconds(5), Reorder = 0.2, ReorderExtra = TimeSpan.FromMilliseconds(40), Seed = 3,
        }))
        {
            var r = Ping(AddressB);
            Report($"{explicitly.Settings}", r, explicitly);
            Assert.True(r.OutOfOrder > 10, $"only {r.OutOfOrder} replies arrived out of icmp_seq order");
            Assert.Equal(0, r.Transmitted - r.Received);
        }
    }

    [ChaosFact("ping", "iptables")]
    public void Excluded_destinations_are_left_alone()
    {
        using var net = new Topology();
        using var impairment = Impairment.Start(A, new ImpairmentSettings { Loss = 1.0 }, exclude: [AddressB2 + "/32"]);
        var excluded = Ping(AddressB2, count: 50);
        Report($"to {AddressB2} (excluded), {impairment.Settings}", excluded, impairment);
        var impaired = Ping(AddressB, count: 50);
        Report($"to {AddressB}, {impairment.Settings}", impaired, impairment);
        Assert.Equal(50, excluded.Received);
        Assert.Equal(0, impaired.Received);
        Assert.Equal(50, impairment.Counters.Dropped);
    }

    [ChaosFact("ping", "iptables")]
    public void Dispose_removes_the_rule_and_the_round_trip_recovers()
    {
        using var net = new Topology();
        var baseline = Ping(AddressB);
        Report("no impairment", baseline);

        var impairment = Impairment.Start(A, new ImpairmentSettings { Loss = 0.2, Delay = TimeSpan.FromMilliseconds(30), Jitter = TimeSpan.FromMilliseconds(5) });
        Assert.NotEmpty(Impairment.RulesIn(A));
        foreach (var rule in Impairment.RulesIn(A)) output.WriteLine($"rule: {rule}");
        var during = Ping(AddressB, count: 100);
        Report($"{impairment.Settings}", during, impairment);
        Assert.True(during.MedianRttMs > baseline.MedianRttMs + 20);
        impairment.Dispose();
        impairment.Dispose(); // idempotent

        Assert.Empty(Impairment.RulesIn(A));
        var after = Ping(AddressB);
        Report("after Dispose", after);
        Assert.Equal(0, after.Transmitted - after.Received);
        // The impairment added at least 25 ms; what is left after Dispose must be far below that.
        Assert.True(after.MedianRttMs < baseline.MedianRttMs + 10, $"median RTT {after.MedianRttMs} ms after Dispose, {baseline.MedianRttMs} ms before");
        Assert.Equal(after.Transmitted, after.Received);
    }

    [ChaosFact("ping", "iptables")]
    public void A_dead_handler_does_not_black_hole_the_traffic()
    {
        using var net = new Topology();
        using var impairment = Impairment.Start(A, new ImpairmentSettings { Delay = TimeSpan.FromMilliseconds(20) }, backend: ImpairmentBackend.Nfqueue);
        var before = Ping(AddressB, count: 50);
        Report($"{impairment.Settings}", before, impairment);
        Assert.True(before.MedianRttMs > 15);

        impairment.SimulateHandlerDeath();
        Assert.NotEmpty(Impairment.RulesIn(A)); // the rule is still there, nobody listens on its queue
        var after = Ping(AddressB, count: 50);
        Report("rule left, handler gone", after, impairment);
        Assert.Equal(50, after.Received);
        Assert.True(after.MedianRttMs < 10, $"median RTT {after.MedianRttMs} ms with the handler gone: still delayed by 20 ms?"); // half the delay

        impairment.Dispose();
        Assert.Empty(Impairment.RulesIn(A));
    }

    [ChaosFact("ping", "iptables", "tc")]
    public void Netem_is_preferred_when_the_kernel_has_it_and_NFQUEUE_stands_in_when_not()
    {
        using var net = new Topology();
        output.WriteLine($"kernel netem available: {Impairment.NetemAvailable}");
        var baseline = Ping(AddressB, count: 50);
        Report("no impairment", baseline);
        var settings = new ImpairmentSettings { Delay = TimeSpan.FromMilliseconds(20) };
        using (var auto = Impairment.Start(A, settings))
        {
            output.WriteLine($"Auto chose: {auto.Backend}");
            Assert.Equal(Impairment.NetemAvailable, auto.UsesNetem);
            var r = Ping(AddressB, count: 50);
            Report($"{auto.Settings}", r, auto);
            // 20 ms added: never less; up to 15 ms more for a loaded machine, short of the delay applied twice.
            Assert.InRange(r.MedianRttMs - baseline.MedianRttMs, 19.0, 35.0);
        }
        if (!Impairment.NetemAvailable)
        {
            var e = Assert.Throws<InvalidOperationException>(() => Impairment.Start(A, settings, backend: ImpairmentBackend.Netem));
            output.WriteLine($"forcing netem: {e.Message}");
        }
        Assert.Empty(Impairment.RulesIn(A));
        Assert.DoesNotContain("netem", Topology.Ip(["netns", "exec", A, Tools.Find("tc")!, "qdisc", "show", "dev", "eth0"]).Output);
    }

    [Fact]
    public void Netem_parameters_follow_the_settings()
    {
        Assert.Equal(["limit", "100000", "delay", "30000us", "10000us", "loss", "10%"],
            Impairment.NetemParameters(new ImpairmentSettings { Loss = 0.1, Delay = TimeSpan.FromMilliseconds(30), Jitter = TimeSpan.FromMilliseconds(10) }));
        Assert.Equal(["limit", "100000", "delay", "45000us", "reorder", "80%"],
            Impairment.NetemParameters(new ImpairmentSettings { Delay = TimeSpan.FromMilliseconds(5), Reorder = 0.2, ReorderExtra = TimeSpan.FromMilliseconds(40) }));
        Assert.Equal(["limit", "100000"], Impairment.NetemParameters(new ImpairmentSettings()));
    }

    // ---- helpers ----

    private sealed record PingResult(int Transmitted, int Received, IReadOnlyList<(int Seq, double RttMs)> Replies)
    {
        public double LossPercent => Transmitted == 0 ? 0 : 100.0 * (Transmitted - Received) / Transmitted;
        public double MedianRttMs => Replies.Count == 0 ? double.NaN : Replies.Select(r => r.RttMs).Order().ElementAt(Replies.Count / 2);
        public double MinRttMs => Replies.Count == 0 ? double.NaN : Replies.Min(r => r.RttMs);
        public double MaxRttMs => Replies.Count == 0 ? double.NaN : Replies.Max(r => r.RttMs);

        /// <summary>Replies that arrived after one with a higher icmp_seq.</summary>
        public int OutOfOrder
        {
            get
            {
                int highest = -1, late = 0;
                foreach (var (seq, _) in Replies)
                {
                    if (seq < highest) late++;
                    highest = Math.Max(highest, seq);
                }
                return late;
            }
        }
    }

    /// <summary>Losses out of <paramref name="n"/> at rate <paramref name="p"/> that a working impairment stays within
    /// (4.5 σ either side: a false alarm about once in 150,000 runs).</summary>
    private static (int Low, int High) BinomialBounds(int n, double p)
    {
        var sigma = Math.Sqrt(n * p * (1 - p));
        return ((int)Math.Floor(n * p - 4.5 * sigma), (int)Math.Ceiling(n * p + 4.5 * sigma));
    }

    private static double Percentile(PingResult r, double q)
        => r.Replies.Select(x => x.RttMs).Order().ElementAt(Math.Min(r.Replies.Count - 1, (int)(r.Replies.Count * q)));

    private void Report(string what, PingResult r, Impairment? impairment = null)
    {
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{what}: {r.Transmitted} sent, {r.Received} received, loss {r.LossPercent:0.0} %, RTT median {r.MedianRttMs:0.000} ms (min {r.MinRttMs:0.000}, max {r.MaxRttMs:0.000}), {r.OutOfOrder} out of order"));
        if (impairment is not null) output.WriteLine($"  impairment ({impairment.Backend}, queue {impairment.QueueNumber}): {impairment.Counters}");
    }

    /// <summary><c>ping</c> from namespace A, 100 a second; replies in the order they arrived.</summary>
    private static PingResult Ping(string target, int count = 300)
    {
        var (_, text) = Topology.Ip(["netns", "exec", A, Tools.Find("ping")!, "-n", "-i", "0.01", "-c", count.ToString(CultureInfo.InvariantCulture), "-W", "1", target]);
        var replies = Reply().Matches(text)
            .Select(m => (int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture))).ToList();
        var summary = Summary().Match(text);
        Assert.True(summary.Success, $"no ping summary in: {text}");
        return new PingResult(int.Parse(summary.Groups[1].Value, CultureInfo.InvariantCulture), int.Parse(summary.Groups[2].Value, CultureInfo.InvariantCulture), replies);
    }

    [GeneratedRegex(@"icmp_seq=(\d+) ttl=\d+ time=([0-9.]+) ms")]
    private static partial Regex Reply();

    [GeneratedRegex(@"(\d+) packets transmitted, (\d+) received")]
    private static partial Regex Summary();

    /// <summary>chaos-imp-a (eth0, 10.251.0.1) — veth — chaos-imp-b (eth0, 10.251.0.2 and .3); removed on Dispose.</summary>
    private sealed class Topology : IDisposable
    {
        public Topology()
        {
            Remove(); // whatever a killed run left
            try
            {
                string[][] commands =
                [
                    ["netns", "add", A],
                    ["netns", "add", B],
                    ["link", "add", "chaos-imp-va", "netns", A, "type", "veth", "peer", "name", "chaos-imp-vb", "netns", B],
                    ["-n", A, "link", "set", "chaos-imp-va", "name", "eth0"],
                    ["-n", B, "link", "set", "chaos-imp-vb", "name", "eth0"],
                    ["-n", A, "addr", "add", AddressA + "/24", "dev", "eth0"],
                    ["-n", B, "addr", "add", AddressB + "/24", "dev", "eth0"],
                    ["-n", B, "addr", "add", AddressB2 + "/24", "dev", "eth0"],
                    ["-n", A, "link", "set", "eth0", "up"],
                    ["-n", B, "link", "set", "eth0", "up"],
                    ["-n", A, "link", "set", "lo", "up"],
                    ["-n", B, "link", "set", "lo", "up"],
                ];
                foreach (var c in commands)
                {
                    var (code, text) = Ip(c);
                    if (code != 0) throw new InvalidOperationException($"`ip {string.Join(' ', c)}` failed: {text}");
                }
                // Resolve the neighbour before measuring, so the first ping's ARP does not count.
                Ip(["netns", "exec", A, Tools.Find("ping")!, "-n", "-c", "1", "-W", "1", AddressB]);
            }
            catch
            {
                Remove();
                throw;
            }
        }

        public void Dispose() => Remove();

        private static void Remove()
        {
            foreach (var ns in new[] { A, B })
            {
                Impairment.RemoveLeftovers(ns);
                Ip(["netns", "del", ns]);
            }
        }

        public static (int ExitCode, string Output) Ip(string[] args)
        {
            var psi = new ProcessStartInfo(Tools.Find("ip") ?? "ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in args) psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            var stderr = p.StandardError.ReadToEndAsync();
            var stdout = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, stdout + stderr.Result);
        }
    }
}
