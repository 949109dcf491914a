using Akka.Actor;
using Akka.TestKit.Xunit2;
using Fabric.Actors.Intent;
using Fabric.Actors.Tests.Support;
using Fabric.Tests.Shared;

namespace Fabric.Actors.Tests.Intent;

/// <summary>
/// The configuration pushes back instead of queueing without bound, and a bulk command crosses in bounded parts and is
/// still atomic.
/// </summary>
public sealed class BackpressureTests() : TestKit(TestConfigs.LocalWithGatedJournal(), $"backpressure-{Guid.NewGuid():N}")
{
    private GatedJournal.Gate Gate => GatedJournal.For(Sys.Name);

    private static readonly ConfigurationLimits Limits = new(MaxPendingItems: 5, RetryAfter: TimeSpan.FromSeconds(2));

    private static CreateEndpoints Guests(string prefix, int count)
        => new(Enumerable.Range(0, count).Select(i => new CreateEndpoint($"{prefix}-{i}", "net-1", "node-1", new EndpointPortSpec("guest"))).ToArray());

    private long Pending(IActorRef configuration) => configuration.Ask<long>(ConfigurationSupervisor.GetPending.Instance, TimeSpan.FromSeconds(3)).Result;

    private int Endpoints(IActorRef configuration)
        => configuration.Ask<ConfigurationListing>(GetConfiguration.Instance, TimeSpan.FromSeconds(5)).Result.Endpoints.Count;

    [Fact]
    public void Beyond_the_pending_limit_a_write_is_refused_at_once_and_nothing_of_it_is_written()
    {
        var configuration = Sys.ActorOf(ConfigurationActor.PropsWithBackoff(limits: Limits));
        configuration.Tell(new CreateNetwork("blue", 5001, "l2", "10.0.0.0/16"), TestActor);
        ExpectMsg<CommandAccepted>();
        AwaitCondition(() => Pending(configuration) == 0);

        Gate.Close();
        configuration.Tell(Guests("a", 3), TestActor); // admitted: its write hangs, 3 items pending
        AwaitCondition(() => Pending(configuration) == 3);
        configuration.Tell(Guests("b", 3), TestActor); // 3 + 3 > 5: refused at once
        var refused = ExpectMsg<ConfigurationOverloaded>(TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.FromSeconds(2), refused.RetryAfter);
        Assert.Contains("3 items wait", refused.Detail, StringComparison.Ordinal);
        configuration.Tell(new Deadlined(Guests("c", 2), DateTime.UtcNow.AddSeconds(30)), TestActor); // 3 + 2 ≤ 5: queued behind
        configuration.Tell(new CreateNetwork("red", 5002, "l2", null), TestActor); // 5 + 1 > 5: refused
        ExpectMsg<ConfigurationOverloaded>(TimeSpan.FromSeconds(1));
        Assert.Equal(5, Pending(configuration));
        // reads are not writes: answered (after the held write, as always; before the bulk waiting in the heavy lane)
        // and never refused
        configuration.Tell(new GetEndpoint("ep-1"), TestActor);

        Gate.Open();
        Assert.Equal(3, ExpectMsg<CommandAccepted>().Events.Count);
        Assert.Equal("a-0", ExpectMsg<EndpointAnswer>().Endpoint!.Name);
        Assert.Equal(2, ExpectMsg<CommandAccepted>().Events.Count);
        AwaitCondition(() => Pending(configuration) == 0);
        Assert.Equal(5, Endpoints(configuration)); // a-0..2 and c-0..1; nothing of b
    }

