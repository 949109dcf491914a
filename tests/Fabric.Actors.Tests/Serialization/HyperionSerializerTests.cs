using System.Text;
using Akka.Actor;
using Fabric.Actors.Intent;
using Fabric.Actors.Serialization;
using Fabric.Actors.Tests.Support;

namespace Fabric.Actors.Tests.Serialization;

/// <summary>A message type that lives in the test assembly: it must never be accepted off the wire.</summary>
public sealed record Sneaky(string Command) : IFabricMessage;

/// <summary>One ActorSystem for all serialization cases (starting one per case costs more than the tests).</summary>
public sealed class SerializationFixture : IDisposable
{
    public ActorSystem System { get; } = ActorSystem.Create("serialization", TestConfigs.LocalWithGatedJournal());
    public void Dispose() => System.Terminate().Wait(TimeSpan.FromSeconds(10));
}

public sealed class HyperionSerializerTests(SerializationFixture fixture) : IClassFixture<SerializationFixture>
{
    private ActorSystem Sys => fixture.System;
    private Akka.Serialization.Serializer Fabric => Sys.Serialization.FindSerializerForType(typeof(CreateNetwork));

    public static IEnumerable<object[]> Messages()
    {
        var state = FabricConfiguration.Empty;
        var events = new List<ConfigurationEvent>();
        foreach (var command in RichConfiguration.Commands)
        {
            var accept = (Decision.Accept)state.Decide(command);
            events.AddRange(accept.Events);
            state = state.ApplyAll(accept.Events);
        }
        IEnumerable<object> all =
        [
            .. RichConfiguration.Commands,
            .. events,
            new DeleteNetwork("net-1"), new DeleteSubnet("net-1", "sub-1"), new DeleteRouteTable("net-1", "x"),
            new RemoveRoute("net-1", "main", "0.0.0.0/0"), new RemoveExternalVtep("net-2", "198.51.100.7", 4789),
            new DeleteEndpoint("ep-1"), new BindSubnetRouteTable("net-1", "sub-1", "main"),
            new NetworkDeleted("net-1"), new SubnetDeleted("net-1", "sub-1"), new SubnetRouteTableBound("net-1", "sub-1", "x"),
            new RouteTableDeleted("net-1", "x"), new RouteRemoved("net-1", "main", Dataplane.Packets.Ipv4Prefix.Parse("0.0.0.0/0")),
            new ExternalVtepRemoved("net-2", new ExternalVtep(Dataplane.Packets.Ipv4Address.Parse("198.51.100.7"), 4789)),
            new EndpointDeleted("ep-1"),
            GetConfiguration.Instance,
            new CommandAccepted(events, events.Count),
            new CommandAccepted([], 3),
            new CommandRejected(Rejection.Conflict("vni", "vni-in-use", "VNI 5001 is already used by network blue")),
            new CommandFailed("disk full"),
            new Deadlined(new CreateNetwork("blue", 5001, "l3", "10.0.0.0/16"), new DateTime(2030, 1, 2, 3, 4, 5, 678, DateTimeKind.Utc)),
            new CommandExpired("late"),
            new StoreUnavailable("the store is down"),
            ConfigurationListing.Of(state, events.Count),
        ];
        return all.Select(m => new object[] { m });
    }

    [Fact]
    public void Fabric_messages_are_bound_to_the_hyperion_adapter()
    {
        Assert.IsType<HyperionSerializer>(Fabric);
        Assert.Equal(HyperionSerializer.SerializerId, Fabric.Identifier);
        Assert.IsType<HyperionSerializer>(Sys.Serialization.FindSerializerFor(new EndpointCreated(null!)));
    }

    [Theory]
    [MemberData(nameof(Messages))]
    public void Round_trips(object message)
    {
        var bytes = Fabric.ToBinary(message);
        var back = Sys.Serialization.Deserialize(bytes, HyperionSerializer.SerializerId, "");
        Assert.Equal(message.GetType(), back.GetType());
        switch (message)
        {
            case ConfigurationListing listing:
                Assert.Equal(listing.ToCanonicalJson(), ((ConfigurationListing)back).ToCanonicalJson());
                break;
            case CommandAccepted accepted:
                var acceptedBack = (CommandAccepted)back;
                Assert.Equal(accepted.Revision, acceptedBack.Revision);
                Assert.Equal(accepted.Events, acceptedBack.Events);
                break;
            default:
                Assert.Equal(message, back);
                break;
        }
    }

