using Akka.Actor;
using Fabric.Actors.Intent;
using Fabric.Actors.Node;
using Fabric.Dataplane.Packets;
using VtepEndpoint = Fabric.Dataplane.Tables.VtepEndpoint;

namespace Fabric.Actors.Tests.Vtep;

/// <summary>Configurations and messages for driving a node's consumers with configuration updates directly.</summary>
public static class ConsumerFixtures
{
    public const string ClusterConfig = """
        akka.actor.provider = cluster
        akka.remote.dot-netty.tcp.hostname = 127.0.0.1
        akka.remote.dot-netty.tcp.port = 0
        akka.loglevel = WARNING
        akka.test.single-expect-default = 10s
        """;

    public static readonly NodeIdentity Self = new("node-1", new VtepEndpoint(Ipv4Address.Parse("127.0.0.1"), 4789), "");

    public static int VniOf(int network) => 5000 + network;

    public static MacAddress MacOf(int endpoint) => MacAddress.Parse($"02:00:00:{endpoint >> 16 & 0xff:x2}:{endpoint >> 8 & 0xff:x2}:{endpoint & 0xff:x2}");

    public static Endpoint EndpointOf(int id, int network, string node, long moveSeq = 0)
        => new($"ep-{id}", $"vm-{id}", $"net-{network}", null, node, MacOf(id), Ipv4Address.Parse($"10.{network >> 8 & 0xff}.{network & 0xff}.{id % 250 + 2}"),
            new EndpointPort(PortKind.Guest), true, moveSeq);

    /// <summary><paramref name="networks"/> l2 networks (net-1 … , VNI 5001 …), each with <paramref name="perNetwork"/> endpoints on <paramref name="node"/>.</summary>
    public static FabricConfiguration Networks(int networks, int perNetwork, string node = "node-2")
    {
        var state = FabricConfiguration.Empty;
        var next = 1;
        for (int n = 1; n <= networks; n++)
        {
            state = state.Apply(new NetworkCreated(new Network($"net-{n}", $"n{n}", VniOf(n), NetworkKind.L2, Ipv4Prefix.Parse($"10.{n >> 8 & 0xff}.{n & 0xff}.0/24"))));
            for (int e = 0; e < perNetwork; e++) state = state.Apply(new EndpointCreated(EndpointOf(next++, n, node)));
        }
        return state;
    }

    /// <summary>The update a replica sends after applying <paramref name="events"/> to <paramref name="before"/>.</summary>
    public static ConfigurationUpdated Apply(ref FabricConfiguration before, long revision, params ConfigurationEvent[] events)
    {
        before = before.ApplyAll(events);
        return new ConfigurationUpdated(before, revision, events, false);
    }

    /// <summary>Forwards everything to a probe: stands in for a named actor (e.g. <c>/user/config-replica</c>).</summary>
    public sealed class Forwarder : ReceiveActor
    {
        public Forwarder(IActorRef to) => ReceiveAny(m => to.Forward(m));
    }
}
