using Akka.Configuration;
using Fabric.Actors.Configuration;
using Fabric.Tests.Shared;

namespace Fabric.Actors.Tests.Support;

public static class TestConfigs
{
    /// <summary>
    /// The shipped configuration with a local (non-cluster) provider and the SQLite store in
    /// <paramref name="dataDir"/>: the persistence tests need no cluster.
    /// </summary>
    public static Config LocalWithSqlite(string dataDir, string? extra = null)
        => FabricHocon.Load(overrides: $"""
            akka.actor.provider = local
            akka.test.single-expect-default = 10s
            fabric.data-dir = {FabricHocon.Quote(dataDir)}
            {extra}
            """);

    /// <summary>The shipped configuration with the journal replaced by <see cref="GatedJournal"/>.</summary>
    public static Config LocalWithGatedJournal()
        => FabricHocon.Load(overrides: $$"""
            akka.actor.provider = local
            akka.test.single-expect-default = 10s
            akka.persistence.journal.plugin = "akka.persistence.journal.gated"
            akka.persistence.journal.gated.class = "{{typeof(GatedJournal).AssemblyQualifiedName}}"
            akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.local"
            akka.persistence.snapshot-store.local.dir = {{FabricHocon.Quote(Path.Combine(Path.GetTempPath(), "fabric-snapshots-unused"))}}
            """);
}
