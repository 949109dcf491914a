using Akka.Actor;
using Fabric.Actors.Intent;
using Fabric.Actors.Tests.Support;

namespace Fabric.Actors.Tests.Intent;

/// <summary>
/// One ActorSystem and one configuration actor on a SQLite file, holding <see cref="RichConfiguration"/>,
/// shared by all rejection cases (they change nothing, which is the point).
/// </summary>
public sealed class RichConfigurationFixture : IAsyncLifetime
{
    private readonly TempDir _dir = new("rules");

    public ActorSystem System { get; private set; } = null!;
    public IActorRef Configuration { get; private set; } = null!;
    public string DbFile => _dir.DbFile;

    public async Task InitializeAsync()
    {
        System = ActorSystem.Create("rules", TestConfigs.LocalWithSqlite(_dir.Path));
        Configuration = System.ActorOf(ConfigurationActor.Props(), "configuration");
        foreach (var command in RichConfiguration.Commands)
        {
            var reply = await Configuration.Ask<object>(command, TimeSpan.FromSeconds(20));
            if (reply is not CommandAccepted)
                throw new InvalidOperationException($"{command} was not accepted: {reply}");
        }
    }

    public async Task DisposeAsync()
    {
        await System.Terminate();
        _dir.Dispose();
    }
}

/// <summary>
/// Every rule: the command is refused with its specific status, code and field, the listing is identical
/// byte for byte before and after, and no event reached the journal.
/// </summary>
public sealed class RejectionTests(RichConfigurationFixture fixture) : IClassFixture<RichConfigurationFixture>
{
    private static EndpointPortSpec Guest => new("guest");

