using System.Diagnostics;
using System.Runtime.Serialization;
using System.Text;
using Akka.Actor;
using Akka.Serialization;
using Fabric.Actors.Locations;
using Fabric.Actors.Serialization;
using Fabric.Actors.Tests.Support;
using Fabric.Actors.Vtep;
using Fabric.Dataplane.Packets;

namespace Fabric.Actors.Tests.Serialization;

/// <summary>Like <see cref="GadgetBomb1"/>, for a payload under Akka's JSON serializer id; nothing in code touches it.</summary>
public sealed class GadgetBomb3
{
    static GadgetBomb3() => GadgetWitness.Initialise(3);
    public string Command = "";
}

/// <summary>The twin of <see cref="GadgetBomb3"/> for the control (Newtonsoft caches resolved types, as Hyperion does).</summary>
public sealed class GadgetBomb4
{
    static GadgetBomb4() => GadgetWitness.Initialise(4);
    public string Command = "";
}

/// <summary>
/// What a remote peer can make this node build besides Fabric's messages: Akka registers its JSON serializer (id 1,
/// Newtonsoft with <c>TypeNameHandling.All</c>) for <c>System.Object</c>, and whatever type a payload under id 1 names,
/// it loads and constructs. The remoting layer deserializes each payload with the id and manifest the sender wrote, so
/// these cases call <c>Serialization.Deserialize</c> exactly as it does.
/// </summary>
public sealed class DefaultSerializerTests(SerializationFixture fixture) : IClassFixture<SerializationFixture>
{
    private ActorSystem Sys => fixture.System;

    /// <summary>What Akka's JSON serializer writes for an object: its fields and, first, its type's name.</summary>
    private static byte[] Json(Type type, string command)
        => Encoding.UTF8.GetBytes($$"""{"$type":"{{type.FullName}}, {{type.Assembly.GetName().Name}}","Command":"{{command}}"}""");

