using System.Collections.Immutable;
using Fabric.Actors.Intent;
using Fabric.Actors.Tests.Support;
using Fabric.Dataplane.Packets;

namespace Fabric.Actors.Tests.Intent;

/// <summary>What the state model accepts and what it decides on the caller's behalf (no actors).</summary>
public sealed class FabricConfigurationTests
{
    private static readonly FabricConfiguration Rich = RichConfiguration.Build();

    private static ConfigurationEvent Single(FabricConfiguration state, ConfigurationCommand command)
    {
        var decision = state.Decide(command);
        var accept = Assert.IsType<Decision.Accept>(decision);
        return Assert.Single(accept.Events);
    }

    [Fact]
    public void Ids_come_from_counters_in_the_state()
    {
        Assert.Equal(["net-1", "net-2", "net-3", "net-4"], Rich.Networks.Keys.Order(EntityIds.Order));
        Assert.Equal(["sub-1", "sub-2", "sub-3"], Rich.Networks["net-1"].Subnets.Keys.Order(EntityIds.Order));
        Assert.Equal(["ep-1", "ep-2", "ep-3", "ep-4", "ep-5"], Rich.Endpoints.Keys.Order(EntityIds.Order));
        var created = Assert.IsType<NetworkCreated>(Single(Rich, new CreateNetwork("red", 6000, "l2", null)));
        Assert.Equal("net-5", created.Network.Id);
    }

    [Fact]
    public void Ids_are_not_reused_after_a_delete()
    {
        var state = Rich.Apply(Single(Rich, new CreateNetwork("tmp", 7000, "l2", null)));
        state = state.Apply(Single(state, new DeleteNetwork("net-5")));
        var created = Assert.IsType<NetworkCreated>(Single(state, new CreateNetwork("tmp2", 7001, "l2", null)));
        Assert.Equal("net-6", created.Network.Id);
    }

    [Fact]
    public void Every_network_has_a_main_route_table()
    {
        foreach (var network in Rich.Networks.Values)
            Assert.Contains(NetworkState.MainRouteTable, network.RouteTables.Keys);
    }

    [Fact]
    public void A_subnet_gets_its_first_host_as_gateway_and_main_as_route_table()
    {
        var web = Rich.Networks["net-1"].Subnets["sub-1"];
        Assert.Equal(Ipv4Address.Parse("10.0.1.1"), web.Gateway);
        Assert.Equal("main", web.RouteTable);
        Assert.Equal("isolated", Rich.Networks["net-1"].Subnets["sub-2"].RouteTable);
    }

    [Fact]
    public void Assigned_ip_is_the_first_free_host_after_the_gateway()
    {
        Assert.Equal(Ipv4Address.Parse("10.0.1.2"), Rich.Endpoints["ep-1"].Ip);
        Assert.Equal(Ipv4Address.Parse("10.0.3.2"), Rich.Endpoints["ep-4"].Ip);
        var next = Assert.IsType<EndpointCreated>(Single(Rich, new CreateEndpoint("web-2", "net-1", "n1", new("guest"), Subnet: "sub-1")));
        Assert.Equal(Ipv4Address.Parse("10.0.1.3"), next.Endpoint.Ip);
    }

    [Fact]
    public void Assigned_ip_fills_holes_left_by_deleted_endpoints()
    {
        var state = Rich.Apply(Single(Rich, new CreateEndpoint("web-2", "net-1", "n1", new("guest"), Subnet: "sub-1"))); // .3
        state = state.Apply(Single(state, new DeleteEndpoint("ep-1")));                                                   // frees .2
        var next = Assert.IsType<EndpointCreated>(Single(state, new CreateEndpoint("web-3", "net-1", "n1", new("guest"), Subnet: "sub-1")));
        Assert.Equal(Ipv4Address.Parse("10.0.1.2"), next.Endpoint.Ip);
    }

