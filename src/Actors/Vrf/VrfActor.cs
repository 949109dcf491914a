using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Sharding;
using Fabric.Actors.Intent;
using Fabric.Actors.Node;
using Fabric.Dataplane.Packets;

namespace Fabric.Actors.Vrf;

/// <summary>Messages to a VRF entity carry the id of the route table they concern: <c>vrf-{network}-{table}</c>.</summary>
public interface IVrfMessage : IFabricMessage { string VrfId { get; } }

/// <summary>A VTEP actor asks for a route table and its updates.</summary>
public sealed record SubscribeVrf(string VrfId, IActorRef Subscriber) : IVrfMessage;

/// <summary>One resolved route: the target already turned into what the dataplane needs (an endpoint's MAC, a VNI).</summary>
public sealed record VrfRoute(Ipv4Prefix Destination, Intent.RouteTargetKind Kind, MacAddress EndpointMac, int Vni) : IFabricMessage;

/// <summary>The route table as its owner holds it, at one configuration revision. Exists = false: the table is gone.</summary>
public sealed record VrfRoutes(string VrfId, long Revision, bool Exists, IReadOnlyList<VrfRoute> Routes) : IVrfMessage;

/// <summary>
/// One route table (VRF), owned by one node at a time through cluster sharding. The owner resolves the table from
/// the configuration (endpoint targets to MACs, network targets to VNIs) and keeps every subscribed VTEP actor's
/// read-only copy current. When the owner fails, sharding starts the entity on another node; the subscribers watch
/// the entity that answered them, subscribe again when it stops, and keep their last copy meanwhile.
/// </summary>
/// <remarks>
/// The node sharding picks may hold nothing of the table's network: the entity asks the node's replica to hold it
/// (<see cref="HoldNetworks"/>, and the replica holds what a held network routes to). It recomputes only when an
/// update's events touch its network's route tables, an endpoint or network its routes target, or on a reset:
/// O(events) to decide, O(routes) to recompute, nothing for unrelated changes.
/// </remarks>
public sealed class VrfActor : ReceiveActor
{
    public const string TypeName = "vrf";
    public const string ReplicaPath = "/user/config-replica";

    private readonly string _vrfId;
    private readonly string _network;
    private readonly string _table;
    private readonly HashSet<IActorRef> _subscribers = new();
    // What the current routes depend on besides the table: a change to one of these recomputes.
    private readonly HashSet<string> _targetEndpoints = new(StringComparer.Ordinal);
    private readonly HashSet<string> _targetNetworks = new(StringComparer.Ordinal);
    private VrfRoutes? _current;

    /// <summary>How many times the routes were resolved (tests check that work follows changes).</summary>
    public sealed record GetResolveCount { public static readonly GetResolveCount Instance = new(); }
    private long _resolved;

    public VrfActor(string vrfId)
    {
        _vrfId = vrfId;
        (_network, _table) = Parse(vrfId);
        Receive<SubscribeVrf>(s =>
        {
            if (_subscribers.Add(s.Subscriber)) Context.Watch(s.Subscriber);
            if (_current is not null) s.Subscriber.Tell(_current);
        });
        Receive<ConfigurationUpdated>(u => { if (u.Reset || Touches(u.Events)) Resolve(u.State, u.Revision); });
        Receive<Terminated>(t => _subscribers.Remove(t.ActorRef));
        Receive<GetResolveCount>(_ => Sender.Tell(_resolved));
    }

    public static Props Props(string vrfId) => Akka.Actor.Props.Create(() => new VrfActor(vrfId));

    public static string IdOf(string networkId, string table) => $"vrf-{networkId}-{table}";

    /// <summary>Network ids contain a dash (net-3): the table is what follows the network id.</summary>
    public static (string Network, string Table) Parse(string vrfId)
    {
        var rest = vrfId.StartsWith("vrf-", StringComparison.Ordinal) ? vrfId[4..] : vrfId;
        var second = rest.IndexOf('-', rest.IndexOf('-') + 1);
        return second < 0 ? (rest, "main") : (rest[..second], rest[(second + 1)..]);
    }

