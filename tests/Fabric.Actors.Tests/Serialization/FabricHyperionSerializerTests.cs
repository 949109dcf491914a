using System.Collections.Immutable;
using System.Diagnostics;
using System.Runtime.Serialization;
using System.Text;
using Akka.Actor;
using Fabric.Actors.Intent;
using Fabric.Actors.Locations;
using Fabric.Actors.Node;
using Fabric.Actors.Serialization;
using Fabric.Actors.Tests.Support;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Tables;

namespace Fabric.Actors.Tests.Serialization;

/// <summary>A message type that lives in the test assembly: it must never be accepted off the wire.</summary>
public sealed record Sneaky(string Command) : IFabricMessage;

/// <summary>Records the initialisations of the gadget types below (reading it initialises none of them).</summary>
public static class GadgetWitness
{
    private static readonly int[] Initialisations = new int[5];
    public static int Initialised(int gadget) => Volatile.Read(ref Initialisations[gadget]);
    public static void Initialise(int gadget) => Interlocked.Increment(ref Initialisations[gadget]);
}

/// <summary>What the hostile peer serializes: its name is then rewritten into a gadget's (same length).</summary>
public sealed class GadgetDecoy
{
    public string Command = "";
}

/// <summary>
/// A type outside the filter that no test ever touches in code: nothing but a payload naming it could initialise it,
/// and its static constructor (which runs before any instance exists, constructor or not) tells the witness.
/// </summary>
public sealed class GadgetBomb1
{
    static GadgetBomb1() => GadgetWitness.Initialise(1);
    public string Command = "";
}

/// <summary>
/// The same, for the control that shows the witness sees a construction. A second type because Hyperion caches every
/// type it has resolved process-wide and skips the filter for it afterwards (0.12.2): once plain Hyperion has built
/// one, the filtered serializer would no longer be asked about it.
/// </summary>
public sealed class GadgetBomb2
{
    static GadgetBomb2() => GadgetWitness.Initialise(2);
    public string Command = "";
}

/// <summary>One ActorSystem for all serialization cases (starting one per case costs more than the tests).</summary>
public sealed class SerializationFixture : IDisposable
{
    public ActorSystem System { get; } = ActorSystem.Create("serialization", TestConfigs.LocalWithGatedJournal());
    public void Dispose() => System.Terminate().Wait(TimeSpan.FromSeconds(10));
}

public sealed class FabricHyperionSerializerTests(SerializationFixture fixture) : IClassFixture<SerializationFixture>
{
    private ActorSystem Sys => fixture.System;
    private Akka.Serialization.Serializer Fabric => Sys.Serialization.FindSerializerForType(typeof(CreateNetwork));

