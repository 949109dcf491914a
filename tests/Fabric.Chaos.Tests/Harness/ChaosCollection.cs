namespace Fabric.Chaos.Tests.Harness;

/// <summary>One chaos case at a time: they share the namespace names fabric-node-i and the bridge fabric-br.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ChaosCollection
{
    public const string Name = "chaos";
}
