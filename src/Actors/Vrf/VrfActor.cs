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
/// read-only copy current. When the owner fails, sharding starts the entity on another node and the subscribers,
/// which re-subscribe periodically and keep their last copy meanwhile, find it there.
/// </summary>
public sealed class VrfActor : ReceiveActor
{
    public const string TypeName = "vrf";

    private readonly string _vrfId;
    private readonly string _network;
    private readonly string _table;
    private readonly HashSet<IActorRef> _subscribers = new();
    private VrfRoutes? _current;

    public VrfActor(string vrfId)
    {
        _vrfId = vrfId;
        (_network, _table) = Parse(vrfId);
        Receive<SubscribeVrf>(s =>
        {
            if (_subscribers.Add(s.Subscriber)) Context.Watch(s.Subscriber);
            if (_current is not null) s.Subscriber.Tell(_current);
        });
        Receive<ConfigurationUpdated>(u => OnConfiguration(u.Listing));
        Receive<Terminated>(t => _subscribers.Remove(t.ActorRef));
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

    protected override void PreStart()
    {
        // This node may hold nothing of the VRF's network (sharding placed the table here): ask the replica to hold it.
        var replica = Context.ActorSelection("/user/config-replica");
        replica.Tell(new HoldNetworks($"vrf:{_vrfId}", [_network]));
        replica.Tell(new SubscribeConfiguration(Self));
    }

    protected override void PostStop()
        => Context.ActorSelection("/user/config-replica").Tell(new HoldNetworks($"vrf:{_vrfId}", []));

    private void OnConfiguration(ConfigurationListing l)
    {
        var net = l.Networks.FirstOrDefault(n => n.Id == _network);
        var table = net?.RouteTables.FirstOrDefault(t => t.Name == _table);
        var routes = new List<VrfRoute>();
        if (table is not null)
        {
            var macs = l.Endpoints.ToDictionary(e => e.Id, e => e.Mac);
            var vnis = l.Networks.ToDictionary(n => n.Id, n => n.Vni);
            foreach (var r in table.Routes)
            {
                switch (r.Target.Kind)
                {
                    case Intent.RouteTargetKind.Blackhole:
                        routes.Add(new VrfRoute(r.Destination, r.Target.Kind, default, 0));
                        break;
                    case Intent.RouteTargetKind.Endpoint when macs.TryGetValue(r.Target.Endpoint!, out var mac):
                        routes.Add(new VrfRoute(r.Destination, r.Target.Kind, mac, 0));
                        break;
                    case Intent.RouteTargetKind.Network when vnis.TryGetValue(r.Target.Network!, out var vni):
                        routes.Add(new VrfRoute(r.Destination, r.Target.Kind, default, vni));
                        break;
                }
            }
        }
        var next = new VrfRoutes(_vrfId, l.Revision, table is not null, routes.ToArray());
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
