namespace Fabric.Dataplane.Engine;

/// <summary>How the dataplane thread runs. Bound from HOCON (<c>fabric.dataplane</c>) by the node.</summary>
public sealed record EngineOptions
{
    /// <summary>Frames per batch (VPP's vector size).</summary>
    public int BatchSize { get; init; } = 64;
    /// <summary>Largest frame or datagram a slot holds.</summary>
    public int MaxFrame { get; init; } = 9216;
    /// <summary>
    /// Slots large enough for a TAP's GSO super-frames (64 KB; 4 MB of pinned buffer per engine at 64 slots), and
    /// coalescing of TCP segments towards TAPs. Off: TAPs get checksum offload only and frames go one by one.
    /// </summary>
    public bool Offloads { get; init; } = true;
    /// <summary>Transmit entries per batch (batch × fan-out).</summary>
    public int TxCapacity { get; init; } = 8192;
    /// <summary>
    /// Dataplane threads of a node (<see cref="DataplaneGroup"/>, <c>fabric.dataplane.threads</c>): 1 by default (on the
    /// 2-core test machine a second one bought nothing on the median: docs/benchmarks.md "One dataplane thread against two").
    /// </summary>
    public int Threads { get; init; } = 1;
    /// <summary>The core to pin the thread to; -1 leaves placement to the scheduler.</summary>
    public int Cpu { get; init; } = -1;
    /// <summary>
    /// How long epoll may sleep when idle. Only a safety net: the thread wakes at once on any descriptor, guest, command or
    /// stop (all signal the eventfd), so an idle node needs no periodic wake-up; 1 s instead of 100 ms saves 9 of them a
    /// second (issue 10: an idle node under 1 % of a core).
    /// </summary>
    public int IdleWaitMs { get; init; } = 1000;
    /// <summary>
    /// Empty polls (each with a short SpinWait) before sleeping in epoll. 0 by default: the 64 it used to be cost ping
    /// 0.43 against 0.18 ms median and bought no throughput (docs/benchmarks.md, issue 11: a spinning engine holds the
    /// core the other side of the exchange needs when they share one); <see cref="BusyPollMicroseconds"/> is the knob.
    /// </summary>
    public int SpinPolls { get; init; }
    /// <summary>
    /// How long the thread keeps polling after its last frame before it sleeps in epoll (µs; 0: sleep at once). A packet
    /// that arrives while it still polls is picked up without a wake-up; one that arrives later pays the wake-up. 200 by
    /// default (with <see cref="BusyPollYield"/>): under a TCP stream the threads then almost never sleep, so the senders
    /// stop paying a cross-core wake-up (on a VM an inter-processor interrupt, a VM exit) per exchange; single-stream TCP
    /// rose from 0.86 to 1.09 of the kernel's VXLAN on the test machine (docs/benchmarks.md, issue 11, session 10). An idle
    /// node spends nothing; sparse traffic at most 200 µs of polling per batch, given away to any thread that wants the core.
    /// </summary>
    public int BusyPollMicroseconds { get; init; } = 200;
    /// <summary>
    /// While the budget runs, give the core away on every empty poll (sched_yield) to any thread that wants it: a polling
    /// dataplane then never holds up a thread it shares its core with, such as the other side of an exchange (with both
    /// of the harness's engines on one core and a 1 s budget, ping 7.6 ms without, 0.20 ms with). Costs one system call
    /// per empty poll; off only for a dataplane thread with a core of its own (isolcpus), where nothing else would run.
    /// </summary>
    public bool BusyPollYield { get; init; } = true;
    /// <summary>
    /// The underlay's IP MTU: an outer datagram (inner frame + 36 bytes of outer IPv4, UDP and VXLAN) larger than this
    /// is not sent (TooBig; an l3 network answers with ICMP fragmentation needed). 0: not checked.
    /// </summary>
    public int UnderlayMtu { get; init; }
    /// <summary>Dropped packets kept per reason for <c>GET /api/v1/nodes/{node}/drops</c>; 0: sampling off.</summary>
    public int DropSamplesPerReason { get; init; }
    public int EventQueueCapacity { get; init; } = 16384;
    public long LearnReportIntervalMs { get; init; } = 1000;
}