    [Fact]
    public void Without_subnet_or_ip_the_first_subnet_with_room_is_used_and_with_an_ip_the_one_containing_it()
    {
        var auto = Assert.IsType<EndpointCreated>(Single(Rich, new CreateEndpoint("x", "net-1", "n1", new("guest"))));
        Assert.Equal("sub-1", auto.Endpoint.Subnet);
        var byIp = Assert.IsType<EndpointCreated>(Single(Rich, new CreateEndpoint("y", "net-1", "n1", new("guest"), Ip: "10.0.2.77")));
        Assert.Equal("sub-2", byIp.Endpoint.Subnet);
    }

    [Fact]
    public void L2_networks_assign_from_their_cidr_or_not_at_all()
    {
        Assert.Equal(Ipv4Address.Parse("192.168.50.1"), Rich.Endpoints["ep-3"].Ip);
        Assert.Null(Rich.Endpoints["ep-3"].Subnet);
        var plain = Assert.IsType<EndpointCreated>(Single(Rich, new CreateEndpoint("p1", "net-3", "n1", new("guest"))));
        Assert.Null(plain.Endpoint.Ip);
        var chosen = Assert.IsType<EndpointCreated>(Single(Rich, new CreateEndpoint("p2", "net-3", "n1", new("guest"), Ip: "172.20.0.9")));
        Assert.Equal(Ipv4Address.Parse("172.20.0.9"), chosen.Endpoint.Ip);
    }

    [Fact]
    public void Assigned_macs_are_locally_administered_unicast_and_unique()
    {
        var macs = Rich.Endpoints.Values.Where(e => e.Id != "ep-2").Select(e => e.Mac).ToList();
        Assert.All(macs, m =>
        {
            Assert.True(m.IsUnicast);
            Assert.Equal(0x02UL, (m.Value >> 40) & 0x03); // locally administered, individual
        });
        Assert.Equal(macs.Count, macs.Distinct().Count());
        Assert.Equal("02:fb:00:00:00:01", Rich.Endpoints["ep-1"].Mac.ToString());
        Assert.Equal("02:00:00:00:00:10", Rich.Endpoints["ep-2"].Mac.ToString());
    }

    [Fact]
    public void An_assigned_mac_steps_over_one_configured_by_hand()
    {
        // ep-6 claims 02:fb:00:00:00:07 by hand; ep-7 would be assigned exactly that, so it steps over to ...08.
        var state = Rich.Apply(Single(Rich, new CreateEndpoint("hand", "net-1", "n1", new("guest"), Mac: "02:fb:00:00:00:07")));
        var next = Assert.IsType<EndpointCreated>(Single(state, new CreateEndpoint("auto", "net-1", "n1", new("guest"))));
        Assert.Equal("ep-7", next.Endpoint.Id);
        Assert.Equal("02:fb:00:00:00:08", next.Endpoint.Mac.ToString());
    }

    [Fact]
    public void Endpoint_defaults_source_check_on_and_keeps_port_details()
    {
        Assert.True(Rich.Endpoints["ep-1"].SourceCheck);
        Assert.False(Rich.Endpoints["ep-2"].SourceCheck);
        Assert.Equal(new EndpointPort(PortKind.Tap, "db"), Rich.Endpoints["ep-5"].Port);
        Assert.Equal(new EndpointPort(PortKind.Guest), Rich.Endpoints["ep-1"].Port);
    }

    [Fact]
    public void A_move_raises_the_sequence_and_a_move_to_the_same_node_changes_nothing()
    {
        Assert.Equal("n3", Rich.Endpoints["ep-2"].Node);
        Assert.Equal(1, Rich.Endpoints["ep-2"].MoveSeq);
        var moved = Assert.IsType<EndpointMoved>(Single(Rich, new MoveEndpoint("ep-2", "n1")));
        Assert.Equal(2, moved.MoveSeq);
        Assert.Equal(Decision.Unchanged, Rich.Decide(new MoveEndpoint("ep-2", "n3")));
    }

