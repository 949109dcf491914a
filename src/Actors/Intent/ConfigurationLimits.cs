using Akka.Configuration;

namespace Fabric.Actors.Intent;

/// <summary>
/// Backpressure of the configuration (<c>fabric.configuration</c> in hocon/fabric.conf): how many command items may
/// wait for it before writes are refused with <see cref="ConfigurationOverloaded"/>, and the Retry-After they carry.
/// </summary>
public sealed record ConfigurationLimits(long MaxPendingItems, TimeSpan RetryAfter)
{
    public static readonly ConfigurationLimits Default = new(20_000, TimeSpan.FromSeconds(1));

    public static ConfigurationLimits From(Config config)
    {
        var c = config.GetConfig("fabric.configuration");
        if (c is null || c.IsEmpty) return Default;
        var max = c.GetLong("max-pending-items", Default.MaxPendingItems);
        var retry = c.GetTimeSpan("retry-after", Default.RetryAfter);
        if (max < 1) throw new ConfigurationException($"fabric.configuration.max-pending-items must be at least 1, not {max}");
        if (retry < TimeSpan.FromSeconds(1)) retry = TimeSpan.FromSeconds(1); // Retry-After counts whole seconds
        return new ConfigurationLimits(max, retry);
    }
}
