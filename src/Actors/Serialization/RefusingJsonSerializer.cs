using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Configuration;
using Akka.Serialization;

namespace Fabric.Actors.Serialization;

/// <summary>
/// Takes the place of Akka's JSON serializer (<c>json</c>, identifier 1) and refuses every payload, in and out.
/// </summary>
/// <remarks>
/// Akka binds <c>System.Object</c> to Newtonsoft with type names on (<c>TypeNameHandling.All</c>), so a payload under
/// id 1 from any peer that reaches the remoting port makes this process load and construct whatever type it names,
/// the filter of <see cref="FabricHyperionSerializer"/> notwithstanding: the remoting layer picks the serializer by
/// the id the sender wrote. Nothing of Fabric's or Akka's needs it (Akka's own messages have serializers of their
/// own, and hocon/fabric.conf binds everything else to the filtered one), so the id stays registered only to be
/// refused by name: neither the type the JSON names nor the manifest is ever resolved. The name <c>json</c> is kept
/// because Akka's reference configuration still names it (<c>akka.persistence.journal.serializer</c>, a fallback
/// for types without a binding, of which there are none now that <c>System.Object</c> has one).
/// </remarks>
public sealed class RefusingJsonSerializer : Serializer
{
    /// <summary>Akka's id for its JSON serializer, which peers may still write.</summary>
    public const int JsonId = 1;

    public RefusingJsonSerializer(ExtendedActorSystem system) : base(system) { }

    // Akka passes akka.actor.serialization-settings.json when that section exists (its reference config has one).
    public RefusingJsonSerializer(ExtendedActorSystem system, Config _) : base(system) { }

    public override int Identifier => JsonId;

    public override bool IncludeManifest => false;

    public override byte[] ToBinary(object obj)
        => throw new SerializationException(
            $"Refused to serialize {obj?.GetType().FullName ?? "null"} as JSON: Fabric sends only IFabricMessage types (serializer {FabricHyperionSerializer.SerializerId})");

    public override object FromBinary(byte[] bytes, Type type)
        => throw new SerializationException(
            $"Refused a payload under serializer id {JsonId} (Akka's JSON, which would construct any type it names): Fabric reads only IFabricMessage types (serializer {FabricHyperionSerializer.SerializerId})");
}