    [Fact]
    public void Deleting_what_does_not_exist_succeeds_without_events()
    {
        ConfigurationCommand[] commands =
        [
            new DeleteNetwork("net-99"), new DeleteSubnet("net-1", "sub-99"), new DeleteSubnet("net-99", "sub-1"),
            new DeleteRouteTable("net-1", "nope"), new RemoveRoute("net-1", "main", "10.200.0.0/16"),
            new RemoveExternalVtep("net-2", "203.0.113.1"), new DeleteEndpoint("ep-99"),
            new BindSubnetRouteTable("net-1", "sub-1", "main"),
        ];
        foreach (var command in commands)
            Assert.Equal(Decision.Unchanged, Rich.Decide(command));
    }

    [Fact]
    public void Deletes_that_are_allowed_remove_exactly_their_entity()
    {
        var state = Rich;
        state = state.Apply(Single(state, new RemoveRoute("net-1", "main", "0.0.0.0/0")));
        state = state.Apply(Single(state, new DeleteEndpoint("ep-2")));
        state = state.Apply(Single(state, new DeleteEndpoint("ep-4")));
        state = state.Apply(Single(state, new DeleteSubnet("net-1", "sub-3")));
        state = state.Apply(Single(state, new RemoveExternalVtep("net-2", "198.51.100.7", 4789)));
        state = state.Apply(Single(state, new RemoveRoute("net-1", "isolated", "10.99.0.0/16")));
        state = state.Apply(Single(state, new DeleteNetwork("net-4")));
        state = state.Apply(Single(state, new BindSubnetRouteTable("net-1", "sub-2", "main")));
        state = state.Apply(Single(state, new DeleteRouteTable("net-1", "isolated")));
        Assert.False(state.Endpoints.ContainsKey("ep-2"));
        Assert.False(state.Networks["net-1"].Subnets.ContainsKey("sub-3"));
        Assert.Empty(state.Networks["net-2"].ExternalVteps);
        Assert.False(state.Networks.ContainsKey("net-4"));
        Assert.Equal(["main"], state.Networks["net-1"].RouteTables.Keys);
        Assert.Single(state.Networks["net-1"].RouteTables["main"]);
    }

    [Fact]
    public void Routes_can_point_outside_the_local_cidr_even_when_they_contain_it()
    {
        // 10.0.0.0/8 contains blue's 10.0.0.0/16; longest prefix match keeps the local route in charge.
        var added = Assert.IsType<RouteAdded>(Single(Rich, new AddRoute("net-1", "main", "10.0.0.0/8", new("blackhole"))));
        Assert.Equal(Ipv4Prefix.Parse("10.0.0.0/8"), added.Route.Destination);
    }

    [Fact]
    public void External_vtep_port_defaults_to_4789()
    {
        Assert.Equal(new ExternalVtep(Ipv4Address.Parse("198.51.100.7"), 4789), Assert.Single(Rich.Networks["net-2"].ExternalVteps));
        var kernel = Assert.IsType<ExternalVtepAdded>(Single(Rich, new AddExternalVtep("net-2", "198.51.100.7", 8472)));
        Assert.Equal(8472, kernel.Vtep.Port);
    }

    /// <summary>
    /// Rich, grown to eleven networks and endpoints (so ids reach two digits: net-10 sorts after net-2) and three more
    /// route tables.
    /// These commands assign ids, so their order is fixed.
    /// </summary>
    private static readonly FabricConfiguration Grown = Apply(Rich,
    [
        .. Enumerable.Range(5, 7).Select(i => (ConfigurationCommand)new CreateNetwork($"extra{i}", 6000 + i, "l2", null)),
        .. Enumerable.Range(6, 6).Select(i => (ConfigurationCommand)new CreateEndpoint($"extra{i}", "net-3", "n1", new("guest"))),
        new CreateRouteTable("net-1", "zeta"), new CreateRouteTable("net-1", "alpha"), new CreateRouteTable("net-1", "Beta"),
    ]);

