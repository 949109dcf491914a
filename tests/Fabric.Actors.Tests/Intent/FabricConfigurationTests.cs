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

    [Fact]
    public void The_listing_is_canonical_whatever_the_order_of_insertion_into_the_dictionaries()
    {
        var once = ConfigurationListing.Of(Rich, 18).ToCanonicalJson();
        var again = ConfigurationListing.Of(RichConfiguration.Build(), 18).ToCanonicalJson();
        Assert.Equal(once, again);
        Assert.Contains("\"gateway\": \"10.0.1.1\"", once);
        Assert.Contains("\"kind\": \"l3\"", once);
    }
}