    private string Owner => $"vrf:{_vrfId}";

    protected override void PreStart()
    {
        var replica = Context.ActorSelection(ReplicaPath);
        replica.Tell(new HoldNetworks(Owner, [_network]));
        replica.Tell(new SubscribeConfiguration(Self));
    }

    protected override void PostStop() => Context.ActorSelection(ReplicaPath).Tell(new HoldNetworks(Owner, []));

    /// <summary>Whether the events change what this table resolves to.</summary>
    private bool Touches(IReadOnlyList<ConfigurationEvent> events)
    {
        foreach (var e in events)
        {
            var hit = e switch
            {
                NetworkCreated x => x.Network.Id == _network || _targetNetworks.Contains(x.Network.Id),
                NetworkDeleted x => x.NetworkId == _network || _targetNetworks.Contains(x.NetworkId),
                NetworkReleased x => x.NetworkId == _network || _targetNetworks.Contains(x.NetworkId),
                RouteTableCreated x => x.NetworkId == _network && x.RouteTable == _table,
                RouteTableDeleted x => x.NetworkId == _network && x.RouteTable == _table,
                RouteAdded x => x.NetworkId == _network && x.RouteTable == _table,
                RouteRemoved x => x.NetworkId == _network && x.RouteTable == _table,
                EndpointCreated x => _targetEndpoints.Contains(x.Endpoint.Id),
                EndpointDeleted x => _targetEndpoints.Contains(x.EndpointId),
                _ => false, // a move keeps the MAC; subnets and other networks' changes do not resolve differently
            };
            if (hit) return true;
        }
        return false;
    }

    private void Resolve(FabricConfiguration state, long revision)
    {
        _resolved++;
        _targetEndpoints.Clear();
        _targetNetworks.Clear();
        ImmutableDictionary<Ipv4Prefix, Route>? table = null;
        if (state.Networks.TryGetValue(_network, out var net)) net.RouteTables.TryGetValue(_table, out table);
        var routes = new List<VrfRoute>();
        if (table is not null)
        {
            // Canonical order (by destination), so equal tables compare equal whatever the dictionary's order.
            foreach (var r in table.Values.OrderBy(r => r.Destination.Network).ThenBy(r => r.Destination.Length))
            {
                switch (r.Target.Kind)
                {
                    case Intent.RouteTargetKind.Blackhole:
                        routes.Add(new VrfRoute(r.Destination, r.Target.Kind, default, 0));
                        break;
                    case Intent.RouteTargetKind.Endpoint:
                        _targetEndpoints.Add(r.Target.Endpoint!);
                        if (state.Endpoints.TryGetValue(r.Target.Endpoint!, out var ep))
                            routes.Add(new VrfRoute(r.Destination, r.Target.Kind, ep.Mac, 0));
                        break;
                    case Intent.RouteTargetKind.Network:
                        _targetNetworks.Add(r.Target.Network!);
                        if (state.Networks.TryGetValue(r.Target.Network!, out var target))
                            routes.Add(new VrfRoute(r.Destination, r.Target.Kind, default, target.Network.Vni));
                        break;
                }
            }
        }
        var next = new VrfRoutes(_vrfId, revision, table is not null, routes.ToArray());
        if (_current is not null && _current.Exists == next.Exists && _current.Routes.SequenceEqual(next.Routes)) return;
        _current = next;
        foreach (var s in _subscribers) s.Tell(next);
    }
}

/// <summary>Shards VRFs by id.</summary>
public sealed class VrfMessageExtractor() : HashCodeMessageExtractor(maxNumberOfShards: 32)
{
    public override string? EntityId(object message) => message switch
    {
        IVrfMessage m => m.VrfId,
        _ => null,
    };
}