    private static readonly MacAddress Mac = MacAddress.Parse("02:00:00:00:00:01");
    private static readonly VtepEndpoint Underlay = new(Ipv4Address.Parse("192.0.2.1"));

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
        var location = new EndpointLocation(5001, Mac, Ipv4Address.Parse("10.0.0.1"), Underlay, "node-1", 3, LocationOrigin.Learned);
        var drops = new Dictionary<string, long> { ["ArpUnresolved"] = 3, ["UnknownVni"] = 1 };
        IEnumerable<object> all =
        [
            .. RichConfiguration.Commands,
            .. events,
            new DeleteNetwork("net-1"), new DeleteSubnet("net-1", "sub-1"), new DeleteRouteTable("net-1", "x"),
            new RemoveRoute("net-1", "main", "0.0.0.0/0"), new RemoveExternalVtep("net-2", "198.51.100.7", 4789),
            new DeleteEndpoint("ep-1"), new BindSubnetRouteTable("net-1", "sub-1", "main"),
            new NetworkDeleted("net-1"), new SubnetDeleted("net-1", "sub-1"), new SubnetRouteTableBound("net-1", "sub-1", "x"),
            new RouteTableDeleted("net-1", "x"), new RouteRemoved("net-1", "main", Ipv4Prefix.Parse("0.0.0.0/0")),
            new ExternalVtepRemoved("net-2", new ExternalVtep(Ipv4Address.Parse("198.51.100.7"), 4789)),
            new EndpointDeleted("ep-1"),
            GetConfiguration.Instance,
            new CommandAccepted(events, events.Count),
            new CommandAccepted([], 3),
            new CommandAccepted(new List<ConfigurationEvent> { events[0] }, 1),
            new CommandAccepted(ImmutableList.Create(events[0], events[1]), 2),
            new CommandRejected(Rejection.Conflict("vni", "vni-in-use", "VNI 5001 is already used by network blue")),
            new CommandFailed("disk full"),
            new Deadlined(new CreateNetwork("blue", 5001, "l3", "10.0.0.0/16"), new DateTime(2030, 1, 2, 3, 4, 5, 678, DateTimeKind.Utc)),
            new CommandExpired("late"),
            new StoreUnavailable("the store is down"),
            ConfigurationListing.Of(state, events.Count),
            // the per-node views, with what made them fail across nodes: dictionaries (drops by reason)
            GetCounters.Instance, new GetFdb(5001), new GetFdb(null), new GetRoutes(5001, "main"), new GetFloodGroup(5001),
            new CounterListing("node-2",
                new[] { new CounterSet("vm-1", 1, 2, 3, 4, 0, 0, 0, 0, drops) },
                new List<CounterSet> { new("blue (vni 5001)", 1, 2, 3, 4, 5, 6, 7, 8, new Dictionary<string, long>()) },
                drops, 0, 42),
            new CounterListing("node-2", Array.Empty<CounterSet>(), ImmutableArray<CounterSet>.Empty, drops.ToImmutableDictionary(), 0, 1),
            new FdbListing("node-2", new List<FdbRow> { new(5001, "02:00:00:00:00:01", "10.0.0.1", "local:vm-1", "config", 0), new(5001, "02:00:00:00:00:02", null, "vtep:192.0.2.1:4789", "learned", 7) }),
            new RouteListing("node-2", new List<RouteRow> { new("main", "172.16.0.0/12", "blackhole", null) }),
            new FloodGroupListing("node-2", 5001, new[] { "192.0.2.1:4789" }, new[] { "192.0.2.2:4789" }),
            new GetDrops("TooBig", 5), new GetDrops(null, 50),
            new DropListing("node-2", true, 16, new[]
            {
                new DropRow("NoRoute", new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero), "vm-1", null, 5001, 98,
                    new DropEthernet("02:00:00:00:00:01", "02:fa:b0:00:13:89", "0x0800", null), null,
                    new DropIpv4("10.0.0.1", "10.9.9.9", "tcp", 64, 84, true, false), new DropTransport("tcp", 40000, 443, "SYN", null, null),
                    null, "10.0.0.1 → 10.9.9.9 tcp 40000 → 443 [SYN], 98 bytes", "02000000"),
                new DropRow("UnknownVni", new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero), null, "192.0.2.1:4789", null, 20, null,
                    new DropArp("request", "02:00:00:00:00:01", "10.0.0.1", "00:00:00:00:00:00", "10.0.0.2"), null, null, "flags 0x08 vni 9", "arp", "08"),
            }),
            new DropListing("node-3", false, 0, Array.Empty<DropRow>()),
            new PingFromEndpoint("ep-1", "10.0.0.2", 3, 64),
            new PingReply(3, 2, new[] { 0.5, 0.7 }, new[] { 64, 64 }),
            new NodeIdentity("node-1", Underlay, "http://127.0.0.1:8080"),
            new ConfigurationChanged(7),
            // locations and alarms
            new AnnounceLocation(location), new WithdrawLocation(5001, Mac), new WithdrawNode("node-3"),
            new LocationsChanged(5001, ImmutableDictionary<string, EndpointLocation>.Empty.Add(location.Key, location)),
            new LocationRefused(location, "frozen"), new GetLocations(5001), GetLocations.Followed, GetMobilityAlarms.Instance, new ClearMobilityFreeze(5001, Mac),
            new DuplicateMacAlarm(5001, Mac, 6, TimeSpan.FromSeconds(180), new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero), "node-2"),
            // the sharded VNI directories and what they push to the nodes that follow a VNI
            new VniWithdraw(5001, Mac), new VniWithdrawNode(5001, "node-3"),
            new VniClearFreeze(5001, Mac), new VniGet(5001), new VniLocationsSnapshot(5001, 7, new[] { location }),
            new VniLocationsDelta(5001, 7, 3, new[] { location }, new[] { location.Key },
                new[] { new DuplicateMacAlarm(5001, Mac, 6, TimeSpan.FromSeconds(180), new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero), "node-2") }),
            new AddressConflictAlarm(5001, Ipv4Address.Parse("10.0.0.9"), Mac, MacAddress.Parse("02:00:00:00:00:09"), "node-2",
                new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero)),
        ];
        return all.Select(m => new object[] { m });
    }

    [Fact]
    public void Fabric_messages_are_bound_to_the_package_serializer_under_the_journal_id()
    {
        Assert.IsType<FabricHyperionSerializer>(Fabric);
        Assert.IsAssignableFrom<Akka.Serialization.HyperionSerializer>(Fabric);
        Assert.Equal(7431, Fabric.Identifier);
        Assert.IsType<FabricHyperionSerializer>(Sys.Serialization.FindSerializerFor(new EndpointCreated(null!)));
        Assert.IsType<FabricHyperionSerializer>(Sys.Serialization.FindSerializerFor(GetCounters.Instance));
    }

    [Theory]
    [MemberData(nameof(Messages))]
    public void Round_trips(object message)
    {
        var bytes = Fabric.ToBinary(message);
        var back = Sys.Serialization.Deserialize(bytes, FabricHyperionSerializer.SerializerId, "");
        Assert.Equal(message.GetType(), back.GetType());
        // records compare their collections by reference: compare what they hold, as JSON
        Assert.Equal(Canonical(message), Canonical(back));
    }

    [Fact]
    public void A_list_the_product_builds_with_a_collection_expression_round_trips()
    {
        // FabricConfiguration.Decide answers Accept([event]): C# makes that list a class of its own, emitted into
        // Fabric.Actors, and CommandAccepted carries it as it is to whichever node asked.
        var accept = (Decision.Accept)FabricConfiguration.Empty.Decide(RichConfiguration.Commands[0]);
        Assert.StartsWith("<>z__", accept.Events.GetType().Name);
        var message = new CommandAccepted(accept.Events, 1);
        var back = (CommandAccepted)Sys.Serialization.Deserialize(Fabric.ToBinary(message), FabricHyperionSerializer.SerializerId, "");
        Assert.Equal(accept.Events, back.Events);
    }

    [Fact]
    public void Journal_rows_are_the_bytes_the_hand_written_adapter_wrote()
    {
        // The retired adapter was Hyperion 0.12 with these options (and no actor reference in any persisted event):
        // rows it wrote must read back, and rows written now must be the same bytes.
        var adapter = new Hyperion.Serializer(Hyperion.SerializerOptions.Default
            .WithVersionTolerance(true).WithPreserveObjectReferences(false).WithIgnoreSerializable(true));
        foreach (var message in Messages().Select(m => m[0]).OfType<ConfigurationEvent>())
        {
            using var stream = new MemoryStream();
            adapter.Serialize(message, stream);
            Assert.Equal(stream.ToArray(), Fabric.ToBinary(message));
            Assert.Equal(Canonical(message), Canonical(Sys.Serialization.Deserialize(stream.ToArray(), FabricHyperionSerializer.SerializerId, "")));
        }
    }

    [Fact]
    public void Actor_references_travel_as_paths()
    {
        var actor = Sys.ActorOf(Props.Empty, "some-actor");
        var back = (SubscribeLocations)Sys.Serialization.Deserialize(Fabric.ToBinary(new SubscribeLocations(5001, actor)), FabricHyperionSerializer.SerializerId, "");
        Assert.Equal(actor, back.Subscriber);
        var gone = (UnsubscribeLocations)Sys.Serialization.Deserialize(Fabric.ToBinary(new UnsubscribeLocations(5001, actor)), FabricHyperionSerializer.SerializerId, "");
        Assert.Equal(actor, gone.Subscriber);
        var location = new EndpointLocation(5001, Mac, Ipv4Address.Parse("10.0.0.1"), Underlay, "node-1", 3, LocationOrigin.Learned);
        var subscribe = (VniSubscribe)Sys.Serialization.Deserialize(Fabric.ToBinary(new VniSubscribe(5001, actor, 42, [location])), FabricHyperionSerializer.SerializerId, "");
        Assert.Equal((actor, 42L, location), (subscribe.Directory, subscribe.NodeUid, subscribe.Locals.Single()));
        var announce = (VniAnnounce)Sys.Serialization.Deserialize(Fabric.ToBinary(new VniAnnounce(5001, location, 42, actor)), FabricHyperionSerializer.SerializerId, "");
        Assert.Equal((actor, location), (announce.ReplyTo, announce.Location));
        var unsubscribe = (VniUnsubscribe)Sys.Serialization.Deserialize(Fabric.ToBinary(new VniUnsubscribe(5001, actor)), FabricHyperionSerializer.SerializerId, "");
        Assert.Equal(actor, unsubscribe.Directory);
    }

    [Fact]
    public void A_payload_naming_a_process_is_refused()
    {
        // Hyperion cannot even write a Process: a hostile peer writes something else and names Process instead.
        var payload = Retype(Unrestricted(new GadgetDecoy { Command = "/bin/sh" }), typeof(GadgetDecoy), typeof(Process));
        Assert.Contains("System.Diagnostics.Process", Refused(payload));
    }

    [Fact]
    public void A_type_outside_the_filter_is_refused_and_never_constructed()
    {
        // The payload names GadgetBomb1, which nothing in this process has initialised: the hostile peer serialized the
        // decoy and rewrote the name (same length, so Hyperion's length prefix stays valid).
        var decoy = Unrestricted(new GadgetDecoy { Command = "rm -rf /" });
        var e = Refused(Rename(decoy, nameof(GadgetDecoy), nameof(GadgetBomb1)));
        Assert.Contains(nameof(GadgetBomb1), e);
        Assert.Equal(0, GadgetWitness.Initialised(1));

        // The witness sees a construction: plain Hyperion builds the twin bomb from the same bytes.
        var built = new Hyperion.Serializer(Hyperion.SerializerOptions.Default.WithDisallowUnsafeType(false))
            .Deserialize(new MemoryStream(Rename(decoy, nameof(GadgetDecoy), nameof(GadgetBomb2))));
        Assert.Equal("rm -rf /", Assert.IsType<GadgetBomb2>(built).Command);
        Assert.Equal(1, GadgetWitness.Initialised(2));
        Assert.Equal(0, GadgetWitness.Initialised(1));
    }

    [Fact]
    public void A_message_type_of_the_test_assembly_is_refused()
        => Assert.Contains("Fabric.Actors.Tests.Serialization.Sneaky", Refused(Unrestricted(new Sneaky("rm -rf /"))));

    [Fact]
    public void A_bcl_type_outside_the_filter_is_refused()
        => Assert.Contains("System.IO.FileInfo", Refused(Unrestricted(new FileInfo("/etc/passwd"))));

    [Fact]
    public void A_refused_generic_argument_refuses_the_whole_type()
        => Assert.Contains("Sneaky", Refused(Unrestricted(new List<Sneaky> { new("x") })));

    [Fact]
    public void A_type_of_our_own_assembly_that_is_not_message_data_is_refused()
        => Assert.Contains("FabricConfiguration", Refused(Unrestricted(new Dictionary<string, FabricConfiguration> { ["x"] = FabricConfiguration.Empty })));

    [Fact]
    public void The_check_comes_before_the_type_is_resolved()
    {
        // Rename the type's assembly to one that does not exist. Were the type resolved first, this would fail with a
        // load error; it fails with the refusal.
        var patched = Rename(Unrestricted(new Sneaky("x")), "Fabric.Actors.Tests", "Nowhere.Gadget.Asm1");
        Assert.Contains("Nowhere.Gadget.Asm1", Refused(patched));
    }

    [Theory]
    [InlineData(typeof(CreateNetwork), true)]
    [InlineData(typeof(CounterListing), true)]
    [InlineData(typeof(Dictionary<string, long>), true)]
    [InlineData(typeof(System.Collections.DictionaryEntry), true)]
    [InlineData(typeof(ImmutableDictionary<string, EndpointLocation>), true)]
    [InlineData(typeof(FdbRow[]), true)]
    [InlineData(typeof(Ipv4Prefix), true)]
    [InlineData(typeof(Process), false)]
    [InlineData(typeof(FileInfo), false)]
    [InlineData(typeof(Sneaky), false)]
    [InlineData(typeof(Dictionary<string, Sneaky>), false)]
    [InlineData(typeof(Dictionary<string, object>), false)]
    [InlineData(typeof(List<FileInfo>), false)]
    [InlineData(typeof(global::Fabric.Actors.Vtep.VtepActor), false)]
    [InlineData(typeof(FabricRuntime), false)]
    [InlineData(typeof(global::Fabric.Dataplane.Engine.DataplaneEngine), false)]
    public void The_filter(Type type, bool allowed)
    {
        Assert.Equal(allowed, FabricTypeFilter.Types.Contains(type));
        Assert.Equal(allowed, FabricTypeFilter.Instance.IsAllowed(HyperionName(type)));
        Assert.Equal(allowed, FabricTypeFilter.Instance.IsAllowed(type.AssemblyQualifiedName!)); // as asked before serializing
    }

    /// <summary>Deserializes with the configured serializer, insists on a refusal, and returns the refused type's name.</summary>
    private string Refused(byte[] payload)
    {
        var e = Assert.ThrowsAny<SerializationException>(() => Sys.Serialization.Deserialize(payload, FabricHyperionSerializer.SerializerId, ""));
        for (Exception? inner = e; inner is not null; inner = inner.InnerException)
            if (inner is Hyperion.Internal.EvilDeserializationException evil)
                return evil.BadTypeString;
        throw new Xunit.Sdk.XunitException($"not a refusal: {e}");
    }

    private static byte[] Unrestricted(object value)
    {
        var plain = new Hyperion.Serializer(Hyperion.SerializerOptions.Default.WithDisallowUnsafeType(false));
        using var stream = new MemoryStream();
        plain.Serialize(value, stream);
        return stream.ToArray();
    }

    /// <summary>Rewrites the (length-prefixed) name of <paramref name="from"/> in a payload into that of <paramref name="to"/>.</summary>
    private static byte[] Retype(byte[] payload, Type from, Type to)
    {
        var name = Encoding.UTF8.GetBytes(HyperionName(from));
        var at = payload.AsSpan().IndexOf(name);
        Assert.True(at >= 4, $"{HyperionName(from)} is not in the payload");
        Assert.Equal(name.Length, BitConverter.ToInt32(payload, at - 4));
        var replacement = Encoding.UTF8.GetBytes(HyperionName(to));
        return [.. payload[..(at - 4)], .. BitConverter.GetBytes(replacement.Length), .. replacement, .. payload[(at + name.Length)..]];
    }

    private static byte[] Rename(byte[] payload, string from, string to)
    {
        Assert.Equal(from.Length, to.Length);
        var text = Encoding.Latin1.GetString(payload);
        Assert.Contains(from, text);
        return Encoding.Latin1.GetBytes(text.Replace(from, to, StringComparison.Ordinal));
    }

    /// <summary>The name Hyperion writes for a type: assembly-qualified without version, culture or key, the core library as %core%.</summary>
    private static string HyperionName(Type type)
    {
        var core = typeof(int).AssemblyQualifiedName!;
        var name = type.AssemblyQualifiedName!.Replace(core[core.IndexOf(", Version", StringComparison.Ordinal)..], ",%core%", StringComparison.Ordinal);
        return System.Text.RegularExpressions.Regex.Replace(name, @"(, Version=([\d\.]+))?(, Culture=[^,\] \t]+)?(, PublicKeyToken=(null|[\da-f]+))?", "");
    }

    private static string Canonical(object message) => message switch
    {
        ConfigurationListing listing => listing.ToCanonicalJson(),
        _ => System.Text.Json.JsonSerializer.Serialize(message, message.GetType(), new System.Text.Json.JsonSerializerOptions { IncludeFields = true }),
    };
}
