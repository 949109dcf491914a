using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using Fabric.Actors.Node;

namespace Fabric.Nodes.Http;

// Request bodies, as sent. Every field is nullable: the configuration actor enforces every rule, including
// "required", and names the field at fault; the HTTP layer only turns JSON into commands. ([Required] and
// [Description] document the contract in /openapi/v1.json; nothing validates with them.)

[JsonExample("""{"name": "blue", "vni": 100, "kind": "l3", "cidr": "10.1.0.0/16"}""")]
public sealed record CreateNetworkRequest(
    [property: Required, Description("1-63 of letters, digits, '.', '_', '-'; unique")] string? Name,
    [property: Required, Description("VXLAN network identifier, 1..16777215, unique")] long? Vni,
    [property: Required, Description("\"l2\" (a switch) or \"l3\" (routed subnets, no broadcast)")] string? Kind,
    [property: Description("IPv4 CIDR; required for l3")] string? Cidr = null);

[JsonExample("""{"name": "web", "cidr": "10.1.1.0/24"}""")]
public sealed record CreateSubnetRequest(
    [property: Required] string? Name,
    [property: Required, Description("inside the network's cidr, overlapping no sibling")] string? Cidr,
    [property: Description("route table the subnet uses (default \"main\")")] string? RouteTable = null);

[JsonExample("""{"name": "via-firewall"}""")]
public sealed record CreateRouteTableRequest([property: Required] string? Name);

public sealed record RouteTargetRequest(
    [property: Required, Description("\"endpoint\" (an appliance), \"blackhole\" or \"network\" (a leak)")] string? Kind,
    [property: Description("endpoint id, for kind endpoint")] string? Endpoint = null,
    [property: Description("network id, for kind network")] string? Network = null);

[JsonExample("""{"destination": "0.0.0.0/0", "target": {"kind": "endpoint", "endpoint": "ep-3"}}""")]
public sealed record AddRouteRequest(
    [property: Required, Description("IPv4 CIDR outside the network's own (the implicit local route)")] string? Destination,
    [property: Required] RouteTargetRequest? Target);

[JsonExample("""{"routeTable": "main"}""")]
public sealed record BindRouteTableRequest([property: Required] string? RouteTable);

[JsonExample("""{"address": "192.0.2.10", "port": 8472}""")]
public sealed record AddExternalVtepRequest(
    [property: Required, Description("IPv4 unicast address of the VTEP")] string? Address,
    [property: Description("UDP port, default 4789 (a Linux vxlan device listens on 8472 unless told otherwise)")] long? Port = null);

public sealed record EndpointPortRequest(
    [property: Required, Description("\"guest\" (in-process machine) or \"tap\" (a TAP device)")] string? Kind,
    [property: Description("tap only: network namespace to put the device in")] string? Namespace = null);

[JsonExample("""{"name": "vm1", "network": "net-1", "node": "node-1", "port": {"kind": "guest"}}""")]
public sealed record CreateEndpointRequest(
    [property: Required] string? Name,
    [property: Required, Description("network id")] string? Network,
    [property: Required, Description("node name")] string? Node,
    [property: Required] EndpointPortRequest? Port,
    [property: Description("subnet id (l3); default: the first with a free address")] string? Subnet = null,
    [property: Description("assigned when omitted")] string? Mac = null,
    [property: Description("IPv4 address, optionally with the VM's prefix (192.168.88.1/24); assigned when omitted. A tap endpoint in an l2 network without cidr needs the prefix (400 naming ip otherwise); where the subnet or network has a cidr, a prefix must match it")] string? Ip = null,
    [property: Description("drop frames whose source MAC/IP is not the endpoint's (default true)")] bool? SourceCheck = null);

[JsonExample("""{"endpoints": [{"name": "vm1", "network": "net-1", "node": "node-1", "port": {"kind": "guest"}}]}""")]
public sealed record BulkCreateEndpointsRequest(
    [property: Required, Description("1 to 10000 bodies of POST /api/v1/endpoints; created in this order, all or none")] IReadOnlyList<CreateEndpointRequest?>? Endpoints);

[JsonExample("""{"ids": ["ep-1", "ep-2"]}""")]
public sealed record BulkDeleteEndpointsRequest(
    [property: Required, Description("1 to 10000 endpoint ids; all are deleted or none")] IReadOnlyList<string?>? Ids);

[JsonExample("""{"node": "node-2"}""")]
public sealed record MoveEndpointRequest([property: Required, Description("node name")] string? Node);

[JsonExample("""{"target": "10.1.1.3", "count": 3}""")]
/// <summary><c>POST /api/v1/trace</c>: probes from an endpoint's port (issue 12).</summary>
public sealed record TraceRequest(
    [property: Required, Description("the id of the endpoint the probes leave from, as if its VM sent them")] string? Endpoint,
    [property: Required, Description("IPv4 address")] string? Destination,
    [property: Description("icmp (echo request, default), tcp (SYN) or udp")] string? Protocol = null,
    [property: Description("destination port, 1..65535: required for tcp and udp, not allowed for icmp")] int? Port = null,
    [property: Description("probes, 1..10 (default 1)")] int? Count = null,
    [property: Description("stop every probe at its last hop, counted, instead of delivering it to the destination VM (default false)")] bool? StopAtLastHop = null);

public sealed record PingRequest(
    [property: Required, Description("IPv4 address")] string? Target,
    [property: Description("echo requests, 1..100 (default 3)")] int? Count = null,
    [property: Description("IP TTL, 1..255 (default 64)")] int? Ttl = null);

// Answers the HTTP layer shapes itself (the configuration's own records are returned as they are).

/// <summary>The endpoints a bulk create made, in request order.</summary>
public sealed record BulkCreateEndpointsResponse(IReadOnlyList<Fabric.Actors.Intent.Endpoint> Endpoints);

public sealed record BulkDeleteEndpointsResponse(int Deleted);

public sealed record HealthStatus(string Status, string Node, string? Detail = null);

public sealed record PingResponse(int Sent, int Received, IReadOnlyList<double> RttMs, IReadOnlyList<int> ReplyTtl);

public sealed record FdbEntry(string Network, int Vni, string Mac, string? Ip, string Location, string Source, long Seq);

public sealed record FdbResponse(string Node, string? Network, IReadOnlyList<FdbEntry> Entries);

public sealed record EffectiveRoutesResponse(string Node, string Network, int Vni, IReadOnlyList<RouteRow> Routes);

public sealed record FloodGroupResponse(string Node, string Network, int Vni, IReadOnlyList<string> Members, IReadOnlyList<string> AcceptedFrom);
