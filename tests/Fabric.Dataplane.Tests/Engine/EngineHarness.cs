using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Engine;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Ports;
using Fabric.Dataplane.Ports.Guest;
using Fabric.Dataplane.Tables;

namespace Fabric.Dataplane.Tests.Engine;

/// <summary>A dataplane engine on a loopback VTEP address, with helpers to attach guests and TAPs.</summary>
public sealed class EngineNode : IDisposable
{
    public EngineNode(VtepEndpoint vtep, EngineOptions? options = null)
    {
        Vtep = vtep;
        Holder = new SnapshotHolder();
        Underlay = new UdpUnderlay(vtep);
        Engine = new DataplaneEngine(Holder, Underlay, options);
        Engine.Start();
    }

    public VtepEndpoint Vtep { get; }
    public SnapshotHolder Holder { get; }
    public UdpUnderlay Underlay { get; }
    public DataplaneEngine Engine { get; }

    public void Dispose()
    {
        Engine.Dispose();
        Underlay.Dispose();
    }

    /// <summary>A unique loopback /8 address per test run, so parallel tests never share a VTEP socket.</summary>
    public static VtepEndpoint FreeLoopbackVtep()
    {
        var n = Interlocked.Increment(ref _next);
        return new VtepEndpoint(new Ipv4Address(0x7F00_0000u | (uint)(Environment.ProcessId % 200 + 20) << 16 | (uint)n << 8 | 1), (ushort)(20000 + n));
    }

    private static int _next = Random.Shared.Next(1, 100);
}

/// <summary>Endpoint placement for a small l3 or l2 network spread over engine nodes.</summary>
public sealed record PlacedEndpoint(string Name, int Node, int Port, MacAddress Mac, Ipv4Address Ip, int Subnet);

public static class Fabrics
{
    /// <summary>Publishes one network's state on every node: its local endpoints as ports, the others at their VTEP.</summary>
    public static void Publish(EngineNode[] nodes, int vni, NetworkKind kind, Ipv4Prefix cidr, Ipv4Prefix[] subnets, IReadOnlyList<PlacedEndpoint> eps)
        => Publish(Array.ConvertAll(nodes, n => (n.Vtep, n.Holder)), vni, kind, cidr, subnets, eps);

    /// <summary>The same for any nodes given as their VTEP and snapshot holder (engine groups).</summary>
    public static void Publish((VtepEndpoint Vtep, SnapshotHolder Holder)[] nodes, int vni, NetworkKind kind, Ipv4Prefix cidr, Ipv4Prefix[] subnets,
        IReadOnlyList<PlacedEndpoint> eps)
    {
        for (int n = 0; n < nodes.Length; n++)
        {
            var b = new NetworkStateBuilder(vni, "net", kind, cidr) { LocalVtep = nodes[n].Vtep };
            foreach (var node in nodes) b.Member(node.Vtep);
            for (int s = 0; s < subnets.Length; s++) b.Subnet($"s{s}", subnets[s]);
            var ports = new List<PortState>();
            foreach (var e in eps)
            {
                var local = e.Node == n;
                b.Endpoint(e.Mac, e.Ip, local ? Location.Local(e.Port) : Location.Remote(nodes[e.Node].Vtep), local ? EntrySource.Config : EntrySource.Gossip, 1);
                if (local) ports.Add(new PortState(e.Port, e.Name, vni, e.Mac, e.Ip, true, kind == NetworkKind.L3 ? e.Subnet : -1, new PortCounters()));
            }
            nodes[n].Holder.Publish(ForwardingSnapshot.Create(nodes[n].Vtep, [b.Build()], ports));
        }
    }
}
