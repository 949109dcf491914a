using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Fabric.Chaos.Tests.Faults;

/// <summary>
/// The kernel's own netem, preferred when the kernel has it (this project's firecracker kernel does not, so this path
/// has not run here; any failure falls back to NFQUEUE under <see cref="ImpairmentBackend.Auto"/>). Without exclusions
/// netem is the interface's root qdisc; with them, a prio root sends everything to band 3 (netem) but u32 filters
/// send the excluded destinations to band 1 (untouched). Mapping: loss and delay ± uniform jitter as they are; an
/// explicit <see cref="ImpairmentSettings.Reorder"/> fraction becomes netem's <c>delay (Delay + ReorderExtra)
/// reorder (1 - Reorder)</c>: the fraction is held the whole time while the rest leave at once (so the rest lose the
/// base delay: netem cannot add extra delay to a fraction).
/// </summary>
public sealed partial class Impairment
{
    private static readonly Lazy<bool> NetemWorks = new(ProbeNetem);

    /// <summary>Whether <c>tc qdisc add ... netem</c> works here (tried on lo in a throwaway namespace).</summary>
    public static bool NetemAvailable => NetemWorks.Value;

    private static bool ProbeNetem()
    {
        if (Harness.Tools.Find("tc") is null) return false;
        var ns = $"chaos-imp-probe-{Environment.ProcessId}";
        if (Run("ip", ["netns", "add", ns]).ExitCode != 0) return false;
        try
        {
            return Run("ip", ["netns", "exec", ns, Harness.Tools.Find("tc")!, "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"]).ExitCode == 0;
        }
        finally
        {
            Run("ip", ["netns", "del", ns]);
        }
    }

    /// <summary>netem's parameters for these settings (pure).</summary>
    public static IReadOnlyList<string> NetemParameters(ImpairmentSettings s)
    {
        static string Us(TimeSpan t) => ((long)Math.Round(t.TotalMicroseconds)).ToString(CultureInfo.InvariantCulture) + "us";
        static string Pct(double p) => (p * 100).ToString("0.####", CultureInfo.InvariantCulture) + "%";
        List<string> p = ["limit", "100000"];
        var delay = s.Reorder > 0 ? s.Delay + s.ReorderExtra : s.Delay;
        if (delay > TimeSpan.Zero || s.Jitter > TimeSpan.Zero)
        {
            p.AddRange(["delay", Us(delay)]);
            if (s.Jitter > TimeSpan.Zero) p.Add(Us(s.Jitter));
        }
        if (s.Loss > 0) p.AddRange(["loss", Pct(s.Loss)]);
        if (s.Reorder > 0) p.AddRange(["reorder", Pct(1 - s.Reorder)]);
        return p;
    }

    /// <summary>Installs netem; null when it worked, else why not (and nothing is left).</summary>
    private string? TryInstallNetem()
    {
        List<string[]> commands = [];
        if (Exclude.Count == 0)
            commands.Add(["qdisc", "add", "dev", Interface, "root", "handle", "1:", "netem", .. NetemParameters(settings)]);
        else
        {
            commands.Add(["qdisc", "add", "dev", Interface, "root", "handle", "1:", "prio", "bands", "3", "priomap", .. Enumerable.Repeat("2", 16)]);
            commands.Add(["qdisc", "add", "dev", Interface, "parent", "1:3", "handle", "30:", "netem", .. NetemParameters(settings)]);
            foreach (var address in Exclude)
                commands.Add(["filter", "add", "dev", Interface, "parent", "1:", "protocol", "ip", "prio", "1", "u32", "match", "ip", "dst", address, "flowid", "1:1"]);
        }
        foreach (var c in commands)
        {
            var (code, text) = Tc(c);
            if (code != 0)
            {
                RemoveNetem();
                return $"`tc {string.Join(' ', c)}` failed: {text.Trim()}";
            }
        }
        return null;
    }

    private void ChangeNetem(ImpairmentSettings s)
    {
        string[] c = Exclude.Count == 0
            ? ["qdisc", "change", "dev", Interface, "root", "handle", "1:", "netem", .. NetemParameters(s)]
            : ["qdisc", "change", "dev", Interface, "parent", "1:3", "handle", "30:", "netem", .. NetemParameters(s)];
        var (code, text) = Tc(c);
        if (code != 0) throw new InvalidOperationException($"`tc {string.Join(' ', c)}` failed: {text.Trim()}");
    }

    private void RemoveNetem()
    {
        if (File.Exists(NetnsPath(Namespace))) Tc(["qdisc", "del", "dev", Interface, "root"]);
    }

    private ImpairmentCounters NetemCounters()
    {
        var (_, text) = Tc(["-s", "qdisc", "show", "dev", Interface]);
        long sent = 0, drops = 0;
        var m = NetemStats().Match(text);
        if (m.Success)
        {
            sent = long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            drops = long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
        }
        var s = settings;
        var max = (s.Reorder > 0 ? s.Delay + s.ReorderExtra : s.Delay) + s.Jitter;
        return new ImpairmentCounters(sent + drops, drops, sent, max > TimeSpan.Zero ? sent : 0, 0, 0, max, 0, 0);
    }

    [GeneratedRegex(@"qdisc netem [^\n]*\n\s*Sent \d+ bytes (\d+) pkt \(dropped (\d+)")]
    private static partial Regex NetemStats();

    private (int ExitCode, string Output) Tc(string[] args) => Run("ip", ["netns", "exec", Namespace, Harness.Tools.Find("tc") ?? "tc", .. args]);

    private static (int ExitCode, string Output) Run(string tool, string[] args)
    {
        var psi = new ProcessStartInfo(Harness.Tools.Find(tool) ?? tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not run {tool}");
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout + stderr.Result);
    }
}
