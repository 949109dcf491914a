using Akka.Actor;
using Akka.Cluster;

namespace Fabric.Actors.Node;

/// <summary>A cluster member as this node sees it: what the split brain resolver counts.</summary>
public sealed record QuorumMember(string Name, Address Address, MemberStatus Status, bool Reachable);

/// <summary>Whether this node may send a write, and if not why (<see cref="Code"/> is the problem code).</summary>
public sealed record WriteVerdict(string? Code, string Detail)
{
    public static readonly WriteVerdict Allowed = new(null, "");
    public bool IsAllowed => Code is null;
}

/// <summary>
/// Decides from this node's own view of the cluster whether a write may be sent, mirroring the split brain
/// resolver we run (keep-majority, hocon/fabric.conf): a node the resolver would down is refused at once instead
/// of waiting for an ask timeout, and a write never goes out from a node that is not an Up member.
/// </summary>
/// <remarks>
/// Akka's KeepMajority (Akka.Cluster.SBR.DowningStrategy) counts members that are not Joining, WeaklyUp, Down or
/// Exiting (so Up and Leaving); the side with more reachable than unreachable of those survives, and on an even
/// split the side holding the lowest address (<see cref="Member.AddressOrdering"/>). It then checks the edge case of
/// a membership change racing the partition (this side without Leaving, the other side with Joining and WeaklyUp)
/// and downs everything if the conclusion differs; we refuse in that case too. Not mirrored: indirectly connected
/// nodes (needs the reachability records, which the public cluster state does not carry); there the singleton's
/// own side and the command deadline still keep a late write from applying.
/// </remarks>
public static class WriteQuorum
{
    public const string MinorityPartition = "minority-partition";
    public const string NotAMember = "not-a-member";

    /// <param name="self">This node's name.</param>
    /// <param name="selfStatus">This node's status as a member, null when it is not in the membership (not joined yet, removed).</param>
    /// <param name="shuttingDown">The node is running CoordinatedShutdown or its ActorSystem has terminated.</param>
    /// <param name="members">Every member this node knows of, with its reachability as this node's gossip has it.</param>
    public static WriteVerdict Decide(string self, MemberStatus? selfStatus, bool shuttingDown, IReadOnlyCollection<QuorumMember> members)
    {
        if (shuttingDown)
            return new(NotAMember, $"{self} is shutting down; send writes to another node");
        switch (selfStatus)
        {
            case null:
                return new(NotAMember, $"{self} is not a member of the cluster (not joined yet, or removed); writes are refused until it is Up");
            case MemberStatus.Up:
                break;
            case MemberStatus.Joining or MemberStatus.WeaklyUp:
                return new(NotAMember, $"{self} is still joining the cluster ({Lower(selfStatus.Value)}); writes are refused until it is Up");
            case MemberStatus.Down or MemberStatus.Removed:
                return new(NotAMember, $"{self} was {(selfStatus == MemberStatus.Down ? "downed" : "removed")} by the cluster; writes are refused (restart the node to rejoin)");
            default:
                return new(NotAMember, $"{self} is leaving the cluster ({Lower(selfStatus.Value)}); send writes to another node");
        }

        var counted = Counted(members, includingPossiblyUp: false, excludingPossiblyExiting: false);
        if (counted.Length == 0)
            return new(MinorityPartition, $"{self} sees no member the split brain resolver counts; writes are refused");
        var reachable = counted.Count(m => m.Reachable);
        var unreachable = counted.Where(m => !m.Reachable).Select(m => m.Name).Order(StringComparer.Ordinal).ToArray(); // sorted: the detail reads the same on every call
        if (!Survives(reachable, unreachable.Length, counted[0]))
        {
            var why = reachable == unreachable.Length
                ? $"; an even split, and the other half holds the lowest address ({counted[0].Name})"
                : "";
            return new(MinorityPartition,
                $"{self} reaches {reachable} of {counted.Length} members ({string.Join(", ", unreachable)} unreachable){why}; " +
                "writes are refused until it is back with the majority");
        }

        // The resolver's edge case: count as few as possible here and as many as possible there.
        var thisSide = Counted(members, includingPossiblyUp: false, excludingPossiblyExiting: true);
        if (thisSide.Length == 0 || !Survives(thisSide.Count(m => m.Reachable),
                Counted(members, includingPossiblyUp: true, excludingPossiblyExiting: false).Count(m => !m.Reachable), thisSide[0]))
            return new(MinorityPartition,
                $"{self} reaches {reachable} of {counted.Length} members ({string.Join(", ", unreachable)} unreachable) while members are " +
                "joining or leaving; the split brain resolver may down every side, so writes are refused until the membership settles");
        return WriteVerdict.Allowed;
    }

    /// <summary>KeepMajority's majority decision: more on this side, or an even split and the lowest address here.</summary>
    private static bool Survives(int thisSide, int otherSide, QuorumMember lowest)
        => thisSide == otherSide ? lowest.Reachable : thisSide > otherSide;

    /// <summary>The members the resolver counts, lowest address first (its member ordering).</summary>
    private static QuorumMember[] Counted(IEnumerable<QuorumMember> members, bool includingPossiblyUp, bool excludingPossiblyExiting)
        => members.Where(m => !((!includingPossiblyUp && m.Status is MemberStatus.Joining or MemberStatus.WeaklyUp)
                                || (excludingPossiblyExiting && m.Status == MemberStatus.Leaving)
                                || m.Status is MemberStatus.Down or MemberStatus.Exiting or MemberStatus.Removed))
            .OrderBy(m => m.Address, Member.AddressOrdering)
            .ToArray();

    private static string Lower(MemberStatus s) => s.ToString().ToLowerInvariant();
}
