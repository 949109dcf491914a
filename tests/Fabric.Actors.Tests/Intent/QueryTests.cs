using Fabric.Actors.Intent;
using Fabric.Actors.Tests.Serialization;

namespace Fabric.Actors.Tests.Intent;

/// <summary>
/// Targeted reads: one entity, or a bounded page, whatever the fabric's size; pages cover a list exactly once. Sizes are
/// measured with the serializer that carries them between nodes.
/// </summary>
public sealed class QueryTests(SerializationFixture fixture) : IClassFixture<SerializationFixture>
{
    /// <summary>Akka.Remote's default maximum frame (akka.remote.dot-netty.tcp.maximum-frame-size).</summary>
    private const int MaxFrame = 128_000;

    private static readonly Lazy<FabricConfiguration> Big = new(() => Build(networks: 20, perNetwork: 500));

    /// <summary>Networks net-1..net-N (l2, with a cidr) of endpoints spread over node-1..node-3.</summary>
    private static FabricConfiguration Build(int networks, int perNetwork)
    {
        var s = FabricConfiguration.Empty;
        for (var n = 1; n <= networks; n++)
        {
            s = s.ApplyAll(((Decision.Accept)s.Decide(new CreateNetwork($"n{n}", 1000 + n, "l2", $"10.{n}.0.0/16"))).Events);
            var items = Enumerable.Range(0, perNetwork)
                .Select(i => new CreateEndpoint($"vm-with-a-longish-name-{n}-{i}", $"net-{n}", $"node-{i % 3 + 1}", new EndpointPortSpec("guest")))
                .ToArray();
            s = s.ApplyAll(((Decision.Accept)s.Decide(new CreateEndpoints(items))).Events);
        }
        return s;
    }

    private int Size(object message) => fixture.System.Serialization.FindSerializerFor(message).ToBinary(message).Length;

    [Fact]
    public void One_endpoint_in_a_fabric_of_many_is_one_small_message()
    {
        var answer = Assert.IsType<EndpointAnswer>(Big.Value.Answer(new GetEndpoint("ep-4321"), 77));
        Assert.Equal("ep-4321", answer.Endpoint!.Id);
        Assert.Equal(77, answer.Revision);
        Assert.Null(Assert.IsType<EndpointAnswer>(Big.Value.Answer(new GetEndpoint("ep-999999"), 77)).Endpoint);
        var size = Size(answer);
        var whole = Size(ConfigurationListing.Of(Big.Value, 77));
        Console.WriteLine($"GetEndpoint answer: {size} bytes; the whole listing of {Big.Value.Endpoints.Count} endpoints: {whole} bytes");
        Assert.True(size < 1_000, $"{size} bytes");
        Assert.True(whole > 100 * size, $"whole listing {whole} bytes");
    }

    [Fact]
    public void A_full_page_of_endpoints_and_of_networks_fits_in_one_frame()
    {
        var page = Assert.IsType<EndpointPage>(Big.Value.Answer(new ListEndpoints(), 1));
        Assert.Equal(ConfigurationQueries.MaxEndpointPage, page.Endpoints.Count);
        var size = Size(page);
        Console.WriteLine($"a page of {page.Endpoints.Count} endpoints: {size} bytes ({size / page.Endpoints.Count} per endpoint)");
        Assert.True(size < MaxFrame / 2, $"{size} bytes");

        var networks = Assert.IsType<NetworkPage>(Big.Value.Answer(new ListNetworks(), 1));
        Console.WriteLine($"a page of {networks.Networks.Count} networks: {Size(networks)} bytes");
        Assert.True(Size(networks) < MaxFrame / 2);

        // a bulk part both ways
        var part = new StageBulkPart(Guid.NewGuid(), 0, new CreateEndpoints(Enumerable.Range(0, BulkTransfer.PartItems)
            .Select(i => new CreateEndpoint($"vm-with-a-longish-name-{i}", "net-1", "node-1", new EndpointPortSpec("guest"), Ip: $"10.1.{i / 250}.{i % 250 + 1}"))
            .ToArray()));
        var events = Big.Value.EndpointsOf("net-1").Take(BulkTransfer.PartItems).Select(e => (ConfigurationEvent)new EndpointCreated(e)).ToArray();
        var result = new BulkResultPart(Guid.NewGuid(), 0, events);
        Console.WriteLine($"a bulk part of {BulkTransfer.PartItems} creates: {Size(part)} bytes; of {events.Length} created events: {Size(result)} bytes");
        Assert.True(Size(part) < MaxFrame / 2 && Size(result) < MaxFrame / 2);
        Assert.Equal(events, Assert.IsType<BulkResultPart>(fixture.System.Serialization.Deserialize(
            fixture.System.Serialization.FindSerializerFor(result).ToBinary(result), fixture.System.Serialization.FindSerializerFor(result).Identifier, typeof(BulkResultPart))).Events);
    }

