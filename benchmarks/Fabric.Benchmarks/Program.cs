using BenchmarkDotNet.Running;
using Fabric.Benchmarks;

// dotnet run -c Release -- --filter '*' [--job short]   BenchmarkDotNet, per-packet Mean and Allocated
// dotnet run -c Release -- --pps [--seconds 2]          quick packets-per-second check, no BenchmarkDotNet
// dotnet run -c Release -- --convergence [--moves 1000]  control-plane convergence over a 3-node in-process cluster
if (args.Contains("--pps")) return PpsHarness.Run(args);
if (args.Contains("--convergence")) return await ConvergenceHarness.Run(args);
// dotnet run -c Release -- --throughput [--seconds 5]   (root) iperf3/ping through Fabric and through kernel VXLAN
if (args.Contains("--throughput")) return ThroughputHarness.Run(args);
// dotnet run -c Release -- --guest-ping [--count 1000]   guest-to-guest round trips across two engines
if (args.Contains("--guest-ping")) return await GuestPingHarness.Run(args);
BenchmarkSwitcher.FromAssembly(typeof(PipelineBenchmarks).Assembly).Run(args, new BenchConfig());
return 0;
