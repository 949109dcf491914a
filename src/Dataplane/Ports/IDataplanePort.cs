using Fabric.Dataplane.Pipeline;

namespace Fabric.Dataplane.Ports;

/// <summary>
/// A local port as the dataplane thread sees it. Only that thread calls <see cref="Receive"/> and <see cref="Send"/>;
/// neither may block or allocate per frame.
/// </summary>
public interface IDataplanePort : IDisposable
{
    int Id { get; }
    string Name { get; }
    /// <summary>A file descriptor for epoll, or -1 for ports that wake the engine themselves (<see cref="Wake"/>).</summary>
    int PollFd { get; }
    /// <summary>Set by the engine: ports without a descriptor call it when they have frames to give.</summary>
    Action? Wake { get; set; }
    /// <summary>Moves up to <paramref name="max"/> ready frames into <paramref name="batch"/>; returns how many.</summary>
    int Receive(PacketBatch batch, int max);
    /// <summary>Sends one frame; false when the port could not take it (full, gone).</summary>
    bool Send(ReadOnlySpan<byte> frame);
}
