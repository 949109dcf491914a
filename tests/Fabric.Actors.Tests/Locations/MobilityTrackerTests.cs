using Fabric.Actors.Locations;

namespace Fabric.Actors.Tests.Locations;

public class MobilityTrackerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 26, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Five_moves_within_180_seconds_are_allowed()
    {
        var t = new MobilityTracker();
        for (int i = 0; i < 5; i++) Assert.Equal(MoveVerdict.Allowed, t.Observe("5001/m", T0.AddSeconds(i * 30)));
    }

    [Fact]
    public void The_sixth_move_within_180_seconds_freezes_the_entry()
    {
        var t = new MobilityTracker();
        for (int i = 0; i < 5; i++) t.Observe("k", T0.AddSeconds(i * 10));
        Assert.Equal(MoveVerdict.FreezesNow, t.Observe("k", T0.AddSeconds(60)));
        Assert.True(t.IsFrozen("k", T0.AddSeconds(61)));
        Assert.Equal(MoveVerdict.Frozen, t.Observe("k", T0.AddHours(1)));
    }

    [Fact]
    public void Moves_older_than_the_window_do_not_count()
    {
        var t = new MobilityTracker();
        for (int i = 0; i < 5; i++) t.Observe("k", T0.AddSeconds(i));
        Assert.Equal(MoveVerdict.Allowed, t.Observe("k", T0.AddSeconds(200)));
    }

    [Fact]
    public void Keys_are_independent_and_an_operator_can_clear_a_freeze()
    {
        var t = new MobilityTracker(maxMoves: 1);
        t.Observe("a", T0);
        Assert.Equal(MoveVerdict.FreezesNow, t.Observe("a", T0));
        Assert.Equal(MoveVerdict.Allowed, t.Observe("b", T0));
        t.Clear("a");
        Assert.False(t.IsFrozen("a", T0));
    }

    [Fact]
    public void A_hold_time_unfreezes_by_itself_when_configured()
    {
        var t = new MobilityTracker(maxMoves: 1, hold: TimeSpan.FromMinutes(10));
        t.Observe("a", T0);
        t.Observe("a", T0);
        Assert.True(t.IsFrozen("a", T0.AddMinutes(9)));
        Assert.False(t.IsFrozen("a", T0.AddMinutes(11)));
    }
}
