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
// dotnet run -c Release -- --scale [--endpoints N] [--networks M] [--nodes 3] [--concurrency C] [--minutes 10] [--out docs/scale.md]
//   real `fabric up` processes driven through the HTTP API until a node falls over or the budget is spent (issue 10)
if (args.Contains("--scale")) return await ScaleHarness.Run(args);
// dotnet run -c Release -- --frame-sizes   serialized size of the configuration listing against Akka.Remote's frame limit
if (args.Contains("--frame-sizes")) return FrameSizes.Run(args);
// dotnet run -c Release -- --replication [--endpoints 100000] [--networks 1000] [--nodes 3]   the singleton's work per change, in process
if (args.Contains("--replication")) return ReplicationCost.Run(args);
// --idle-cpu [--seconds 60] [-- fabric up args] / --fd-probe crash|stop|burn / --frame-time: idle CPU per node and thread;
//   failure-detector figures; how long a 2 MB message holds an association
if (args.Contains("--idle-cpu")) return await IdleCpu.Run(args);
if (args.Contains("--fd-probe")) return await FailureDetectorProbe.Run(args);
if (args.Contains("--frame-time")) return await FrameTime.Run(args);

// dotnet run -c Release -- --memory [--sizes 1000,10000,100000]   bytes per endpoint and per network in each structure
if (args.Contains("--memory")) return MemoryHarness.Run(args);
BenchmarkSwitcher.FromAssembly(typeof(PipelineBenchmarks).Assembly).Run(args, new BenchConfig());
return 0;