    /// <summary>
    /// Commands that commute: each touches its own key (a route, an external VTEP, one endpoint's node, one subnet's
    /// table), so any order builds the same configuration. Several share a network address with another (0.0.0.0/0
    /// and /8, 10.200.0.0/16 and /24, one VTEP address on two ports), so the tie-breakers of the order matter too.
    /// </summary>
    private static readonly ConfigurationCommand[] Commuting =
    [
        new AddRoute("net-1", "main", "0.0.0.0/8", new("blackhole")),
        new AddRoute("net-1", "main", "10.200.0.0/16", new("network", Network: "net-4")),
        new AddRoute("net-1", "main", "10.200.0.0/24", new("blackhole")),
        new AddRoute("net-1", "main", "10.200.128.0/17", new("blackhole")),
        new AddRoute("net-1", "main", "9.0.0.0/8", new("blackhole")),
        new AddRoute("net-1", "main", "100.64.0.0/10", new("endpoint", Endpoint: "ep-2")),
        new AddRoute("net-1", "main", "192.0.2.0/24", new("blackhole")),
        new AddRoute("net-1", "isolated", "0.0.0.0/0", new("network", Network: "net-4")),
        new AddRoute("net-1", "isolated", "10.98.0.0/16", new("blackhole")),
        new AddRoute("net-1", "alpha", "0.0.0.0/0", new("blackhole")),
        new AddRoute("net-1", "zeta", "203.0.113.0/24", new("blackhole")),
        new AddRoute("net-1", "Beta", "198.18.0.0/15", new("blackhole")),
        new AddRoute("net-4", "main", "10.0.0.0/16", new("network", Network: "net-1")),
        new AddRoute("net-4", "main", "0.0.0.0/0", new("blackhole")),
        new AddExternalVtep("net-2", "203.0.113.9"),
        new AddExternalVtep("net-2", "203.0.113.9", 8472),
        new AddExternalVtep("net-2", "198.51.100.7", 8472),
        new AddExternalVtep("net-2", "10.0.0.1"),
        new AddExternalVtep("net-2", "203.0.113.10"),
        new AddExternalVtep("net-3", "198.51.100.20"),
        new AddExternalVtep("net-3", "198.51.100.3"),
        new AddExternalVtep("net-11", "192.0.2.77"),
        new MoveEndpoint("ep-1", "n2"),
        new MoveEndpoint("ep-3", "n3"),
        new MoveEndpoint("ep-5", "n1"),
        new BindSubnetRouteTable("net-1", "sub-3", "alpha"),
    ];

    private static FabricConfiguration Apply(FabricConfiguration state, IEnumerable<ConfigurationCommand> commands)
    {
        foreach (var command in commands)
        {
            var accept = Assert.IsType<Decision.Accept>(state.Decide(command));
            Assert.NotEmpty(accept.Events);
            state = state.ApplyAll(accept.Events);
        }
        return state;
    }

    /// <summary>Equal by the given comparer, hashed with a salt: the enumeration order another process would see.</summary>
    private sealed class Salted<T>(IEqualityComparer<T> inner, int salt) : IEqualityComparer<T>
    {
        public bool Equals(T? x, T? y) => inner.Equals(x, y);
        public int GetHashCode(T obj) => HashCode.Combine(inner.GetHashCode(obj!), salt);
    }

    /// <summary>
    /// The same state with every dictionary and set rebuilt: entries inserted in a shuffled order under a salted hash, so
    /// each enumerates in an order of its own (the hash-ordered immutable collections ignore insertion order, but not
    /// the hash; another process has other string hashes).
    /// </summary>
    private static FabricConfiguration Reinsert(FabricConfiguration state, Random rng)
    {
        ImmutableDictionary<TKey, TValue> Rebuild<TKey, TValue>(IEnumerable<KeyValuePair<TKey, TValue>> entries, IEqualityComparer<TKey> comparer) where TKey : notnull
            => ImmutableDictionary.Create<TKey, TValue>(new Salted<TKey>(comparer, rng.Next())).AddRange(entries.OrderBy(_ => rng.Next()));

        var networks = state.Networks.Select(kv => KeyValuePair.Create(kv.Key, kv.Value with
        {
            Subnets = Rebuild(kv.Value.Subnets, StringComparer.Ordinal),
            RouteTables = Rebuild(kv.Value.RouteTables.Select(t => KeyValuePair.Create(t.Key, Rebuild(t.Value, EqualityComparer<Ipv4Prefix>.Default))), StringComparer.Ordinal),
            ExternalVteps = ImmutableHashSet.Create(new Salted<ExternalVtep>(EqualityComparer<ExternalVtep>.Default, rng.Next()), kv.Value.ExternalVteps.OrderBy(_ => rng.Next()).ToArray()),
        }));
        return state with { Networks = Rebuild(networks, StringComparer.Ordinal), Endpoints = Rebuild(state.Endpoints, StringComparer.Ordinal) };
    }

