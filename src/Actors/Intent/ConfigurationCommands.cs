namespace Fabric.Actors.Intent;

// Commands to the configuration actor. They carry what the user sent, unparsed (strings for names,
// addresses, prefixes and kinds; null for an omitted field), so that every rule, down to "is this a
// CIDR", is enforced by FabricConfiguration.Decide and not only by whoever built the command.

public abstract record ConfigurationCommand : IFabricMessage;

public sealed record CreateNetwork(string? Name, long? Vni, string? Kind, string? Cidr) : ConfigurationCommand;

public sealed record DeleteNetwork(string NetworkId) : ConfigurationCommand;

public sealed record CreateSubnet(string NetworkId, string? Name, string? Cidr, string? RouteTable = null) : ConfigurationCommand;

public sealed record DeleteSubnet(string NetworkId, string SubnetId) : ConfigurationCommand;

public sealed record BindSubnetRouteTable(string NetworkId, string SubnetId, string? RouteTable) : ConfigurationCommand;

public sealed record CreateRouteTable(string NetworkId, string? Name) : ConfigurationCommand;

public sealed record DeleteRouteTable(string NetworkId, string RouteTable) : ConfigurationCommand;

/// <summary>A route target as sent: kind "endpoint" | "blackhole" | "network" and the id that kind needs.</summary>
public sealed record RouteTargetSpec(string? Kind, string? Endpoint = null, string? Network = null);

public sealed record AddRoute(string NetworkId, string RouteTable, string? Destination, RouteTargetSpec? Target) : ConfigurationCommand;

public sealed record RemoveRoute(string NetworkId, string RouteTable, string? Destination) : ConfigurationCommand;

public sealed record AddExternalVtep(string NetworkId, string? Address, long? Port = null) : ConfigurationCommand;

public sealed record RemoveExternalVtep(string NetworkId, string? Address, long? Port = null) : ConfigurationCommand;

/// <summary>An endpoint port as sent: kind "guest" | "tap", and for tap an optional network namespace.</summary>
public sealed record EndpointPortSpec(string? Kind, string? Namespace = null);

public sealed record CreateEndpoint(
    string? Name,
    string? Network,
    string? Node,
    EndpointPortSpec? Port,
    string? Subnet = null,
    string? Mac = null,
    string? Ip = null,
    bool? SourceCheck = null) : ConfigurationCommand;

public sealed record MoveEndpoint(string EndpointId, string? Node) : ConfigurationCommand;

public sealed record DeleteEndpoint(string EndpointId) : ConfigurationCommand;

/// <summary>
/// Creates every endpoint, or none: item i is decided against the configuration with items 0..i-1 applied (so names,
/// MACs and IPs conflict inside the request too), and all the events are persisted as one atomic write. A refusal names
/// the first item at fault: <c>endpoints[i].field</c>. 1 to <see cref="MaxItems"/> items.
/// </summary>
public sealed record CreateEndpoints(IReadOnlyList<CreateEndpoint> Items) : ConfigurationCommand
{
    /// <summary>The most items one request may carry (API.md: up to 10,000).</summary>
    public const int MaxItems = 10_000;
}

/// <summary>
/// Deletes every endpoint, or none: an unknown id is 404 naming <c>ids[i]</c>, an endpoint a route targets 409 naming
/// <c>ids[i]</c>; nothing is deleted then. 1 to <see cref="CreateEndpoints.MaxItems"/> ids.
/// </summary>
public sealed record DeleteEndpoints(IReadOnlyList<string> Ids) : ConfigurationCommand;
