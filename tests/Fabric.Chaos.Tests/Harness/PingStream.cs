using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Fabric.Nodes.Cli;

namespace Fabric.Chaos.Tests.Harness;

/// <summary>
/// Steady traffic between two VMs: the real <c>ping</c> in one VM's namespace, every <see cref="Interval"/>, for as
/// long as a fault lasts. What came back (sequence number and arrival time) tells how many echoes were lost and
/// how long the longest silence was.
/// </summary>
public sealed partial class PingStream : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<(int Seq, DateTime At)> _replies = [];
    private readonly List<double> _rttMs = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly DateTime _started = DateTime.UtcNow;

    public string Namespace { get; }
    public string Target { get; }
    public TimeSpan Interval { get; }

    private PingStream(Process process, string ns, string target, TimeSpan interval)
    {
        _process = process;
        Namespace = ns;
        Target = target;
        Interval = interval;
    }

    public static PingStream Start(string ns, string target, TimeSpan? interval = null)
    {
        var every = interval ?? TimeSpan.FromMilliseconds(20);
        var psi = new ProcessStartInfo(Netns.FindIp() ?? "ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "netns", "exec", ns, Tools.Find("ping") ?? "ping", "-n", "-D", "-O", "-W", "1",
                     "-i", (every.TotalSeconds).ToString("0.###", CultureInfo.InvariantCulture), target })
            psi.ArgumentList.Add(a);
        var p = Process.Start(psi) ?? throw new InvalidOperationException("ping did not start");
        var stream = new PingStream(p, ns, target, every);
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) stream.OnLine(e.Data); };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return stream;
    }

    private void OnLine(string line)
    {
        lock (_replies)
        {
            if (Reply().Match(line) is { Success: true } m && !line.Contains("DUP!", StringComparison.Ordinal))
            {
                var seq = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
                _replies.Add((seq, DateTime.UtcNow));
                if (Rtt().Match(line) is { Success: true } t) _rttMs.Add(double.Parse(t.Groups[1].Value, CultureInfo.InvariantCulture));
            }
        }
    }

    /// <summary>Replies so far.</summary>
    public int Received { get { lock (_replies) return _replies.Count; } }

    /// <summary>Waits until at least <paramref name="count"/> more replies have arrived (traffic flows), or fails.</summary>
    public async Task WaitFlowingAsync(int count = 10, TimeSpan? timeout = null)
    {
        var start = Received;
        var deadline = Stopwatch.StartNew();
        while (Received - start < count)
        {
            if (deadline.Elapsed > (timeout ?? TimeSpan.FromSeconds(30)))
                throw new Xunit.Sdk.XunitException($"ping {Namespace} → {Target}: {Received - start} replies in {deadline.Elapsed.TotalSeconds:0} s, wanted {count}");
            await Task.Delay(50);
        }
    }

    /// <summary>Stops ping (SIGINT, so it prints its summary) and says what happened.</summary>
    public async Task<PingStats> StopAsync()
    {
        if (!_process.HasExited)
        {
            Shell.Signal(_process.Id, 2); // SIGINT: ping stops like after Ctrl-C
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try { await _process.WaitForExitAsync(wait.Token); }
            catch (OperationCanceledException) { _process.Kill(); }
        }
        lock (_replies)
        {
            // Echoes after the last reply may still be in flight when ping stops: count losses up to the last reply
            // (a silence at the very end shows in the longest silence instead).
            var lastAnswered = _replies.Count == 0 ? 0 : _replies.Max(r => r.Seq);
            var sent = Math.Max(1, lastAnswered);
            var received = _replies.Select(r => r.Seq).Distinct().Count();
            var maxGap = TimeSpan.Zero;
            var previous = _started;
            foreach (var (_, at) in _replies.OrderBy(r => r.At).Append((0, DateTime.UtcNow)))
            {
                if (at - previous > maxGap) maxGap = at - previous;
                previous = at;
            }
            var elapsed = _clock.Elapsed;
            var rtts = _rttMs.Order().ToArray();
            var median = rtts.Length == 0 ? double.NaN : rtts[rtts.Length / 2];
            return new PingStats(sent, received, Math.Max(0, sent - received), maxGap, elapsed, Interval) { MedianRttMs = median };
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            try { await _process.WaitForExitAsync(); } catch (InvalidOperationException) { }
        }
        _process.Dispose();
    }

    [GeneratedRegex(@"bytes from .*icmp_seq=(\d+)")]
    private static partial Regex Reply();

    [GeneratedRegex(@"time=([0-9.]+) ms")]
    private static partial Regex Rtt();

}

/// <summary>What a ping stream saw: echoes sent, answered, lost, and the longest silence between two replies.</summary>
public sealed record PingStats(int Sent, int Received, int Lost, TimeSpan LongestSilence, TimeSpan Duration, TimeSpan Interval)
{
    public double LossPercent => Sent == 0 ? 0 : 100.0 * Lost / Sent;
    public double MedianRttMs { get; init; } = double.NaN;

    public override string ToString()
        => FormattableString.Invariant($"{Sent} sent, {Received} received, {Lost} lost ({LossPercent:0.##} %), median RTT {MedianRttMs:0.###} ms, longest silence {LongestSilence.TotalMilliseconds:0} ms over {Duration.TotalSeconds:0.0} s");
}
