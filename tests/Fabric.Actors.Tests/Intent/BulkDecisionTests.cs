using Fabric.Actors.Intent;
using Fabric.Dataplane.Packets;

namespace Fabric.Actors.Tests.Intent;

/// <summary>Bulk endpoint commands as the state model decides them (no actors): atomic, item by item, naming the item at fault.</summary>
public sealed class BulkDecisionTests
{
    private static FabricConfiguration Apply(FabricConfiguration state, ConfigurationCommand command)
        => state.ApplyAll(Assert.IsType<Decision.Accept>(state.Decide(command)).Events);

    /// <summary>net-1: l3 10.1.0.0/16 with sub-1 10.1.1.0/24; net-2: l2 192.168.0.0/16.</summary>
    private static FabricConfiguration TwoNetworks()
    {
        var s = Apply(FabricConfiguration.Empty, new CreateNetwork("blue", 100, "l3", "10.1.0.0/16"));
        s = Apply(s, new CreateSubnet("net-1", "web", "10.1.1.0/24"));
        return Apply(s, new CreateNetwork("green", 200, "l2", "192.168.0.0/16"));
    }

    private static CreateEndpoint Guest(string name, string network = "net-2", string node = "node-1", string? ip = null, string? mac = null)
        => new(name, network, node, new EndpointPortSpec("guest"), Ip: ip, Mac: mac);

    private static Rejection Refused(FabricConfiguration state, ConfigurationCommand command)
        => Assert.IsType<Decision.Reject>(state.Decide(command)).Rejection;

    [Fact]
    public void Ten_endpoints_are_created_in_request_order_with_consecutive_ids_and_addresses()
    {
        var s = TwoNetworks();
        var items = Enumerable.Range(0, 10).Select(i => Guest($"vm-{i}", i % 2 == 0 ? "net-1" : "net-2")).ToArray();
        var events = Assert.IsType<Decision.Accept>(s.Decide(new CreateEndpoints(items))).Events;
        var created = events.Cast<EndpointCreated>().Select(e => e.Endpoint).ToArray();
        Assert.Equal(items.Select(i => i.Name), created.Select(e => e.Name));
        Assert.Equal(Enumerable.Range(1, 10).Select(i => $"ep-{i}"), created.Select(e => e.Id));
        Assert.Equal(["10.1.1.2", "10.1.1.3", "10.1.1.4", "10.1.1.5", "10.1.1.6"], created.Where(e => e.Network == "net-1").Select(e => e.Ip.ToString()));
        Assert.Equal(["192.168.0.1", "192.168.0.2", "192.168.0.3", "192.168.0.4", "192.168.0.5"], created.Where(e => e.Network == "net-2").Select(e => e.Ip.ToString()));
        Assert.Equal(10, created.Select(e => e.Mac).Distinct().Count());
    }

    [Fact]
    public void A_bulk_decides_exactly_what_the_same_creates_one_by_one_would()
    {
        // Mixed: explicit addresses that the free-address search must skip, auto-assigned ones, both networks.
        var s = Apply(TwoNetworks(), Guest("pre", ip: "192.168.0.3"));
        var rng = new Random(7);
        var items = Enumerable.Range(0, 300).Select(i => rng.Next(10) switch
        {
            0 => Guest($"vm-{i}", ip: $"192.168.1.{i % 250 + 1}"),
            < 5 => Guest($"vm-{i}", "net-1"),
            _ => Guest($"vm-{i}"),
        }).ToArray();
        var bulk = Assert.IsType<Decision.Accept>(s.Decide(new CreateEndpoints(items))).Events;
        var one = s;
        var singles = new List<ConfigurationEvent>();
        foreach (var item in items)
        {
            var e = Assert.Single(Assert.IsType<Decision.Accept>(one.Decide(item)).Events);
            singles.Add(e);
            one = one.Apply(e);
        }
        Assert.Equal(singles, bulk);
    }

    [Fact]
    public void Item_7_of_10_wrong_refuses_the_request_naming_endpoints_6_and_nothing_is_emitted()
    {
        var s = TwoNetworks();
        var items = Enumerable.Range(0, 10).Select(i => Guest($"vm-{i}", ip: i == 6 ? "192.168.300.1" : null)).ToArray();
        var r = Refused(s, new CreateEndpoints(items));
        Assert.Equal(400, r.Status);
        Assert.Equal("endpoints[6].ip", r.Field);
        Assert.Equal("ip-invalid", r.Code);
        Assert.StartsWith("endpoints[6]: ", r.Detail, StringComparison.Ordinal);

        var badPort = items.Select((c, i) => i == 6 ? c with { Port = new EndpointPortSpec("floppy") } : c).ToArray();
        Assert.Equal("endpoints[6].port.kind", Refused(s, new CreateEndpoints(badPort)).Field);
        var nullItem = items.Select((c, i) => i == 6 ? null! : c).ToArray();
        Assert.Equal("endpoints[6]", Refused(s, new CreateEndpoints(nullItem)).Field);
    }