    [Fact]
    public void A_json_payload_naming_a_process_is_refused()
    {
        var e = Assert.ThrowsAny<SerializationException>(() => Sys.Serialization.Deserialize(Json(typeof(Process), "/bin/sh"), 1, ""));
        Assert.Contains("refused", e.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void A_json_payload_naming_a_type_outside_the_filter_is_refused_and_never_constructed()
    {
        var e = Assert.ThrowsAny<SerializationException>(() => Sys.Serialization.Deserialize(Json(typeof(GadgetBomb3), "rm -rf /"), 1, ""));
        Assert.Contains("refused", e.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(0, GadgetWitness.Initialised(3));

        // The witness sees a construction: Akka's own JSON serializer builds the twin from the same kind of payload.
        var built = new NewtonSoftJsonSerializer((ExtendedActorSystem)Sys).FromBinary(Json(typeof(GadgetBomb4), "rm -rf /"), null!);
        Assert.Equal("rm -rf /", Assert.IsType<GadgetBomb4>(built).Command);
        Assert.Equal(1, GadgetWitness.Initialised(4));
        Assert.Equal(0, GadgetWitness.Initialised(3));
    }

    [Fact]
    public void A_json_payload_with_a_manifest_is_refused()
    {
        // A manifest names the type too; the serializer must not resolve it either.
        Assert.ThrowsAny<SerializationException>(() => Sys.Serialization.Deserialize(Json(typeof(Process), "x"), 1, typeof(Process).AssemblyQualifiedName!));
        Assert.ThrowsAny<SerializationException>(() => Sys.Serialization.Deserialize(Json(typeof(GadgetBomb3), "x"), 1, typeof(GadgetBomb3).AssemblyQualifiedName!));
        Assert.Equal(0, GadgetWitness.Initialised(3));
    }

    [Fact]
    public void The_package_hyperion_serializer_is_not_registered()
    {
        // Akka.Serialization.Hyperion's reference config names an unfiltered serializer (id -5); it must not be reachable.
        var payload = new FabricHyperionSerializer((ExtendedActorSystem)Sys).ToBinary(new WithdrawNode("node-1"));
        Assert.ThrowsAny<Exception>(() => Sys.Serialization.Deserialize(payload, -5, ""));
    }

    [Fact]
    public void Anything_not_bound_otherwise_goes_through_the_filter()
    {
        Assert.IsType<FabricHyperionSerializer>(Sys.Serialization.FindSerializerForType(typeof(object)));
        Assert.IsType<FabricHyperionSerializer>(Sys.Serialization.FindSerializerFor(new Dictionary<string, string>()));
        // ...so an unfiltered type is refused on the way out too, rather than sent and then refused by the peer.
        Assert.ThrowsAny<Exception>(() => Sys.Serialization.FindSerializerFor(new GadgetDecoy()).ToBinary(new GadgetDecoy()));
    }

    [Fact]
    public async Task Akka_messages_keep_their_own_serializers()
    {
        // Akka.Remote, Cluster, DData and the cluster tools bring their bindings when they start; their reference
        // configurations, merged without starting them (no port is bound), register the same.
        var config = TestConfigs.LocalWithGatedJournal()
            .WithFallback(Akka.Configuration.ConfigurationFactory.FromResource<Akka.Remote.RemoteActorRefProvider>("Akka.Remote.Configuration.Remote.conf"))
            .WithFallback(Akka.Configuration.ConfigurationFactory.FromResource<Akka.Cluster.Cluster>("Akka.Cluster.Configuration.Cluster.conf"))
            .WithFallback(Akka.DistributedData.DistributedData.DefaultConfig())
            .WithFallback(Akka.Cluster.Tools.PublishSubscribe.DistributedPubSub.DefaultConfig())
            .WithFallback(Akka.Cluster.Tools.Singleton.ClusterSingleton.DefaultConfig());
        var system = ActorSystem.Create("akka-bindings", config);
        object[] akka =
        [
            new Identify(null), "text", 42, 42L, ActorRefs.Nobody, new Status.Failure(new InvalidOperationException("x")), PoisonPill.Instance,
            new Akka.Cluster.Tools.PublishSubscribe.Publish("topic", new WithdrawNode("n")),
            Akka.DistributedData.LWWDictionary<string, EndpointLocation>.Empty,
        ];
        foreach (var message in akka)
        {
            var serializer = system.Serialization.FindSerializerFor(message);
            Assert.False(serializer is FabricHyperionSerializer or RefusingJsonSerializer, $"{message.GetType()} went to {serializer.GetType()}");
        }
        Assert.IsType<FabricHyperionSerializer>(system.Serialization.FindSerializerForType(typeof(object)));
        Assert.ThrowsAny<SerializationException>(() => system.Serialization.Deserialize(Json(typeof(Process), "x"), 1, ""));
        await system.Terminate();
    }

    public static IEnumerable<object[]> Replies()
    {
        var mac = MacAddress.Parse("02:00:00:00:00:01");
        var at = new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero);
        return new object[]
        {
            // asked of another node's VTEP and location directory (CrossNodeViewTests, the HTTP alarm views)
            new GetVtep(5001), GetConflictAlarms.Instance,
            new[] { new AddressConflictAlarm(5001, Ipv4Address.Parse("10.0.0.9"), mac, MacAddress.Parse("02:00:00:00:00:09"), "node-2", at) },
            Array.Empty<AddressConflictAlarm>(),
            new[] { new DuplicateMacAlarm(5001, mac, 6, TimeSpan.FromSeconds(180), at, "node-2") },
        }.Select(m => new[] { m });
    }

    [Theory]
    [MemberData(nameof(Replies))]
    public void What_crosses_between_nodes_travels_filtered(object message)
    {
        var serializer = Sys.Serialization.FindSerializerFor(message);
        Assert.IsType<FabricHyperionSerializer>(serializer);
        var back = Sys.Serialization.Deserialize(serializer.ToBinary(message), serializer.Identifier, "");
        Assert.Equal(message.GetType(), back.GetType());
        if (message is Array a) Assert.Equal(a.Cast<object>(), ((Array)back).Cast<object>());
        else Assert.Equal(message, back);
    }
}
