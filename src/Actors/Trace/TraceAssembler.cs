namespace Fabric.Actors.Tracing;

/// <summary>One hop in the answer.</summary>
public sealed record TraceHopView(string Node, string Stage, TraceDecision Decision, long SnapshotVersion, long AtUs);

/// <summary>
/// Where one packet (a probe, or the probed endpoint's answer) ended: <c>delivered</c> (to <paramref name="Node"/>'s
/// <paramref name="Port"/>), <c>dropped</c> (on <paramref name="Node"/> for <paramref name="Reason"/>) or <c>external</c>
/// (to the VTEP <paramref name="Vtep"/>, where the trace ends), with its hops in the order it took them.
/// </summary>
public sealed record TraceLeg(string Verdict, string? Reason, string? Node, string? Port, string? Vtep, IReadOnlyList<TraceHopView> Hops);

/// <summary>One probe: its own leg, and its answer's when one came (echo reply, SYN-ACK or RST...).</summary>
public sealed record TraceProbe(int Id, string Verdict, string? Reason, string? Node, string? Port, string? Vtep, IReadOnlyList<TraceHopView> Hops,
    TraceLeg? Reply);

/// <summary>Builds verdicts from the hop rows every node sent back. Pure: no actor, no clock.</summary>
public static class TraceAssembler
{
    public const string Delivered = "delivered", Dropped = "dropped", External = "external";
    /// <summary>No node recorded the probe (the port vanished before the dataplane took it, or the ring was overrun).</summary>
    public const string NotSeen = "NotSeen";
    /// <summary>Encapsulated to a member that recorded nothing: lost in the underlay, or dropped there before its mark was read.</summary>
    public const string NotSeenAtNextNode = "NotSeenAtNextNode";

    private static readonly HashSet<string> Arrived = ["delivered", "stopped", "absorbed", "draining"];

    /// <summary>
    /// Orders one packet's hops: each node's in its own order (sequence); the node where the packet entered (a
    /// "received" hop) first, then the others by wall-clock time.
    /// </summary>
    public static List<TraceHopRow> Order(IEnumerable<TraceHopRow> rows)
        => rows.GroupBy(r => r.Node)
            .Select(g => g.OrderBy(r => r.Sequence).ToList())
            .OrderBy(g => g.Any(r => r.Decision.Kind == "received") ? 0 : 1)
            .ThenBy(g => g[0].AtUs)
            .SelectMany(g => g)
            .ToList();

    /// <summary>Null when the packet has not reached an end yet (no delivery, drop or exit recorded).</summary>
    public static TraceLeg? Leg(IReadOnlyCollection<TraceHopRow> rows, bool final)
    {
        var hops = Order(rows);
        var views = hops.Select(h => new TraceHopView(h.Node, h.Stage, h.Decision, h.SnapshotVersion, h.AtUs)).ToArray();
        if (hops.FirstOrDefault(h => Arrived.Contains(h.Decision.Kind)) is { } arrived)
            return new TraceLeg(Delivered, null, arrived.Node, arrived.Decision.Details.GetValueOrDefault("port"), null, views);
        if (hops.FirstOrDefault(h => h.Decision.Kind == "sent-external") is { } exit)
            return new TraceLeg(External, null, exit.Node, null, exit.Decision.Details.GetValueOrDefault("vtep"), views);
        if (hops.FirstOrDefault(h => h.Decision.Kind == "dropped") is { } drop)
            return new TraceLeg(Dropped, drop.Decision.Details.GetValueOrDefault("reason"), drop.Node, null, null, views);
        if (!final) return null;
        if (hops.Count == 0) return new TraceLeg(Dropped, NotSeen, null, null, null, views);
        var last = hops[^1];
        return new TraceLeg(Dropped, last.Decision.Kind == "encapsulated" ? NotSeenAtNextNode : NotSeen, last.Node, null,
            last.Decision.Details.GetValueOrDefault("vtep"), views);
    }

    /// <summary>Whether the probe's leg is done and, when an answer is due, the answer's too.</summary>
    public static bool Complete(IReadOnlyCollection<TraceHopRow> probe, IReadOnlyCollection<TraceHopRow> reply, bool answerExpected)
    {
        if (Leg(probe, final: false) is not { } leg) return false;
        var delivered = leg.Verdict == Delivered && probe.Any(h => h.Decision.Kind == "delivered");
        return !answerExpected || !delivered || Leg(reply, final: false) is not null;
    }

    public static TraceProbe Probe(int id, IReadOnlyCollection<TraceHopRow> rows)
    {
        var leg = Leg(rows.Where(r => r.Probe == id && !r.Reply).ToArray(), final: true)!;
        var replyRows = rows.Where(r => r.Probe == id && r.Reply).ToArray();
        var reply = replyRows.Length == 0 ? null : Leg(replyRows, final: true);
        return new TraceProbe(id, leg.Verdict, leg.Reason, leg.Node, leg.Port, leg.Vtep, leg.Hops, reply);
    }
}
