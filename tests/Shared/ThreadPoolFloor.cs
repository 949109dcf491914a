using System.Runtime.CompilerServices;

namespace Fabric.Tests.Shared;

/// <summary>
/// Test hosts run several ActorSystems in one process and block pool threads by design (`ip`, `iperf3` and `ping` run
/// synchronously while a test polls). On two cores the pool starts with two workers, so two such waits starve every
/// in-process node's dispatchers until the pool injects threads (about one a second): heartbeats then arrive 2-4 s
/// late on all nodes at once and a TAP plugs in 4 s instead of 1 (CI, session 7). A node process never blocks its pool
/// this way; the test host gets the floor a blocking caller needs.
/// </summary>
internal static class ThreadPoolFloor
{
#pragma warning disable CA2255 // a test assembly, not a library: it must hold before the first test starts a node
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Raise()
    {
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, 32), Math.Max(io, 32));
    }
}
