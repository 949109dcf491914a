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
    /// <summary>The core to pin the thread to; -1 leaves placement to the scheduler.</summary>
    public int Cpu { get; init; } = -1;
    /// <summary>
    /// How long epoll may sleep when idle. Only a safety net: the thread wakes at once on any descriptor, guest, command or
    /// stop (all signal the eventfd), so an idle node needs no periodic wake-up; 1 s instead of 100 ms saves 9 of them a
    /// second (issue 10: an idle node under 1 % of a core).
    /// </summary>
    public int IdleWaitMs { get; init; } = 1000;
    /// <summary>Empty polls before sleeping in epoll: spinning a little saves a wake-up under bursty load.</summary>
    public int SpinPolls { get; init; } = 64;
    public int EventQueueCapacity { get; init; } = 16384;
    public long LearnReportIntervalMs { get; init; } = 1000;
}