    public static IEnumerable<object[]> NewMessages()
    {
        var e = Big.Value.Endpoints["ep-7"];
        var t = Guid.NewGuid();
        // Arrays, as the production code sends: the type filter admits no collection type of the test assembly.
        object[] all =
        [
            new GetEndpoint("ep-7"), new EndpointAnswer(3, e), new EndpointAnswer(3, null), new GetNetwork("net-1"),
            new NetworkAnswer(3, FabricConfiguration.ViewOf(Big.Value.Networks["net-1"])), new ListNetworks("net-2", 5),
            new NetworkPage(3, new[] { FabricConfiguration.ViewOf(Big.Value.Networks["net-1"]) }, "net-1"), new ListEndpoints("net-1", "node-1", "net-1", "ep-3", 10),
            new EndpointPage(3, new[] { e }, "net-1", "ep-7"), new EndpointPage(3, Array.Empty<Endpoint>(), null, null), new FindNetworksByVni(new[] { 1001, 1002 }),
            new NetworkVnis(3, new[] { new NetworkVni("net-1", 1001) }),
            new CreateEndpoints(new[] { new CreateEndpoint("a", "net-1", "node-1", new EndpointPortSpec("guest"), Ip: "10.1.0.9/16") }),
            new DeleteEndpoints(new[] { "ep-1", "ep-2" }),
            new StageBulkPart(t, 0, new DeleteEndpoints(new[] { "ep-1" })), new BulkPartStaged(t, 0),
            new Deadlined(new CommitBulk(t, 2, 2, new DeleteEndpoints(new[] { "ep-2" })), new DateTime(2030, 1, 1, 0, 0, 0, DateTimeKind.Utc)),
            new BulkAccepted(t, 9, 800), new FetchBulkResult(t, 400), new BulkResultPart(t, 400, null), new BulkInterrupted("lost"),
            new ConfigurationOverloaded("behind", TimeSpan.FromSeconds(1)),
        ];
        return all.Select(m => new[] { m });
    }

    [Theory]
    [MemberData(nameof(NewMessages))]
    public void The_new_messages_cross_the_wire(object message)
    {
        var serialization = fixture.System.Serialization;
        var serializer = serialization.FindSerializerFor(message);
        Assert.IsType<Fabric.Actors.Serialization.FabricHyperionSerializer>(serializer);
        var back = serialization.Deserialize(serializer.ToBinary(message), serializer.Identifier, message.GetType());
        var json = ConfigurationListing.CreateJsonOptions(indented: false);
        Assert.Equal(System.Text.Json.JsonSerializer.Serialize(message, message.GetType(), json), System.Text.Json.JsonSerializer.Serialize(back, back.GetType(), json));
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("net-7", null)]
    [InlineData(null, "node-2")]
    [InlineData("net-7", "node-3")]
    [InlineData("net-999", null)]
    [InlineData(null, "nobody")]
    public void Pages_cover_the_list_exactly_once_in_network_then_id_order(string? network, string? node)
    {
        var s = Big.Value;
        var expected = s.Networks.Keys.Order(EntityIds.Order)
            .Where(n => network is null || n == network)
            .SelectMany(n => s.EndpointsOf(n))
            .Where(e => node is null || e.Node == node)
            .Select(e => e.Id).ToArray();
        var got = new List<string>();
        string? afterNetwork = null, afterEndpoint = null;
        var pages = 0;
        do
        {
            var page = (EndpointPage)s.Answer(new ListEndpoints(network, node, afterNetwork, afterEndpoint, Limit: 333), 1);
            Assert.True(page.Endpoints.Count <= 333);
            got.AddRange(page.Endpoints.Select(e => e.Id));
            (afterNetwork, afterEndpoint) = (page.NextNetwork, page.NextEndpoint);
            Assert.True(++pages < 1000);
        } while (afterNetwork is not null);
        Assert.Equal(expected, got);
    }

    [Fact]
    public void A_cursor_whose_endpoint_was_deleted_resumes_at_its_place()
    {
        var s = Big.Value;
        var first = (EndpointPage)s.Answer(new ListEndpoints("net-2", Limit: 10), 1);
        var after = s.Apply(new EndpointDeleted(first.NextEndpoint!));
        var next = (EndpointPage)after.Answer(new ListEndpoints("net-2", AfterNetwork: first.NextNetwork, AfterEndpoint: first.NextEndpoint, Limit: 10), 2);
        Assert.Equal(s.EndpointsOf("net-2").Skip(10).Take(10).Select(e => e.Id), next.Endpoints.Select(e => e.Id));
    }

    [Fact]
    public void Networks_page_by_id_and_vnis_find_their_networks()
    {
        var s = Big.Value;
        var ids = new List<string>();
        string? after = null;
        do
        {
            var page = (NetworkPage)s.Answer(new ListNetworks(after, Limit: 7), 1);
            ids.AddRange(page.Networks.Select(n => n.Id));
            after = page.Next;
        } while (after is not null);
        Assert.Equal(Enumerable.Range(1, 20).Select(i => $"net-{i}"), ids);
        var json = ConfigurationListing.CreateJsonOptions(indented: false);
        Assert.Equal(System.Text.Json.JsonSerializer.Serialize(ConfigurationListing.Of(s, 1).Networks.Single(n => n.Id == "net-3"), json),
            System.Text.Json.JsonSerializer.Serialize(((NetworkAnswer)s.Answer(new GetNetwork("net-3"), 1)).Network, json));
        var found = (NetworkVnis)s.Answer(new FindNetworksByVni([1003, 1005, 42]), 1);
        Assert.Equal([new NetworkVni("net-3", 1003), new NetworkVni("net-5", 1005)], found.Networks);
    }
}
