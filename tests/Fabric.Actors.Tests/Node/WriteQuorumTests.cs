using Akka.Actor;
using Akka.Cluster;
using Fabric.Actors.Node;

namespace Fabric.Actors.Tests.Node;

/// <summary>The write refusal mirrors Akka's keep-majority resolver, decided on this node's own view.</summary>
public class WriteQuorumTests
{
    private static QuorumMember M(string name, int port, MemberStatus status = MemberStatus.Up, bool reachable = true)
        => new(name, new Address("akka.tcp", "fabric", "127.0.0.1", port), status, reachable);

    private static WriteVerdict Decide(params QuorumMember[] members) => WriteQuorum.Decide("node-1", MemberStatus.Up, false, members);

    [Fact]
    public void All_reachable_or_a_majority_reachable_may_write()
    {
        Assert.True(Decide(M("node-1", 1), M("node-2", 2), M("node-3", 3)).IsAllowed);
        Assert.True(Decide(M("node-1", 1), M("node-2", 2), M("node-3", 3, reachable: false)).IsAllowed);
        Assert.True(Decide(M("node-1", 1)).IsAllowed); // a cluster of one
    }

    [Fact]
    public void One_of_three_is_the_minority_and_says_what_it_sees()
    {
        var v = Decide(M("node-1", 3), M("node-2", 1, reachable: false), M("node-3", 2, reachable: false));
        Assert.Equal(WriteQuorum.MinorityPartition, v.Code);
        Assert.Equal("node-1 reaches 1 of 3 members (node-2, node-3 unreachable); writes are refused until it is back with the majority", v.Detail);
    }

    [Fact]
    public void An_even_split_keeps_the_side_with_the_lowest_address()
    {
        Assert.True(Decide(M("node-1", 1), M("node-2", 4), M("node-3", 2, reachable: false), M("node-4", 3, reachable: false)).IsAllowed);
        var v = Decide(M("node-1", 2), M("node-2", 4), M("node-3", 1, reachable: false), M("node-4", 3, reachable: false));
        Assert.Equal(WriteQuorum.MinorityPartition, v.Code);
        Assert.Contains("even split", v.Detail);
        Assert.Contains("lowest address (node-3)", v.Detail);
    }

    [Fact]
    public void Joining_weakly_up_down_and_exiting_members_do_not_count()
    {
        // 2 counted, both here; the unreachable ones are not counted (and the edge case, counting Joining there, is even
        // with the lowest address here)
        Assert.True(Decide(M("node-1", 1), M("node-2", 2), M("node-3", 3, MemberStatus.Joining, false), M("node-4", 4, MemberStatus.WeaklyUp, false)).IsAllowed);
        Assert.True(Decide(M("node-1", 1), M("node-2", 2, MemberStatus.Down, false), M("node-3", 3, MemberStatus.Exiting, false)).IsAllowed);
    }

    [Fact]
    public void A_leaving_member_racing_a_partition_makes_the_resolver_down_everything_so_writes_are_refused()
    {
        // counted: node-1, node-2 (leaving) here, node-3 there: 2 to 1. Without the leaving node (it may be Exiting
        // already on the other side) it is 1 to 1 and node-3 holds the lowest address: the resolver downs all.
        var v = Decide(M("node-1", 2), M("node-2", 3, MemberStatus.Leaving), M("node-3", 1, reachable: false));
        Assert.Equal(WriteQuorum.MinorityPartition, v.Code);
        Assert.Contains("joining or leaving", v.Detail);
    }

    [Theory]
    [InlineData(null, "not a member")]
    [InlineData(MemberStatus.Joining, "still joining")]
    [InlineData(MemberStatus.WeaklyUp, "still joining")]
    [InlineData(MemberStatus.Leaving, "leaving")]
    [InlineData(MemberStatus.Exiting, "leaving")]
    [InlineData(MemberStatus.Down, "was down")]
    [InlineData(MemberStatus.Removed, "was removed")]
    public void Only_an_up_member_may_write(MemberStatus? status, string says)
    {
        var v = WriteQuorum.Decide("node-1", status, false, [M("node-1", 1), M("node-2", 2)]);
        Assert.Equal(WriteQuorum.NotAMember, v.Code);
        Assert.Contains(says, v.Detail);
    }

    [Fact]
    public void A_node_shutting_down_may_not_write()
        => Assert.Equal(WriteQuorum.NotAMember, WriteQuorum.Decide("node-1", MemberStatus.Up, true, [M("node-1", 1)]).Code);
}
