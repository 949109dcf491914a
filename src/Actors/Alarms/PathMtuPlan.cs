namespace Fabric.Actors.Alarms;

/// <summary>What one round of probes to one peer showed.</summary>
public enum PathMtuVerdict
{
    /// <summary>The target size (overlay MTU + the encapsulation) came back: the path carries full overlay frames.</summary>
    Fits,
    /// <summary>A smaller probe came back, the target did not: full overlay frames are lost on this path.</summary>
    TooSmall,
    /// <summary>Nothing came back (the peer is down, not probing, or a firewall drops the port): says nothing about the MTU.</summary>
    Unknown,
}

/// <summary>
/// The decisions of path MTU probing, without sockets or actors: which sizes to send, which peers to probe this round
/// (a bounded budget, round robin, new and alarmed peers first), and what the answers mean.
/// </summary>
public sealed class PathMtuPlan(int budget)
{
    /// <summary>Sizes (IPv4 packet lengths) below the target that a probe round also sends, so one round trip says which fits.</summary>
    private static readonly int[] Steps = [9000, 4000, 1500, 1480, 1472, 1450, 1420, 1400, 1380, 1350, 1300, 1280, 1200, 1024, 576];

    /// <summary>The smallest probe (an IPv4 packet of this many bytes): answered whenever the peer is there at all.</summary>
    public const int Floor = 128;

    private int _cursor;

    public int Budget { get; } = Math.Max(1, budget);

    /// <summary>The probe sizes of one peer, largest first: the target, the usual MTUs below it, and <see cref="Floor"/>.</summary>
    public static int[] Ladder(int target)
    {
        var sizes = new List<int> { target };
        foreach (var s in Steps) if (s < target && s > Floor) sizes.Add(s);
        sizes.Add(Floor);
        return sizes.ToArray();
    }

    /// <summary>
    /// The peers to probe this round: every <paramref name="urgent"/> one that is still a peer (new members, paths with an
    /// alarm), then the next of <paramref name="peers"/> (in a stable order) round robin, <see cref="Budget"/> in all.
    /// </summary>
    public IReadOnlyList<string> Pick(IReadOnlyList<string> peers, IReadOnlyCollection<string> urgent)
    {
        var chosen = new List<string>(Math.Min(Budget, peers.Count));
        var set = new HashSet<string>(StringComparer.Ordinal);
        var known = new HashSet<string>(peers, StringComparer.Ordinal);
        foreach (var u in urgent)
            if (chosen.Count < Budget && known.Contains(u) && set.Add(u)) chosen.Add(u);
        if (peers.Count == 0) return chosen;
        var start = (int)((uint)_cursor % (uint)peers.Count);
        var i = 0;
        for (; i < peers.Count && chosen.Count < Budget; i++)
        {
            var p = peers[(start + i) % peers.Count];
            if (set.Add(p)) chosen.Add(p);
        }
        _cursor = (start + i) % peers.Count;
        return chosen;
    }

    /// <summary>What the sizes answered by a peer say, and the largest that fits (0 when none came back).</summary>
    public static (PathMtuVerdict Verdict, int Largest) Judge(int target, IReadOnlyCollection<int> answered)
    {
        var largest = 0;
        foreach (var s in answered) largest = Math.Max(largest, s);
        if (largest >= target) return (PathMtuVerdict.Fits, largest);
        return largest == 0 ? (PathMtuVerdict.Unknown, 0) : (PathMtuVerdict.TooSmall, largest);
    }
}