    [Fact]
    public void Actor_references_travel_as_paths()
    {
        // no Fabric message carries an IActorRef yet; check the surrogate's path resolves back to the actor
        var actor = Sys.ActorOf(Props.Empty, "some-actor");
        var surrogate = new ActorRefSurrogate(Akka.Serialization.Serialization.SerializedActorPath(actor));
        var resolved = ((ExtendedActorSystem)Sys).Provider.ResolveActorRef(surrogate.Path);
        Assert.Equal(actor, resolved);
    }

    [Fact]
    public void A_test_assembly_type_is_refused()
    {
        var bytes = Unrestricted(new Sneaky("rm -rf /"));
        var e = Assert.Throws<RefusedTypeException>(() => Sys.Serialization.Deserialize(bytes, HyperionSerializer.SerializerId, ""));
        Assert.Contains("Fabric.Actors.Tests.Serialization.Sneaky", e.TypeName);
        Assert.Contains("not on the allow-list", e.Message);
    }

    [Fact]
    public void A_bcl_type_outside_the_list_is_refused()
    {
        var bytes = Unrestricted(new FileInfo("/etc/passwd"));
        var e = Assert.Throws<RefusedTypeException>(() => Fabric.FromBinary(bytes, null!));
        Assert.Contains("System.IO.FileInfo", e.TypeName);
    }

    [Fact]
    public void A_refused_generic_argument_refuses_the_whole_type()
    {
        var bytes = Unrestricted(new List<Sneaky> { new("x") });
        var e = Assert.Throws<RefusedTypeException>(() => Fabric.FromBinary(bytes, null!));
        Assert.Contains("Sneaky", e.Message);
    }

    [Fact]
    public void The_check_comes_before_the_type_is_resolved()
    {
        // Rename the type's assembly to one that does not exist (same length keeps Hyperion's length prefix
        // valid). Were the type resolved first, this would fail with a load error; it fails with the refusal.
        var bytes = Unrestricted(new Sneaky("x"));
        var text = Encoding.Latin1.GetString(bytes);
        Assert.Contains("Fabric.Actors.Tests", text);
        var patched = Encoding.Latin1.GetBytes(text.Replace("Fabric.Actors.Tests", "Nowhere.Gadget.Asm1", StringComparison.Ordinal));
        var e = Assert.Throws<RefusedTypeException>(() => Fabric.FromBinary(patched, null!));
        Assert.Contains("Nowhere.Gadget.Asm1", e.Message);
    }

    [Fact]
    public void A_non_fabric_object_is_not_serialized()
        => Assert.Throws<ArgumentException>(() => Fabric.ToBinary("just a string"));

    [Theory]
    [InlineData("Fabric.Actors.Intent.CreateNetwork, Fabric.Actors", true)]
    [InlineData("Fabric.Actors.Intent.CreateNetwork, Fabric.Actors, Version=1.0.0.0, Culture=neutral, PublicKeyToken=null", true)]
    [InlineData("Fabric.Dataplane.Packets.Ipv4Prefix, Fabric.Dataplane", true)]
    [InlineData("System.Nullable`1[[Fabric.Dataplane.Packets.Ipv4Address, Fabric.Dataplane]],%core%", true)]
    [InlineData("Fabric.Actors.Intent.Subnet[], Fabric.Actors", true)]
    [InlineData("System.Collections.Immutable.ImmutableList`1[[System.String, System.Private.CoreLib]], System.Collections.Immutable", true)]
    [InlineData("System.Collections.Generic.Dictionary`2[[System.String,%core%],[Fabric.Actors.Intent.Endpoint, Fabric.Actors]],%core%", true)]
    [InlineData("System.IO.FileInfo, System.Private.CoreLib", false)]
    [InlineData("System.Diagnostics.Process, System.Diagnostics.Process", false)]
    [InlineData("Fabric.Actors.Tests.Serialization.Sneaky, Fabric.Actors.Tests", false)]
    [InlineData("Fabric.Actors.Intent.CreateNetwork, Fabric.Actors.Tests", false)]
    [InlineData("Evil.Gadget, Fabric.Actors", false)]
    [InlineData("System.String, Evil", false)]
    [InlineData("System.Collections.Generic.List`1[[System.IO.FileInfo, System.Private.CoreLib]], System.Private.CoreLib", false)]
    [InlineData("System.Nullable`1[[Fabric.Dataplane.Packets.Ipv4Address, Fabric.Dataplane]],%core%]", false)]
    [InlineData("", false)]
    public void The_allow_list(string typeName, bool allowed)
        => Assert.Equal(allowed, TypeAllowList.IsAllowedName(typeName, out _));

    private static byte[] Unrestricted(object value)
    {
        var plain = new Hyperion.Serializer(Hyperion.SerializerOptions.Default.WithDisallowUnsafeType(false));
        using var stream = new MemoryStream();
        plain.Serialize(value, stream);
        return stream.ToArray();
    }
}