    [Fact]
    public void A_small_write_during_a_bulk_load_waits_for_the_bulk_being_written_only()
    {
        var configuration = Sys.ActorOf(ConfigurationActor.PropsWithBackoff(limits: new(MaxPendingItems: 100, RetryAfter: TimeSpan.FromSeconds(2))));
        configuration.Tell(new CreateNetwork("blue", 5001, "l2", "10.0.0.0/16"), TestActor);
        ExpectMsg<CommandAccepted>();
        AwaitCondition(() => Pending(configuration) == 0);

        Gate.Close();
        configuration.Tell(Guests("a", 3), TestActor); // being written: its write hangs
        AwaitCondition(() => Pending(configuration) == 3);
        configuration.Tell(new Deadlined(Guests("b", 3), DateTime.UtcNow.AddSeconds(30)), TestActor);
        configuration.Tell(Guests("c", 3), TestActor);
        configuration.Tell(new CreateNetwork("red", 5002, "l2", null), TestActor); // the small write, sent last
        AwaitCondition(() => Pending(configuration) == 10);

        Gate.Open();
        Assert.Equal("a-0", ((EndpointCreated)ExpectMsg<CommandAccepted>().Events[0]).Endpoint.Name);
        Assert.IsType<NetworkCreated>(ExpectMsg<CommandAccepted>().Events[0]); // ahead of the bulks queued before it
        Assert.Equal("b-0", ((EndpointCreated)ExpectMsg<CommandAccepted>().Events[0]).Endpoint.Name);
        Assert.Equal("c-0", ((EndpointCreated)ExpectMsg<CommandAccepted>().Events[0]).Endpoint.Name); // bulks keep their order
        AwaitCondition(() => Pending(configuration) == 0);
        Assert.Equal(9, Endpoints(configuration));
    }

    [Fact]
    public void An_idle_configuration_admits_a_command_larger_than_the_limit()
    {
        var configuration = Sys.ActorOf(ConfigurationActor.PropsWithBackoff(limits: Limits));
        configuration.Tell(new CreateNetwork("blue", 5001, "l2", "10.0.0.0/16"), TestActor);
        ExpectMsg<CommandAccepted>();
        AwaitCondition(() => Pending(configuration) == 0);
        configuration.Tell(Guests("a", 50), TestActor);
        Assert.Equal(50, ExpectMsg<CommandAccepted>().Events.Count);
        AwaitCondition(() => Pending(configuration) == 0);
    }

    [Fact]
    public void A_bulk_staged_in_parts_is_one_atomic_write_and_its_answer_is_fetched_in_parts()
    {
        var configuration = Sys.ActorOf(ConfigurationActor.PropsWithBackoff());
        configuration.Tell(new CreateNetwork("blue", 5001, "l2", "10.0.0.0/16"), TestActor);
        ExpectMsg<CommandAccepted>();
        var writes = Volatile.Read(ref Gate.WritesCompleted);

        var bulk = Guests("vm", 1000);
        var parts = BulkTransfer.Split(bulk);
        Assert.Equal(3, parts.Count);
        var transfer = Guid.NewGuid();
        for (var i = 0; i < parts.Count - 1; i++)
        {
            configuration.Tell(new StageBulkPart(transfer, i, parts[i]), TestActor);
            ExpectMsg<BulkPartStaged>();
        }
        Assert.Equal(0, Endpoints(configuration)); // staged is not written
        configuration.Tell(new Deadlined(new CommitBulk(transfer, parts.Count, 1000, parts[^1]), DateTime.UtcNow.AddSeconds(30)), TestActor);
        var accepted = ExpectMsg<BulkAccepted>();
        Assert.Equal(1000, accepted.Events);
        Assert.Equal(writes + 1, Volatile.Read(ref Gate.WritesCompleted)); // one atomic write
        var events = new List<ConfigurationEvent>();
        while (events.Count < accepted.Events)
        {
            configuration.Tell(new FetchBulkResult(transfer, events.Count), TestActor);
            var part = ExpectMsg<BulkResultPart>();
            Assert.True(part.Events!.Count <= BulkTransfer.PartItems);
            events.AddRange(part.Events);
        }
        Assert.Equal(bulk.Items.Select(i => i.Name), events.Cast<EndpointCreated>().Select(e => e.Endpoint.Name));
        configuration.Tell(new FetchBulkResult(transfer, 0), TestActor);
        Assert.Null(ExpectMsg<BulkResultPart>().Events); // fetched to the end: dropped

        // A commit whose parts did not all arrive (the singleton moved in between) writes nothing.
        var lost = Guid.NewGuid();
        configuration.Tell(new StageBulkPart(lost, 1, parts[1]), TestActor); // part 0 never arrived
        ExpectMsg<BulkPartStaged>();
        configuration.Tell(new CommitBulk(lost, parts.Count, 1000, parts[^1]), TestActor);
        ExpectMsg<BulkInterrupted>();
        Assert.Equal(1000, Endpoints(configuration));
    }
}
