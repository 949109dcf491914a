using Akka.Actor;
using Akka.Configuration;
using Akka.Coordination;

namespace Fabric.Actors.Cluster;

/// <summary>
/// Wiring of the configuration singleton's lease (<c>fabric.configuration.lease</c>, a <see cref="StoreLease"/> by
/// default) and of the <see cref="ClusterReformActor"/> that uses the same lease instance.
/// </summary>
public static class ConfigurationLease
{
    public const string ConfigPath = "fabric.configuration.lease";

    /// <summary>What the singleton manager is given (<c>use-lease</c>), or null when no lease class is configured.</summary>
    public static LeaseUsageSettings? Of(Config config)
    {
        var lease = config.GetConfig(ConfigPath);
        if (lease is null || string.IsNullOrEmpty(lease.GetString("lease-class", ""))) return null;
        return new LeaseUsageSettings(ConfigPath, lease.GetTimeSpan("retry-interval", TimeSpan.FromSeconds(1)));
    }

    /// <summary>
    /// Whether this node may form the cluster again: it is told to join (seeds listed) but is not itself a seed, so
    /// Akka's first-seed rule never lets it form one; and reforming is on.
    /// </summary>
    public static bool MayReform(FabricNode node)
    {
        var config = node.System.Settings.Config;
        var seeds = config.GetStringList("akka.cluster.seed-nodes");
        var self = node.Address.ToString();
        return config.GetBoolean("fabric.cluster.reform.enabled", true) && seeds.Count > 0 && !seeds.Any(s => string.Equals(s.TrimEnd('/'), self, StringComparison.Ordinal));
    }

    /// <summary>
    /// The very lease instance the singleton manager named <paramref name="managerName"/> (under /user) takes: Akka
    /// names it <c>{system}-singleton-{manager path}</c> with owner host:port, and LeaseProvider keeps one instance per
    /// name, configuration and owner. So the reformer hands a lease it won straight to its singleton, and the
    /// singleton's writes check the lease it holds.
    /// </summary>
    public static Lease For(ActorSystem system, LeaseUsageSettings usage, string managerName)
    {
        var path = new RootActorPath(new Address("akka", system.Name)) / "user" / managerName;
        var owner = Akka.Cluster.Cluster.Get(system).SelfAddress.HostPort();
        return LeaseProvider.Get(system).GetLease($"{system.Name}-singleton-{path}", usage.LeaseImplementation, owner);
    }

    /// <summary>Fails the start if the manager would name its lease otherwise (an Akka upgrade changing the rule).</summary>
    public static void EnsureSameLease(ActorSystem system, IActorRef manager, Lease lease)
    {
        var expected = $"{system.Name}-singleton-{manager.Path}";
        if (lease.Settings.LeaseName != expected)
            throw new InvalidOperationException($"the configuration lease is named {lease.Settings.LeaseName}, the singleton's would be {expected}");
    }
}
