using Akka.Actor;
using Hyperion;
using AkkaSerializer = Akka.Serialization.Serializer;

namespace Fabric.Actors.Serialization;

/// <summary>
/// Akka serializer for our application messages and persisted events (everything that implements
/// <see cref="IFabricMessage"/>, bound in hocon/fabric.conf), written with Hyperion 0.12.
/// </summary>
/// <remarks>
/// Hyperion names the type of every object it writes; on the way in, each of those names passes
/// <see cref="TypeAllowList"/> before the type is even resolved, so a payload naming anything else
/// (a gadget type, a test type, a type of another application) is refused with
/// <see cref="RefusedTypeException"/> and nothing is instantiated. ISerializable is ignored (no custom
/// deserialization constructors run), object references are not preserved (our messages are trees),
/// and actor references travel as their serialized path.
/// </remarks>
public sealed class HyperionSerializer : AkkaSerializer
{
    /// <summary>Serializer id stored with every journal row: never change it once data exists.</summary>
    public const int SerializerId = 7431;

    private readonly Hyperion.Serializer _hyperion;

    public HyperionSerializer(ExtendedActorSystem system) : base(system)
    {
        var options = SerializerOptions.Default
            .WithVersionTolerance(true)
            .WithPreserveObjectReferences(false)
            .WithIgnoreSerializable(true)
            .WithSurrogates(
            [
                Surrogate.Create<IActorRef, ActorRefSurrogate>(
                    actorRef => new ActorRefSurrogate(Akka.Serialization.Serialization.SerializedActorPath(actorRef)),
                    surrogate => system.Provider.ResolveActorRef(surrogate.Path)),
            ])
            .WithDisallowUnsafeType(true)
            .WithTypeFilter(TypeAllowList.Instance);
        _hyperion = new Hyperion.Serializer(options);
    }

    public override int Identifier => SerializerId;

    /// <summary>Hyperion writes the type into the payload itself.</summary>
    public override bool IncludeManifest => false;

    public override byte[] ToBinary(object obj)
    {
        if (obj is not IFabricMessage)
            throw new ArgumentException($"{obj.GetType()} is not an {nameof(IFabricMessage)}; only Fabric messages use this serializer", nameof(obj));
        using var stream = new MemoryStream();
        _hyperion.Serialize(obj, stream);
        return stream.ToArray();
    }

    public override object FromBinary(byte[] bytes, Type? type)
    {
        object? result;
        try
        {
            using var stream = new MemoryStream(bytes, writable: false);
            result = _hyperion.Deserialize(stream);
        }
        catch (Exception e) when (FindRefusal(e) is { } refusal && refusal != e)
        {
            throw refusal;
        }
        catch (Hyperion.Internal.EvilDeserializationException e)
        {
            // Hyperion's own deny-list (file system, process, delegate... types) caught it before our allow-list.
            throw new RefusedTypeException(e.BadTypeString, "it is on Hyperion's list of unsafe types");
        }
        // Belt and braces: the top-level object must be one of ours even if every name on the way was allowed.
        if (result is not IFabricMessage)
            throw new RefusedTypeException(result?.GetType().FullName ?? "null", "the top-level object is not a Fabric message");
        return result;
    }

    private static RefusedTypeException? FindRefusal(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
            if (e is RefusedTypeException r) return r;
        return null;
    }
}

/// <summary>How an <see cref="IActorRef"/> travels inside a Hyperion payload.</summary>
public sealed record ActorRefSurrogate(string Path);