    /// <summary>
    /// A permutation property: the commuting commands applied in 300 random orders, each state's dictionaries rebuilt
    /// in a random insertion order under a random hash salt, always list to the same bytes, in the documented order
    /// (ids numerically, route tables by name, routes by destination then length, VTEPs by address then port).
    /// </summary>
    [Fact]
    public void The_listing_is_canonical_whatever_the_order_of_insertion_into_the_dictionaries()
    {
        var seed = Random.Shared.Next();
        var rng = new Random(seed);
        var written = Apply(Grown, Commuting);
        var expected = ConfigurationListing.Of(written, 18);
        AssertDocumentedOrder(expected);
        var json = expected.ToCanonicalJson();
        Assert.Contains("\"gateway\": \"10.0.1.1\"", json);
        Assert.Contains("\"kind\": \"l3\"", json);

        var orders = new HashSet<string>();
        for (int i = 0; i < 300; i++)
        {
            var order = Commuting.OrderBy(_ => rng.Next()).ToArray();
            orders.Add(string.Join("|", order.Select(c => Array.IndexOf(Commuting, c))));
            var state = Reinsert(Apply(Grown, order), rng);
            var listing = ConfigurationListing.Of(state, 18);
            if (listing.ToCanonicalJson() != json)
            {
                AssertDocumentedOrder(listing); // says what is out of order, if that is it
                Assert.Fail($"seed {seed}, permutation {i}: the listing differs from the one built in the written order (commands applied as {string.Join(", ", order.Select(c => Array.IndexOf(Commuting, c)))})");
            }
        }
        Assert.True(orders.Count > 290, "the permutations should be (nearly all) distinct");
    }

    private static void AssertDocumentedOrder(ConfigurationListing listing)
    {
        static void Sorted<T>(IReadOnlyList<T> items, IComparer<T> order, string what)
        {
            for (int i = 1; i < items.Count; i++)
                Assert.True(order.Compare(items[i - 1], items[i]) < 0, $"{what}: {items[i - 1]} listed before {items[i]}");
        }
        var ids = EntityIds.Order;
        Assert.True(listing.Networks.Count >= 11 && listing.Endpoints.Count >= 11);
        Sorted(listing.Networks.Select(n => n.Id).ToArray(), ids, "networks");
        Sorted(listing.Endpoints.Select(e => e.Id).ToArray(), ids, "endpoints");
        foreach (var n in listing.Networks)
        {
            Sorted(n.Subnets.Select(s => s.Id).ToArray(), ids, $"{n.Id} subnets");
            Sorted(n.RouteTables.Select(t => t.Name).ToArray(), StringComparer.Ordinal, $"{n.Id} route tables");
            foreach (var t in n.RouteTables)
                Sorted(t.Routes.Select(r => r.Destination).ToArray(), Comparer<Ipv4Prefix>.Create((a, b) =>
                    a.Network != b.Network ? a.Network.Value.CompareTo(b.Network.Value) : a.Length.CompareTo(b.Length)), $"{n.Id} table {t.Name}");
            Sorted(n.ExternalVteps, Comparer<ExternalVtep>.Create((a, b) =>
                a.Address != b.Address ? a.Address.Value.CompareTo(b.Address.Value) : a.Port.CompareTo(b.Port)), $"{n.Id} external VTEPs");
        }
    }
}
