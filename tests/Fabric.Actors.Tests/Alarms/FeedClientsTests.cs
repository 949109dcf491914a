using System.Threading.Channels;
using Fabric.Actors.Feed;

namespace Fabric.Actors.Tests.Alarms;

public class FeedClientsTests
{
    [Fact]
    public async Task A_client_that_lets_its_queue_fill_is_dropped_and_the_others_keep_getting_events()
    {
        var clients = new FeedClients();
        var slow = Channel.CreateBounded<FeedEvent>(new BoundedChannelOptions(2) { FullMode = BoundedChannelFullMode.Wait });
        var fast = Channel.CreateBounded<FeedEvent>(new BoundedChannelOptions(2) { FullMode = BoundedChannelFullMode.Wait });
        var (slowId, fastId) = (Guid.NewGuid(), Guid.NewGuid());
        clients.Add(slowId, slow.Writer);
        clients.Add(fastId, fast.Writer);
        var dropped = 0;
        for (var i = 0; i < 5; i++)
        {
            dropped += clients.Broadcast(new FeedEvent("counters", i));
            while (fast.Reader.TryRead(out _)) { } // the fast client keeps up
        }
        Assert.Equal(1, dropped);
        Assert.Equal(1, clients.Count);
        // The slow one gets what was queued, then the end: nothing more is kept for it.
        Assert.Equal(2, slow.Reader.Count);
        await Assert.ThrowsAsync<SlowFeedClientException>(async () => { await foreach (var _ in slow.Reader.ReadAllAsync()) { } });
        Assert.True(clients.Send(fastId, new FeedEvent("hello", 0)));
    }

    [Fact]
    public void A_client_that_goes_away_is_closed()
    {
        var clients = new FeedClients();
        var c = Channel.CreateBounded<FeedEvent>(4);
        var id = Guid.NewGuid();
        clients.Add(id, c.Writer);
        Assert.True(clients.Remove(id));
        Assert.True(c.Reader.Completion.IsCompleted);
        Assert.Equal(0, clients.Broadcast(new FeedEvent("x", 1)));
    }
}
