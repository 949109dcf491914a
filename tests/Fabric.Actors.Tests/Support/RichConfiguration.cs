using Fabric.Actors.Intent;

namespace Fabric.Actors.Tests.Support;

/// <summary>
/// A configuration that exercises every entity, built by commands that must all be accepted:
/// <code>
/// net-1 blue  vni 5001 l3 10.0.0.0/16   tables main, isolated
///   sub-1 web  10.0.1.0/24 (main)       ep-1 web-1 (10.0.1.2, assigned), ep-2 fw (10.0.1.10, 02:00:00:00:00:10)
///   sub-2 db   10.0.2.0/24 (isolated)   ep-5 db-1 on node n2, tap in namespace "db"
///   sub-3 tiny 10.0.3.0/30 (main)       ep-4 tiny-1 (10.0.3.2, the only host address)
///   main:     0.0.0.0/0 -> ep-2, 172.16.0.0/12 -> blackhole
///   isolated: 10.99.0.0/16 -> net-4
/// net-2 green vni 5002 l2 192.168.50.0/24   ep-3 g1 (192.168.50.1, assigned), external VTEP 198.51.100.7:4789
/// net-3 plain vni 5003 l2 (no cidr)
/// net-4 leak  vni 5004 l3 10.99.0.0/16   no subnets, no endpoints
/// ep-2 moved to node n3 (moveSeq 1)
/// </code>
/// </summary>
public static class RichConfiguration
{
    public static readonly IReadOnlyList<ConfigurationCommand> Commands =
    [
        new CreateNetwork("blue", 5001, "l3", "10.0.0.0/16"),
        new CreateNetwork("green", 5002, "l2", "192.168.50.0/24"),
        new CreateNetwork("plain", 5003, "l2", null),
        new CreateNetwork("leak", 5004, "l3", "10.99.0.0/16"),
        new CreateRouteTable("net-1", "isolated"),
        new CreateSubnet("net-1", "web", "10.0.1.0/24"),
        new CreateSubnet("net-1", "db", "10.0.2.0/24", "isolated"),
        new CreateSubnet("net-1", "tiny", "10.0.3.0/30"),
        new CreateEndpoint("web-1", "net-1", "n1", new EndpointPortSpec("guest"), Subnet: "sub-1"),
        new CreateEndpoint("fw", "net-1", "n1", new EndpointPortSpec("guest"), Ip: "10.0.1.10", Mac: "02:00:00:00:00:10", SourceCheck: false),
        new CreateEndpoint("g1", "net-2", "n2", new EndpointPortSpec("guest")),
        new CreateEndpoint("tiny-1", "net-1", "n2", new EndpointPortSpec("guest"), Subnet: "sub-3"),
        new CreateEndpoint("db-1", "net-1", "n2", new EndpointPortSpec("tap", "db"), Subnet: "sub-2"),
        new AddRoute("net-1", "main", "0.0.0.0/0", new RouteTargetSpec("endpoint", Endpoint: "ep-2")),
        new AddRoute("net-1", "main", "172.16.0.0/12", new RouteTargetSpec("blackhole")),
        new AddRoute("net-1", "isolated", "10.99.0.0/16", new RouteTargetSpec("network", Network: "net-4")),
        new AddExternalVtep("net-2", "198.51.100.7"),
        new MoveEndpoint("ep-2", "n3"),
    ];

    /// <summary>The configuration the commands build, decided and applied without any actor.</summary>
    public static FabricConfiguration Build()
    {
        var state = FabricConfiguration.Empty;
        foreach (var command in Commands)
        {
            var decision = state.Decide(command);
            if (decision is not Decision.Accept accept || accept.Events.Count == 0)
                throw new InvalidOperationException($"{command} was not accepted: {decision}");
            state = state.ApplyAll(accept.Events);
        }
        return state;
    }
}
