using Akka.Actor;
using Akka.Serialization;
using Akka.Serialization.Hyperion;

namespace Fabric.Actors.Serialization;

/// <summary>
/// Akka.Serialization.Hyperion's serializer for our application messages and persisted events (everything that
/// implements <see cref="IFabricMessage"/>, bound in hocon/fabric.conf), with its type filter on.
/// </summary>
/// <remarks>
/// Hyperion names the type of every object it writes. On the way in, a name outside <see cref="FabricTypeFilter"/>
/// (or on Hyperion's own list of unsafe types) is refused before the type is even loaded, so nothing outside the
/// filter is ever instantiated: the message is dropped with a serialization error. The settings are fixed here, in
/// the constructor Akka calls, rather than in a <see cref="HyperionSerializerSetup"/> passed to
/// <c>ActorSystem.Create</c>: an ActorSystem built from the HOCON alone (a test, a tool) gets the same filter, and
/// none can forget it. The subclass exists for that and for the identifier: the package's own is -5, and every
/// journal row written so far names 7431.
/// </remarks>
public sealed class FabricHyperionSerializer(ExtendedActorSystem system) : HyperionSerializer(system, Fabric)
{
    /// <summary>Serializer id stored with every journal row: never change it once data exists.</summary>
    public const int SerializerId = 7431;

    /// <summary>
    /// As the hand-written adapter wrote (so existing journals still read): version tolerant, no object references
    /// (our messages are trees), ISerializable ignored (the package always does), unsafe types and everything outside
    /// the filter refused. Actor references travel as the package's surrogate (their serialized path).
    /// </summary>
    public static readonly HyperionSerializerSettings Fabric = new(
        preserveObjectReferences: false,
        versionTolerance: true,
        knownTypesProvider: null,
        packageNameOverrides: [],
        surrogates: [],
        disallowUnsafeType: true,
        typeFilter: FabricTypeFilter.Instance);

    public override int Identifier => SerializerId;
}
