using Akka.Actor;
using Akka.TestKit.Xunit2;
using Fabric.Actors.Intent;
using Fabric.Actors.Node;
using Fabric.Actors.Tests.Support;
using Fabric.Tests.Shared;

namespace Fabric.Actors.Tests.Intent;

/// <summary>A write whose caller stopped waiting is refused unwritten, however late it arrives.</summary>
public sealed class DeadlineTests() : TestKit(TestConfigs.LocalWithGatedJournal(), $"deadline-{Guid.NewGuid():N}")
{
    private GatedJournal.Gate Gate => GatedJournal.For(Sys.Name);

    private static int Revision(IActorRef configuration)
        => (int)configuration.Ask<ConfigurationListing>(GetConfiguration.Instance, TimeSpan.FromSeconds(5)).Result.Revision;

    [Fact]
    public void A_command_past_its_deadline_is_refused_and_not_persisted()
    {
        var configuration = Sys.ActorOf(ConfigurationActor.Props());
        var expired = CreateTestProbe();
        Sys.EventStream.Subscribe(expired.Ref, typeof(ConfigurationCommandExpired));

        configuration.Tell(new Deadlined(new CreateNetwork("blue", 5001, "l2", null), DateTime.UtcNow.AddSeconds(-2)), TestActor);
        Assert.Contains("after its deadline", ExpectMsg<CommandExpired>().Detail);
        var notice = expired.ExpectMsg<ConfigurationCommandExpired>();
        Assert.IsType<CreateNetwork>(notice.Command);
        Assert.True(notice.Late >= TimeSpan.FromSeconds(2));
        Assert.Equal(0, Revision(configuration));
        Assert.Equal(0, Volatile.Read(ref Gate.WritesCompleted));

        // in time: decided and written as usual
        configuration.Tell(new Deadlined(new CreateNetwork("blue", 5001, "l2", null), DateTime.UtcNow.AddSeconds(5)), TestActor);
        Assert.Equal("net-1", Assert.IsType<NetworkCreated>(Assert.Single(ExpectMsg<CommandAccepted>().Events)).Network.Id);
    }

    [Fact]
    public void The_deadline_is_checked_when_the_command_is_decided_not_when_it_arrives()
    {
        var configuration = Sys.ActorOf(ConfigurationActor.Props());
        Gate.Close();
        configuration.Tell(new CreateNetwork("blue", 5001, "l2", null), TestActor);
        // arrives in time, but waits behind the held write past its deadline
        configuration.Tell(new Deadlined(new CreateNetwork("red", 5002, "l2", null), DateTime.UtcNow.AddMilliseconds(200)), TestActor);
        ExpectNoMsg(TimeSpan.FromMilliseconds(500));
        Gate.Open();
        ExpectMsg<CommandAccepted>();
        ExpectMsg<CommandExpired>();
        Assert.Equal(1, Revision(configuration));
    }
}

/// <summary>While the store is down the supervisor answers at once, and the configuration comes back with the store.</summary>
public sealed class StoreDownSupervisorTests() : TestKit(TestConfigs.LocalWithGatedJournal(), $"store-down-{Guid.NewGuid():N}")
{
    private GatedJournal.Gate Gate => GatedJournal.For(Sys.Name);

    [Fact]
    public async Task While_the_store_is_down_every_request_is_answered_at_once_and_writes_return_with_it()
    {
        var configuration = Sys.ActorOf(ConfigurationActor.PropsWithBackoff(minBackoff: TimeSpan.FromMilliseconds(50), maxBackoff: TimeSpan.FromMilliseconds(500)));
        configuration.Tell(new CreateNetwork("blue", 5001, "l2", null), TestActor);
        ExpectMsg<CommandAccepted>();

        Gate.FailWrites = true;
        Gate.FailReads = true;
        configuration.Tell(new CreateNetwork("red", 5002, "l2", null), TestActor);
        ExpectMsg<CommandFailed>();

        // stopped, restarting, recovering and failing again: whichever state it is in, the answer comes at once
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var slowest = TimeSpan.Zero;
        while (sw.Elapsed < TimeSpan.FromSeconds(2))
        {
            var one = System.Diagnostics.Stopwatch.StartNew();
            object request = sw.ElapsedMilliseconds % 2 == 0 ? GetConfiguration.Instance : new CreateNetwork("green", 5003, "l2", null);
            var answer = await configuration.Ask<object>(request, FabricRuntime.DefaultAskTimeout);
            Assert.IsType<StoreUnavailable>(answer);
            slowest = one.Elapsed > slowest ? one.Elapsed : slowest;
            await Task.Delay(20);
        }
        // At once means well inside the ask timeout a node gives the configuration (FabricRuntime.AskTimeout): the
        // caller hears "store unavailable", not silence until it gives up.
        Assert.True(slowest < FabricRuntime.DefaultAskTimeout / 2, $"slowest answer {slowest.TotalMilliseconds:F0} ms (ask timeout {FabricRuntime.DefaultAskTimeout.TotalSeconds:0.#} s)");

        Gate.FailWrites = false;
        Gate.FailReads = false;
        var back = System.Diagnostics.Stopwatch.StartNew();
        while (await configuration.Ask<object>(new CreateNetwork("green", 5003, "l2", null), TimeSpan.FromSeconds(3)) is not CommandAccepted)
        {
            Assert.True(back.Elapsed < TimeSpan.FromSeconds(5), "writes not accepted 5 s after the store returned");
            await Task.Delay(50);
        }
        var listing = await configuration.Ask<ConfigurationListing>(GetConfiguration.Instance, TimeSpan.FromSeconds(3));
        // exactly the accepted writes: blue and green, never red
        Assert.Equal(["blue", "green"], listing.Networks.Select(n => n.Name).Order().ToArray());
        Console.WriteLine($"slowest answer while down {slowest.TotalMilliseconds:F0} ms; writes accepted again {back.Elapsed.TotalMilliseconds:F0} ms after the store returned");
    }
}
