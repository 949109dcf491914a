using BenchmarkDotNet.Attributes;

namespace Fabric.Benchmarks;

/// <summary>
/// Per-packet cost of the forwarding pipeline. Every benchmark handles one whole batch of 64 packets per invocation
/// (OperationsPerInvoke = 64), so Mean and Allocated are per packet. Each invocation refills the batch from a 64-byte
/// template (one memcpy per packet; that also resets the per-packet metadata and undoes in-place rewrites of the
/// previous pass), clears the transmit list, forwards, and drains the event ring. The Baseline_* rows measure the
/// refill alone, to subtract.
/// Each benchmark builds and verifies only its own scenario, so the JIT's profile of the shared pipeline nodes is
/// shaped by that scenario alone (BenchmarkDotNet runs every case in its own process).
/// </summary>
public class PipelineBenchmarks
{
    private const int Ops = Scenario.BatchSize;
    private Scenario _s = null!;

    private void Use(Func<Scenario> build)
    {
        _s = build();
        _s.Verify(); // throws unless each pass sends exactly what the name claims, drops nothing and raises no event
    }

    [GlobalSetup(Targets = [nameof(Baseline_CopyFramesOnly), nameof(L2KnownUnicastEncap)])]
    public void SetupL2Encap() => Use(Scenarios.L2KnownUnicastEncap);

    [GlobalSetup(Target = nameof(L2BumTo8Vteps))]
    public void SetupL2Bum() => Use(Scenarios.L2BumTo8Vteps);

    [GlobalSetup(Targets = [nameof(Baseline_CopyDatagramsOnly), nameof(DecapAndDeliver)])]
    public void SetupDecap() => Use(Scenarios.DecapAndDeliver);

    [GlobalSetup(Target = nameof(L3RoutedEncap10kRoutes))]
    public void SetupL3Routed() => Use(Scenarios.L3RoutedEncap10kRoutes);

    [GlobalSetup(Target = nameof(L3RoutedLeak28In10kRoutes))]
    public void SetupL3Leak() => Use(Scenarios.L3RoutedLeak28In10kRoutes);

    [GlobalSetup(Target = nameof(ProxyArpAnswer))]
    public void SetupProxyArp() => Use(Scenarios.ProxyArpAnswer);

    /// <summary>Refill only: 64 copies of a 64-byte frame from a port, metadata reset, tx cleared. No forwarding.</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int Baseline_CopyFramesOnly() => _s.Fill();

    /// <summary>Refill only for the decap case: 64 copies of a 72-byte VXLAN datagram from the underlay.</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int Baseline_CopyDatagramsOnly() => _s.Fill();

    [Benchmark(OperationsPerInvoke = Ops)]
    public int L2KnownUnicastEncap() => _s.Run();

    [Benchmark(OperationsPerInvoke = Ops)]
    public int L2BumTo8Vteps() => _s.Run();

    [Benchmark(OperationsPerInvoke = Ops)]
    public int DecapAndDeliver() => _s.Run();

    [Benchmark(OperationsPerInvoke = Ops)]
    public int L3RoutedEncap10kRoutes() => _s.Run();

    /// <summary>Extra: a destination in the hot /28 leak, resolved through all three levels of the trie.</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int L3RoutedLeak28In10kRoutes() => _s.Run();

    [Benchmark(OperationsPerInvoke = Ops)]
    public int ProxyArpAnswer() => _s.Run();
}
