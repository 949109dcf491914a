using Fabric.Dataplane.Events;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Tables;

namespace Fabric.Dataplane.Tests.Tables;

public class FdbTableTests
{
    private static readonly MacAddress A = MacAddress.Parse("02:00:00:00:00:0a"), B = MacAddress.Parse("02:00:00:00:00:0b");
    private static readonly VtepEndpoint V1 = new(Ipv4Address.Parse("192.0.2.1")), V2 = new(Ipv4Address.Parse("192.0.2.2"));

    [Fact]
    public void Learning_adds_refreshes_and_moves()
    {
        var t = new FdbTable();
        Assert.Equal(FdbUpdate.Added, t.Learn(A, Location.Local(1), 10));
        Assert.Equal(FdbUpdate.Refreshed, t.Learn(A, Location.Local(1), 20));
        Assert.Equal(FdbUpdate.Moved, t.Learn(A, Location.Remote(V1), 30));
        Assert.True(t.TryGet(A, out var e));
        Assert.Equal(Location.Remote(V1), e.Location);
        Assert.Equal(1, e.Sequence);
        Assert.Equal(EntrySource.Learned, e.Source);
    }

    [Fact]
    public void Capacity_is_a_hard_limit_per_vni_with_counted_refusals()
    {
        var t = new FdbTable(capacity: 2);
        t.Learn(A, Location.Local(1), 0);
        t.Learn(B, Location.Local(1), 0);
        Assert.Equal(FdbUpdate.RefusedFull, t.Learn(MacAddress.Parse("02:00:00:00:00:0c"), Location.Local(1), 0));
        Assert.Equal(FdbUpdate.RefusedFull, t.SetGossip(MacAddress.Parse("02:00:00:00:00:0d"), Location.Remote(V1), 1));
        Assert.Equal(2, t.RefusedFull);
        Assert.Equal(2, t.Count);
        Assert.True(t.Freeze().IsFull);
        Assert.Equal(FdbUpdate.Refreshed, t.Learn(A, Location.Local(1), 5)); // known entries still refresh
    }

    [Fact]
    public void Learned_entries_age_out_and_others_do_not()
    {
        var t = new FdbTable(agingMs: 100);
        t.Learn(A, Location.Local(1), 0);
        t.SetGossip(B, Location.Remote(V1), 1);
        t.SetConfigured(MacAddress.Parse("02:00:00:00:00:0c"), Location.Local(2), 0);
        Assert.Equal(0, t.Age(100));
        Assert.Equal(1, t.Age(101));
        Assert.False(t.TryGet(A, out _));
        Assert.Equal(2, t.Count);
    }

    [Fact]
    public void Gossip_obeys_the_mobility_sequence_highest_wins()
    {
        var t = new FdbTable();
        Assert.Equal(FdbUpdate.Added, t.SetGossip(A, Location.Remote(V1), 3));
        Assert.Equal(FdbUpdate.RefusedStale, t.SetGossip(A, Location.Remote(V2), 2));
        Assert.Equal(FdbUpdate.Moved, t.SetGossip(A, Location.Remote(V2), 4));
        Assert.Equal(FdbUpdate.Unchanged, t.SetGossip(A, Location.Remote(V2), 4));
    }

    [Fact]
    public void Configuration_is_never_displaced_by_learning_or_older_gossip()
    {
        var t = new FdbTable();
        t.SetConfigured(A, Location.Local(1), 5);
        Assert.Equal(FdbUpdate.RefusedConfigured, t.Learn(A, Location.Local(2), 0));
        Assert.Equal(FdbUpdate.RefusedConfigured, t.SetGossip(A, Location.Remote(V1), 5));
        Assert.Equal(FdbUpdate.Moved, t.SetGossip(A, Location.Remote(V1), 6)); // a newer move wins
    }

    [Fact]
    public void Withdrawing_a_vtep_removes_its_gossip_and_learned_entries()
    {
        var t = new FdbTable();
        t.SetGossip(A, Location.Remote(V1), 1);
        t.Learn(B, Location.Remote(V1), 0);
        t.SetGossip(MacAddress.Parse("02:00:00:00:00:0c"), Location.Remote(V2), 1);
        Assert.Equal(2, t.WithdrawVtep(V1));
        Assert.Equal(1, t.Count);
    }

    [Fact]
    public void Event_ring_is_bounded_and_counts_what_it_loses()
    {
        var ring = new EventRing(4);
        for (int i = 0; i < 6; i++) ring.TryWrite(new DataplaneEvent(DataplaneEventKind.MacLearned, i, default, default, default));
        Assert.Equal(2, ring.Lost);
        for (int i = 0; i < 4; i++)
        {
            Assert.True(ring.TryRead(out var e));
            Assert.Equal(i, e.Vni);
        }
        Assert.False(ring.TryRead(out _));
    }

    [Fact]
    public void Event_ring_delivers_everything_in_order_across_threads()
    {
        var ring = new EventRing(64);
        const int n = 200_000;
        var producer = new Thread(() =>
        {
            for (int i = 0; i < n; i++)
                while (!ring.TryWrite(new DataplaneEvent(DataplaneEventKind.MacLearned, i, default, default, default))) Thread.SpinWait(1);
        });
        producer.Start();
        var expected = 0;
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (expected < n && sw.Elapsed < TimeSpan.FromSeconds(20))
            if (ring.TryRead(out var e)) Assert.Equal(expected++, e.Vni);
        producer.Join();
        Assert.Equal(n, expected);
    }
}
