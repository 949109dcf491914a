using Akka.Actor;
using Fabric.Actors.Serialization;

namespace Fabric.Actors.Tests.Serialization;

/// <summary>
/// A hostile peer's serializer: plain Hyperion under our serializer id, so that it can put any type on
/// the wire. Only ever bound in tests, on the sending node.
/// </summary>
public sealed class UnrestrictedHyperionSerializer(ExtendedActorSystem system) : Akka.Serialization.Serializer(system)
{
    private readonly Hyperion.Serializer _plain = new(Hyperion.SerializerOptions.Default.WithDisallowUnsafeType(false));

    public override int Identifier => FabricHyperionSerializer.SerializerId;
    public override bool IncludeManifest => false;

    public override byte[] ToBinary(object obj)
    {
        using var stream = new MemoryStream();
        _plain.Serialize(obj, stream);
        return stream.ToArray();
    }

    public override object FromBinary(byte[] bytes, Type type) => throw new NotSupportedException("send-only");
}
