using System.Threading.Channels;

namespace Fabric.Actors.Feed;

/// <summary>
/// The clients of one event feed and their bounded queues: an event goes to every queue; a client whose queue is full
/// is dropped there and then (its queue closed with <see cref="SlowFeedClientException"/>), never buffered for. Plain
/// logic under <see cref="EventFeedActor"/>, tested without it.
/// </summary>
public sealed class FeedClients
{
    private readonly Dictionary<Guid, ChannelWriter<FeedEvent>> _clients = new();

    public int Count => _clients.Count;

    public void Add(Guid id, ChannelWriter<FeedEvent> writer) => _clients[id] = writer;

    /// <summary>Removes a client that went away; its queue is closed.</summary>
    public bool Remove(Guid id)
    {
        if (!_clients.Remove(id, out var w)) return false;
        w.TryComplete();
        return true;
    }

    /// <summary>Sends to one client; false when it was dropped (its queue was full).</summary>
    public bool Send(Guid id, FeedEvent e)
    {
        if (!_clients.TryGetValue(id, out var w)) return false;
        if (w.TryWrite(e)) return true;
        w.TryComplete(new SlowFeedClientException());
        _clients.Remove(id);
        return false;
    }

    /// <summary>Sends to every client: O(clients); returns how many were dropped.</summary>
    public int Broadcast(FeedEvent e)
    {
        var dropped = 0;
        foreach (var id in _clients.Keys.ToArray())
            if (!Send(id, e)) dropped++;
        return dropped;
    }

    public void CloseAll()
    {
        foreach (var w in _clients.Values) w.TryComplete();
        _clients.Clear();
    }
}