    [Fact]
    public void Items_conflict_with_each_other_as_with_what_exists()
    {
        var s = TwoNetworks();
        var sameName = Refused(s, new CreateEndpoints([Guest("a"), Guest("b"), Guest("a")]));
        Assert.Equal((409, "endpoints[2].name", "name-in-use"), (sameName.Status, sameName.Field, sameName.Code));
        var sameMac = Refused(s, new CreateEndpoints([Guest("a", mac: "02:00:00:00:00:07"), Guest("b", mac: "02:00:00:00:00:07")]));
        Assert.Equal(("endpoints[1].mac", "mac-in-use"), (sameMac.Field, sameMac.Code));
        var sameIp = Refused(s, new CreateEndpoints([Guest("a", ip: "192.168.0.9"), Guest("b", ip: "192.168.0.9")]));
        Assert.Equal(("endpoints[1].ip", "ip-in-use"), (sameIp.Field, sameIp.Code));
        // an explicit address an earlier item was assigned
        var taken = Refused(s, new CreateEndpoints([Guest("a"), Guest("b", ip: "192.168.0.1")]));
        Assert.Equal(("endpoints[1].ip", "ip-in-use"), (taken.Field, taken.Code));
        // the same name in two networks is fine
        Assert.IsType<Decision.Accept>(s.Decide(new CreateEndpoints([Guest("a"), Guest("a", "net-1")])));
    }

    [Fact]
    public void Between_1_and_10000_items()
    {
        var s = TwoNetworks();
        Assert.Equal(("endpoints", "endpoints-required"), (Refused(s, new CreateEndpoints([])).Field, Refused(s, new CreateEndpoints([])).Code));
        var tooMany = Enumerable.Range(0, CreateEndpoints.MaxItems + 1).Select(i => Guest($"vm-{i}")).ToArray();
        var r = Refused(s, new CreateEndpoints(tooMany));
        Assert.Equal((400, "endpoints", "too-many-endpoints"), (r.Status, r.Field, r.Code));
        var max = Assert.IsType<Decision.Accept>(s.Decide(new CreateEndpoints(tooMany[..CreateEndpoints.MaxItems])));
        Assert.Equal(CreateEndpoints.MaxItems, max.Events.Count);
        Assert.Equal("192.168.39.16", ((EndpointCreated)max.Events[^1]).Endpoint.Ip.ToString()); // 10,000th host of 192.168.0.0/16
    }

    [Fact]
    public void A_bulk_delete_deletes_all_or_names_the_id_at_fault()
    {
        var s = Apply(TwoNetworks(), new CreateEndpoints([Guest("a", "net-1"), Guest("b", "net-1"), Guest("c"), Guest("d")]));
        s = Apply(s, new AddRoute("net-1", "main", "0.0.0.0/0", new RouteTargetSpec("endpoint", Endpoint: "ep-2")));

        var deleted = Assert.IsType<Decision.Accept>(s.Decide(new DeleteEndpoints(["ep-3", "ep-1"]))).Events;
        Assert.Equal([new EndpointDeleted("ep-3"), new EndpointDeleted("ep-1")], deleted);

        var unknown = Refused(s, new DeleteEndpoints(["ep-3", "ep-99", "ep-1"]));
        Assert.Equal((404, "ids[1]", "endpoint-not-found"), (unknown.Status, unknown.Field, unknown.Code));
        var target = Refused(s, new DeleteEndpoints(["ep-3", "ep-4", "ep-2"]));
        Assert.Equal((409, "ids[2]", "endpoint-is-route-target"), (target.Status, target.Field, target.Code));
        var twice = Refused(s, new DeleteEndpoints(["ep-3", "ep-3"]));
        Assert.Equal((400, "ids[1]", "id-duplicate"), (twice.Status, twice.Field, twice.Code));
        Assert.Equal("ids", Refused(s, new DeleteEndpoints([])).Field);
    }

    [Fact]
    public void Ten_thousand_items_into_a_network_of_100000_are_decided_quickly()
    {
        // The free-address search resumes per subnet inside a request: O(used + items), not O(used × items).
        var s = Apply(FabricConfiguration.Empty, new CreateNetwork("big", 300, "l2", "10.0.0.0/8"));
        for (var i = 0; i < 10; i++)
            s = Apply(s, new CreateEndpoints(Enumerable.Range(0, 10_000).Select(j => Guest($"vm-{i}-{j}", "net-1")).ToArray()));
        Assert.Equal(100_000, s.Networks["net-1"].Endpoints.Count);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var more = Assert.IsType<Decision.Accept>(s.Decide(new CreateEndpoints(Enumerable.Range(0, 10_000).Select(j => Guest($"more-{j}", "net-1")).ToArray())));
        sw.Stop();
        Assert.Equal(10_000, more.Events.Count);
        Console.WriteLine($"10,000 endpoints decided against a network of 100,000 in {sw.ElapsedMilliseconds} ms");
        // Generous: quadratic search would take minutes (10,000 × 100,000 lookups); linear takes well under a second.
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"took {sw.ElapsedMilliseconds} ms");
    }
}
