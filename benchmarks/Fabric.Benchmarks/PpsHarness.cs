using System.Diagnostics;
using System.Globalization;
using System.Reflection;

namespace Fabric.Benchmarks;

/// <summary>
/// <c>--pps [--seconds N] [--only NAME] [--isolated]</c>: a quick check without BenchmarkDotNet. Each scenario runs in a
/// tight loop on this one thread, first to warm up (tiered JIT), then for N seconds (default 2) of whole 64-packet
/// batches, split in 20 windows. Printed: packets per second and ns per packet over the whole run, the best window (the
/// least disturbed by other processes on a shared machine), the refill alone (to subtract), and
/// GC.GetAllocatedBytesForCurrentThread per packet over the whole run.
/// By default all scenarios share one process, so the JIT's profile-guided code for the pipeline nodes they share is
/// shaped by whichever scenario ran first (as on a node that carries mixed traffic). <c>--isolated</c> runs each scenario
/// in a child process of its own, as BenchmarkDotNet does; <c>--only</c> runs the scenarios whose name contains NAME.
/// </summary>
public static class PpsHarness
{
    private const int Windows = 20;

    public static int Run(string[] args)
    {
        var seconds = 2.0;
        var i = Array.IndexOf(args, "--seconds");
        if (i >= 0 && i + 1 < args.Length) seconds = double.Parse(args[i + 1], CultureInfo.InvariantCulture);
        var o = Array.IndexOf(args, "--only");
        var only = o >= 0 && o + 1 < args.Length ? args[o + 1] : null;
        var selected = Scenarios.Registry.Where(r => only is null || r.Name.Contains(only, StringComparison.OrdinalIgnoreCase)).ToList();

        if (!args.Contains("--no-header"))
        {
            Console.WriteLine($"Fabric pipeline --pps: {Environment.ProcessorCount} cores, .NET {Environment.Version}, " +
                $"{Scenario.BatchSize} packets/batch, {seconds:0.#} s per scenario on one thread, " +
                (args.Contains("--isolated") ? "each scenario in its own process" : "all scenarios in one process"));
            Console.WriteLine($"{"scenario",-28} {"Mpps",7} {"ns/pkt",8} {"best Mpps",10} {"best ns",8} {"refill ns",10} {"B/pkt",7} {"tx/pkt",7}");
        }
        if (args.Contains("--isolated"))
        {
            foreach (var (name, _) in selected)
            {
                var rc = RunChild(["--pps", "--no-header", "--only", name, "--seconds", seconds.ToString(CultureInfo.InvariantCulture)]);
                if (rc != 0) return rc;
            }
            return 0;
        }

        // Built and verified first: each pass sends exactly what the scenario claims, drops nothing, raises no event.
        var scenarios = selected.Select(r => r.Build()).ToList();
        foreach (var s in scenarios) s.Verify();
        foreach (var s in scenarios)
        {
            var fill = Measure(s, fillOnly: true, seconds / 4);
            var run = Measure(s, fillOnly: false, seconds);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{s.Name,-28} {1000 / run.Ns,7:0.00} {run.Ns,8:0.0} {1000 / run.BestNs,10:0.00} {run.BestNs,8:0.0} {fill.BestNs,10:0.0} {run.BytesPerPacket,7:0.000} {run.TxPerPacket,7:0.##}"));
        }
        return 0;
    }

    private static int RunChild(string[] args)
    {
        // Launched through the apphost (dotnet run) or as "dotnet Fabric.Benchmarks.dll".
        var host = Environment.ProcessPath ?? throw new InvalidOperationException("no process path");
        var psi = new ProcessStartInfo(host) { UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet") psi.ArgumentList.Add(Assembly.GetExecutingAssembly().Location);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var child = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {host}");
        child.WaitForExit();
        return child.ExitCode;
    }

    private readonly record struct Result(double Ns, double BestNs, double BytesPerPacket, double TxPerPacket);

    private static Result Measure(Scenario s, bool fillOnly, double seconds)
    {
        Loop(s, fillOnly, Math.Max(0.5, seconds / 2)); // warm-up: let tiered compilation settle
        var alloc0 = GC.GetAllocatedBytesForCurrentThread();
        var t0 = Stopwatch.GetTimestamp();
        long batches = 0, sink = 0;
        var best = double.MaxValue;
        for (int w = 0; w < Windows; w++)
        {
            var tw = Stopwatch.GetTimestamp();
            var (b, k) = Loop(s, fillOnly, seconds / Windows);
            best = Math.Min(best, Stopwatch.GetElapsedTime(tw).TotalNanoseconds / (b * (double)Scenario.BatchSize));
            batches += b;
            sink += k;
        }
        var elapsed = Stopwatch.GetElapsedTime(t0);
        var alloc = GC.GetAllocatedBytesForCurrentThread() - alloc0;
        var packets = (double)batches * Scenario.BatchSize;
        return new Result(elapsed.TotalNanoseconds / packets, best, alloc / packets, fillOnly ? 0 : sink / packets);
    }

    private static (long Batches, long Sink) Loop(Scenario s, bool fillOnly, double seconds)
    {
        var end = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
        long batches = 0, sink = 0;
        do
        {
            for (int k = 0; k < 64; k++) sink += fillOnly ? s.Fill() : s.Run();
            batches += 64;
        } while (Stopwatch.GetTimestamp() < end);
        return (batches, sink);
    }
}
