using Fabric.Dataplane.Pipeline;

namespace Fabric.Dataplane.Ports.Guest;

/// <summary>An in-memory port with a <see cref="GuestMachine"/> behind it. No descriptor: the guest wakes the engine.</summary>
public sealed class GuestPort : IDataplanePort
{
    public GuestPort(int id, string name, GuestMachine guest)
    {
        Id = id; Name = name; Guest = guest;
        guest.Wake = () => Wake?.Invoke();
    }

    public int Id { get; }
    public string Name { get; }
    public GuestMachine Guest { get; }
    public int PollFd => -1;
    public Action? Wake { get; set; }

    public int Receive(PacketBatch batch, int max)
    {
        var n = 0;
        while (n < max && !batch.IsFull && Guest.TryDequeue(out var frame))
        {
            if (batch.AddFromPort(Id, frame)) n++;
        }
        return n;
    }

    public bool Send(ReadOnlySpan<byte> frame)
    {
        Guest.Receive(frame);
        return true;
    }

    public void Dispose() => Guest.Wake = null;
}