    public static TheoryData<string, ConfigurationCommand, int, string, string> Cases => new()
    {
        // networks
        { "network name missing", new CreateNetwork(null, 6001, "l2", null), 400, "name-required", "name" },
        { "network name malformed", new CreateNetwork("bad name!", 6001, "l2", null), 400, "name-invalid", "name" },
        { "network name taken", new CreateNetwork("blue", 6001, "l2", null), 409, "name-in-use", "name" },
        { "vni missing", new CreateNetwork("red", null, "l2", null), 400, "vni-required", "vni" },
        { "vni zero", new CreateNetwork("red", 0, "l2", null), 400, "vni-out-of-range", "vni" },
        { "vni above 24 bits", new CreateNetwork("red", 16_777_216, "l2", null), 400, "vni-out-of-range", "vni" },
        { "vni taken", new CreateNetwork("red", 5001, "l2", null), 409, "vni-in-use", "vni" },
        { "kind missing", new CreateNetwork("red", 6001, null, null), 400, "kind-required", "kind" },
        { "kind unknown", new CreateNetwork("red", 6001, "l4", null), 400, "kind-invalid", "kind" },
        { "l3 without cidr", new CreateNetwork("red", 6001, "l3", null), 400, "cidr-required", "cidr" },
        { "cidr with host bits", new CreateNetwork("red", 6001, "l3", "10.0.0.1/16"), 400, "cidr-invalid", "cidr" },
        { "cidr too small", new CreateNetwork("red", 6001, "l3", "10.0.0.0/31"), 400, "cidr-too-small", "cidr" },
        { "delete network with endpoints", new DeleteNetwork("net-1"), 409, "network-has-endpoints", "networkId" },
        { "delete network a route leaks into", new DeleteNetwork("net-4"), 409, "network-is-route-target", "networkId" },

        // subnets
        { "subnet of unknown network", new CreateSubnet("net-99", "s", "10.0.9.0/24"), 404, "network-not-found", "networkId" },
        { "subnet in l2 network", new CreateSubnet("net-2", "s", "192.168.50.0/25"), 409, "network-not-l3", "networkId" },
        { "subnet name taken", new CreateSubnet("net-1", "web", "10.0.9.0/24"), 409, "name-in-use", "name" },
        { "subnet cidr missing", new CreateSubnet("net-1", "s", null), 400, "cidr-required", "cidr" },
        { "subnet cidr malformed", new CreateSubnet("net-1", "s", "10.0.9.0"), 400, "cidr-invalid", "cidr" },
        { "subnet cidr too small", new CreateSubnet("net-1", "s", "10.0.9.0/31"), 400, "cidr-too-small", "cidr" },
        { "subnet outside network", new CreateSubnet("net-1", "s", "10.1.0.0/24"), 409, "cidr-outside-network", "cidr" },
        { "subnet overlaps sibling", new CreateSubnet("net-1", "s", "10.0.1.128/25"), 409, "cidr-overlaps-subnet", "cidr" },
        { "subnet contains sibling", new CreateSubnet("net-1", "s", "10.0.0.0/22"), 409, "cidr-overlaps-subnet", "cidr" },
        { "subnet with unknown route table", new CreateSubnet("net-1", "s", "10.0.9.0/24", "nope"), 409, "route-table-not-found", "routeTable" },
        { "delete subnet with endpoints", new DeleteSubnet("net-1", "sub-1"), 409, "subnet-has-endpoints", "subnetId" },
        { "bind unknown subnet", new BindSubnetRouteTable("net-1", "sub-99", "main"), 404, "subnet-not-found", "subnetId" },
        { "bind unknown route table", new BindSubnetRouteTable("net-1", "sub-1", "nope"), 409, "route-table-not-found", "routeTable" },

        // route tables
        { "route table name taken", new CreateRouteTable("net-1", "main"), 409, "route-table-exists", "name" },
        { "route table in l2 network", new CreateRouteTable("net-2", "extra"), 409, "network-not-l3", "networkId" },
        { "route table name malformed", new CreateRouteTable("net-1", "no spaces"), 400, "name-invalid", "name" },
        { "delete main route table", new DeleteRouteTable("net-1", "main"), 409, "main-route-table", "routeTable" },
        { "delete bound route table", new DeleteRouteTable("net-1", "isolated"), 409, "route-table-in-use", "routeTable" },

        // routes
        { "route equal to the local route", new AddRoute("net-1", "main", "10.0.0.0/16", new("blackhole")), 409, "local-route-override", "destination" },
        { "route inside the local route", new AddRoute("net-1", "main", "10.0.7.0/24", new("blackhole")), 409, "local-route-override", "destination" },
        { "host route inside the local route", new AddRoute("net-1", "isolated", "10.0.1.2/32", new("blackhole")), 409, "local-route-override", "destination" },
        { "route destination taken", new AddRoute("net-1", "main", "0.0.0.0/0", new("blackhole")), 409, "route-exists", "destination" },
        { "route destination malformed", new AddRoute("net-1", "main", "300.0.0.0/8", new("blackhole")), 400, "destination-invalid", "destination" },
        { "route in unknown table", new AddRoute("net-1", "nope", "10.200.0.0/16", new("blackhole")), 404, "route-table-not-found", "routeTable" },
        { "route in l2 network", new AddRoute("net-2", "main", "10.200.0.0/16", new("blackhole")), 409, "network-not-l3", "networkId" },
        { "route without target", new AddRoute("net-1", "main", "10.200.0.0/16", null), 400, "target-kind-required", "target.kind" },
        { "route target kind unknown", new AddRoute("net-1", "main", "10.200.0.0/16", new("teleport")), 400, "target-kind-invalid", "target.kind" },
        { "route to unknown endpoint", new AddRoute("net-1", "main", "10.200.0.0/16", new("endpoint", Endpoint: "ep-99")), 409, "target-endpoint-not-found", "target.endpoint" },
        { "route to endpoint of another network", new AddRoute("net-1", "main", "10.200.0.0/16", new("endpoint", Endpoint: "ep-3")), 409, "target-endpoint-other-network", "target.endpoint" },
        { "route to endpoint without id", new AddRoute("net-1", "main", "10.200.0.0/16", new("endpoint")), 400, "target-endpoint-required", "target.endpoint" },
        { "route to unknown network", new AddRoute("net-1", "main", "10.200.0.0/16", new("network", Network: "net-99")), 409, "target-network-not-found", "target.network" },
        { "route leaking into itself", new AddRoute("net-1", "main", "10.200.0.0/16", new("network", Network: "net-1")), 409, "target-network-self", "target.network" },

        // external VTEPs
        { "external vtep address malformed", new AddExternalVtep("net-2", "198.51.100"), 400, "address-invalid", "address" },
        { "external vtep multicast", new AddExternalVtep("net-2", "239.1.1.1"), 400, "address-invalid", "address" },
        { "external vtep port zero", new AddExternalVtep("net-2", "198.51.100.8", 0), 400, "port-out-of-range", "port" },
        { "external vtep port above 65535", new AddExternalVtep("net-2", "198.51.100.8", 70000), 400, "port-out-of-range", "port" },
        { "external vtep twice", new AddExternalVtep("net-2", "198.51.100.7", 4789), 409, "external-vtep-exists", "address" },
        { "external vtep of unknown network", new AddExternalVtep("net-99", "198.51.100.8"), 404, "network-not-found", "networkId" },

        // endpoints
        { "endpoint name missing", new CreateEndpoint(null, "net-1", "n1", Guest), 400, "name-required", "name" },
        { "endpoint network missing", new CreateEndpoint("e", null, "n1", Guest), 400, "network-required", "network" },
        { "endpoint in unknown network", new CreateEndpoint("e", "net-99", "n1", Guest), 409, "network-not-found", "network" },
        { "endpoint name taken", new CreateEndpoint("web-1", "net-1", "n1", Guest), 409, "name-in-use", "name" },
        { "endpoint node missing", new CreateEndpoint("e", "net-1", null, Guest), 400, "node-required", "node" },
        { "endpoint node malformed", new CreateEndpoint("e", "net-1", "-n1", Guest), 400, "node-invalid", "node" },
        { "endpoint port missing", new CreateEndpoint("e", "net-1", "n1", null), 400, "port-required", "port" },
        { "endpoint port kind unknown", new CreateEndpoint("e", "net-1", "n1", new("vhost")), 400, "port-kind-invalid", "port.kind" },
        { "guest port in a namespace", new CreateEndpoint("e", "net-1", "n1", new("guest", "ns")), 400, "port-namespace-invalid", "port.namespace" },
        { "tap namespace malformed", new CreateEndpoint("e", "net-1", "n1", new("tap", "bad ns")), 400, "port-namespace-invalid", "port.namespace" },
        { "mac malformed", new CreateEndpoint("e", "net-1", "n1", Guest, Mac: "zz"), 400, "mac-invalid", "mac" },
        { "mac multicast", new CreateEndpoint("e", "net-1", "n1", Guest, Mac: "01:00:5e:00:00:01"), 400, "mac-not-unicast", "mac" },
        { "mac zero", new CreateEndpoint("e", "net-1", "n1", Guest, Mac: "00:00:00:00:00:00"), 400, "mac-not-unicast", "mac" },
        { "mac taken", new CreateEndpoint("e", "net-1", "n1", Guest, Mac: "02:00:00:00:00:10"), 409, "mac-in-use", "mac" },
        { "assigned mac taken", new CreateEndpoint("e", "net-1", "n1", Guest, Mac: "02:fb:00:00:00:01"), 409, "mac-in-use", "mac" },
        { "unknown subnet", new CreateEndpoint("e", "net-1", "n1", Guest, Subnet: "sub-99"), 409, "subnet-not-found", "subnet" },
        { "ip outside the subnet", new CreateEndpoint("e", "net-1", "n1", Guest, Subnet: "sub-1", Ip: "10.0.2.5"), 409, "ip-outside-subnet", "ip" },
        { "ip in no subnet", new CreateEndpoint("e", "net-1", "n1", Guest, Ip: "10.0.9.9"), 409, "ip-outside-subnets", "ip" },
        { "ip is the gateway", new CreateEndpoint("e", "net-1", "n1", Guest, Ip: "10.0.1.1"), 409, "ip-reserved", "ip" },
        { "ip is the network address", new CreateEndpoint("e", "net-1", "n1", Guest, Ip: "10.0.1.0"), 409, "ip-reserved", "ip" },
        { "ip is the broadcast address", new CreateEndpoint("e", "net-1", "n1", Guest, Ip: "10.0.1.255"), 409, "ip-reserved", "ip" },
        { "ip taken", new CreateEndpoint("e", "net-1", "n1", Guest, Ip: "10.0.1.10"), 409, "ip-in-use", "ip" },
        { "assigned ip taken", new CreateEndpoint("e", "net-1", "n1", Guest, Ip: "10.0.1.2"), 409, "ip-in-use", "ip" },
        { "ip malformed", new CreateEndpoint("e", "net-1", "n1", Guest, Ip: "10.0.1"), 400, "ip-invalid", "ip" },
        { "subnet full", new CreateEndpoint("e", "net-1", "n1", Guest, Subnet: "sub-3"), 409, "subnet-full", "ip" },
        { "l3 network without subnets", new CreateEndpoint("e", "net-4", "n1", Guest), 409, "network-has-no-subnet", "subnet" },
        { "subnet in an l2 network", new CreateEndpoint("e", "net-2", "n1", Guest, Subnet: "sub-1"), 409, "network-not-l3", "subnet" },
        { "l2 ip outside the network", new CreateEndpoint("e", "net-2", "n1", Guest, Ip: "192.168.51.1"), 409, "ip-outside-network", "ip" },
        { "l2 ip is the broadcast address", new CreateEndpoint("e", "net-2", "n1", Guest, Ip: "192.168.50.255"), 409, "ip-reserved", "ip" },
        { "l2 ip taken", new CreateEndpoint("e", "net-2", "n1", Guest, Ip: "192.168.50.1"), 409, "ip-in-use", "ip" },
        { "l2 without cidr, multicast ip", new CreateEndpoint("e", "net-3", "n1", Guest, Ip: "224.0.0.1"), 400, "ip-invalid", "ip" },
        { "move unknown endpoint", new MoveEndpoint("ep-99", "n2"), 404, "endpoint-not-found", "endpointId" },
        { "move to malformed node", new MoveEndpoint("ep-1", ""), 400, "node-required", "node" },
        { "delete endpoint a route points at", new DeleteEndpoint("ep-2"), 409, "endpoint-is-route-target", "endpointId" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Is_rejected_and_changes_nothing(string rule, ConfigurationCommand command, int status, string code, string field)
    {
        _ = rule;
        var before = await Listing();
        var eventsBefore = SqliteJournal.EventCount(fixture.DbFile);

        var reply = await fixture.Configuration.Ask<object>(command, TimeSpan.FromSeconds(10));

        var rejected = Assert.IsType<CommandRejected>(reply);
        Assert.Equal((status, code, field), (rejected.Rejection.Status, rejected.Rejection.Code, rejected.Rejection.Field));
        Assert.False(string.IsNullOrWhiteSpace(rejected.Rejection.Detail));
        Assert.Equal(before, await Listing());
        Assert.Equal(eventsBefore, SqliteJournal.EventCount(fixture.DbFile));
    }

    [Fact]
    public async Task Rejections_name_the_conflicting_entity()
    {
        var reply = await fixture.Configuration.Ask<CommandRejected>(new CreateNetwork("red", 5001, "l2", null), TimeSpan.FromSeconds(10));
        Assert.Equal("VNI 5001 is already used by network blue", reply.Rejection.Detail);
        var local = await fixture.Configuration.Ask<CommandRejected>(new AddRoute("net-1", "main", "10.0.0.0/16", new("blackhole")), TimeSpan.FromSeconds(10));
        Assert.StartsWith("cannot override the local route 10.0.0.0/16", local.Rejection.Detail);
    }

    [Fact]
    public async Task The_journal_holds_exactly_the_accepted_events()
    {
        var listing = await fixture.Configuration.Ask<ConfigurationListing>(GetConfiguration.Instance, TimeSpan.FromSeconds(10));
        Assert.Equal(RichConfiguration.Commands.Count, listing.Revision);
        Assert.Equal(RichConfiguration.Commands.Count, SqliteJournal.EventCount(fixture.DbFile));
    }

    private async Task<string> Listing()
        => (await fixture.Configuration.Ask<ConfigurationListing>(GetConfiguration.Instance, TimeSpan.FromSeconds(10))).ToCanonicalJson();
}
