using Fabric.Actors.Tracing;

namespace Fabric.Actors.Tests.Trace;

/// <summary>Issue 12: verdicts and hop order from the rows every node sends back (pure, no cluster).</summary>
public class TraceAssemblerTests
{
    private static TraceHopRow Row(string node, string kind, long seq, long atUs, bool reply = false, params (string K, string V)[] details)
        => new(7, reply, node, "router", new TraceDecision(kind, kind, details.ToDictionary(d => d.K, d => d.V)), 3, atUs, seq);

    [Fact]
    public void Hops_are_ordered_per_node_ingress_first_whatever_the_clocks_say()
    {
        // node-2's clock is behind node-1's: its hops still come after the ingress node's.
        var rows = new[]
        {
            Row("node-2", "decapsulated", 40, 100), Row("node-2", "delivered", 41, 101, details: ("port", "b (port 1)")),
            Row("node-1", "routed", 11, 500), Row("node-1", "received", 10, 499), Row("node-1", "encapsulated", 12, 501, details: ("vtep", "node-2 (127.0.0.2)")),
        };
        var p = TraceAssembler.Probe(7, rows);
        Assert.Equal(["received", "routed", "encapsulated", "decapsulated", "delivered"], p.Hops.Select(h => h.Decision.Kind));
        Assert.Equal(("delivered", "node-2", "b (port 1)"), (p.Verdict, p.Node, p.Port));
        Assert.Null(p.Reply);
    }

    [Fact]
    public void A_probe_encapsulated_to_a_member_that_saw_nothing_is_reported_as_such()
    {
        var p = TraceAssembler.Probe(7, [Row("node-1", "received", 1, 1), Row("node-1", "encapsulated", 2, 2, details: ("vtep", "node-2 (127.0.0.2)"))]);
        Assert.Equal(("dropped", TraceAssembler.NotSeenAtNextNode, "node-1", "node-2 (127.0.0.2)"), (p.Verdict, p.Reason, p.Node, p.Vtep));
        Assert.Equal(TraceAssembler.NotSeen, TraceAssembler.Probe(7, []).Reason);
    }

    [Fact]
    public void Drops_externals_and_answers_get_their_verdicts()
    {
        var drop = TraceAssembler.Probe(7, [Row("node-1", "received", 1, 1), Row("node-1", "dropped", 2, 2, details: ("reason", "NoRoute"))]);
        Assert.Equal(("dropped", "NoRoute", "node-1"), (drop.Verdict, drop.Reason, drop.Node));

        var external = TraceAssembler.Probe(7, [Row("node-1", "received", 1, 1), Row("node-1", "sent-external", 2, 2, details: ("vtep", "192.0.2.9"))]);
        Assert.Equal(("external", "192.0.2.9"), (external.Verdict, external.Vtep));

        var answered = TraceAssembler.Probe(7,
        [
            Row("node-1", "received", 1, 1), Row("node-1", "delivered", 2, 2, details: ("port", "b")),
            Row("node-1", "received", 3, 3, reply: true), Row("node-1", "absorbed", 4, 4, reply: true, ("port", "a")),
        ]);
        Assert.Equal(("delivered", "a"), (answered.Reply!.Verdict, answered.Reply.Port));
    }

    [Fact]
    public void A_trace_is_complete_once_the_probe_ended_and_its_answer_if_one_is_due()
    {
        TraceHopRow[] delivered = [Row("n", "received", 1, 1), Row("n", "delivered", 2, 2)];
        Assert.False(TraceAssembler.Complete([Row("n", "received", 1, 1)], [], answerExpected: false));
        Assert.True(TraceAssembler.Complete(delivered, [], answerExpected: false));
        Assert.False(TraceAssembler.Complete(delivered, [], answerExpected: true));
        Assert.True(TraceAssembler.Complete(delivered, [Row("n", "received", 3, 3, true), Row("n", "absorbed", 4, 4, true)], answerExpected: true));
        // A probe that was stopped or dropped has no answer to wait for.
        Assert.True(TraceAssembler.Complete([Row("n", "stopped", 1, 1)], [], answerExpected: true));
    }
}
