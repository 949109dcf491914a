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
    /// Starts the reformer with the very lease instance the singleton manager at <paramref name="manager"/> takes
    /// (Akka names it <c>{system}-singleton-{manager path}</c>, owner host:port): a node that forms the cluster
    /// hands the lease straight to its singleton.
    /// </summary>
    public static IActorRef StartReformer(ActorSystem system, LeaseUsageSettings usage, IActorRef manager, Config config)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        var lease = LeaseProvider.Get(system).GetLease(SingletonLeaseName(system, manager), usage.LeaseImplementation, cluster.SelfAddress.HostPort());
        return system.ActorOf(ClusterReformActor.Props(ReformSettings.From(config), lease), "cluster-reform");
    }

    /// <summary>As ClusterSingletonManager names its lease.</summary>
    public static string SingletonLeaseName(ActorSystem system, IActorRef manager) => $"{system.Name}-singleton-{manager.Path}";
}
