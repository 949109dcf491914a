using Fabric.Actors.Configuration;
using Fabric.Actors.Node;

namespace Fabric.Actors.Tests.Node;

/// <summary>fabric.dataplane → EngineOptions: the shipped defaults and the busy-poll, MTU and drop-sample settings (issues 11, 12).</summary>
public class DataplaneOptionsTests
{
    [Fact]
    public void The_shipped_defaults_poll_200_us_yielding_check_a_1500_underlay_and_sample_16_drops_per_reason()
    {
        var o = FabricRuntime.DataplaneOptions(FabricHocon.Load().GetConfig("fabric.dataplane"));
        Assert.Equal(200, o.BusyPollMicroseconds);
        Assert.Equal(new Fabric.Dataplane.Engine.EngineOptions().BusyPollMicroseconds, o.BusyPollMicroseconds);
        Assert.True(o.BusyPollYield);
        Assert.Equal(0, o.SpinPolls);
        Assert.Equal(1500, o.UnderlayMtu);
        Assert.Equal(16, o.DropSamplesPerReason);
        Assert.Equal(1, o.Threads);
    }

    [Fact]
    public void Threads_sets_how_many_dataplane_threads_a_node_runs()
    {
        Assert.Equal(2, FabricRuntime.DataplaneOptions(FabricHocon.Load(overrides: "fabric.dataplane.threads = 2").GetConfig("fabric.dataplane")).Threads);
        Assert.Equal(1, FabricRuntime.DataplaneOptions(FabricHocon.Load(overrides: "fabric.dataplane.threads = 0").GetConfig("fabric.dataplane")).Threads);
    }

    [Theory]
    [InlineData("50us", 50)]
    [InlineData("1ms", 1000)]
    [InlineData("0", 0)]
    [InlineData("10s", 1_000_000)]
    public void Busy_poll_takes_a_duration_capped_at_a_second(string value, int micros)
        => Assert.Equal(micros, FabricRuntime.DataplaneOptions(FabricHocon.Load(overrides: $"fabric.dataplane.busy-poll = {value}").GetConfig("fabric.dataplane")).BusyPollMicroseconds);

    [Fact]
    public void Busy_poll_yield_can_be_turned_off_for_a_dataplane_with_a_core_of_its_own()
        => Assert.False(FabricRuntime.DataplaneOptions(FabricHocon.Load(overrides: "fabric.dataplane.busy-poll-yield = off").GetConfig("fabric.dataplane")).BusyPollYield);

    [Fact]
    public void Drop_sampling_off_means_no_sampler_and_per_reason_sets_k()
    {
        Assert.Equal(0, FabricRuntime.DataplaneOptions(FabricHocon.Load(overrides: "fabric.dataplane.drop-samples.enabled = off").GetConfig("fabric.dataplane")).DropSamplesPerReason);
        Assert.Equal(64, FabricRuntime.DataplaneOptions(FabricHocon.Load(overrides: "fabric.dataplane.drop-samples.per-reason = 64").GetConfig("fabric.dataplane")).DropSamplesPerReason);
        Assert.Equal(9000, FabricRuntime.DataplaneOptions(FabricHocon.Load(overrides: "fabric.dataplane.underlay-mtu = 9000").GetConfig("fabric.dataplane")).UnderlayMtu);
    }
}
