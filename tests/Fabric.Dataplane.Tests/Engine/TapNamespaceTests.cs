using System.Diagnostics;
using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Ports;
using Fabric.Dataplane.Tables;

namespace Fabric.Dataplane.Tests.Engine;

/// <summary>
/// Real Linux peers: TAP devices inside network namespaces, driven by the real ping and arping binaries, with the
/// fabric between them on two dataplane engines over loopback UDP. Root only.
/// </summary>
public class TapNamespaceTests
{
    private static readonly Ipv4Prefix Cidr = Ipv4Prefix.Parse("10.20.0.0/16");
    private static readonly Ipv4Prefix[] Subnets = [Ipv4Prefix.Parse("10.20.1.0/24"), Ipv4Prefix.Parse("10.20.2.0/24")];

    private sealed class TapWorld : IDisposable
    {
        public readonly EngineNode[] Nodes = [new(EngineNode.FreeLoopbackVtep()), new(EngineNode.FreeLoopbackVtep())];
        public readonly string Tag = $"{Environment.ProcessId % 10000}{Random.Shared.Next(100, 999)}";
        public string Ns(string name) => $"fabt-{Tag}-{name}";
        public void Dispose()
        {
            foreach (var n in Nodes) n.Dispose();
        }
    }

    private static async Task<TapWorld> Build(NetworkKind kind, params PlacedEndpoint[] eps)
    {
        var w = new TapWorld();
        Fabrics.Publish(w.Nodes, 7001, kind, Cidr, Subnets, eps);
        foreach (var e in eps)
        {
            var subnet = kind == NetworkKind.L3 ? Subnets[e.Subnet] : Ipv4Prefix.Parse("10.20.0.0/16");
            var tap = TapPort.Create(e.Port, new TapSettings($"ft{w.Tag}{e.Port}{e.Node}", e.Mac, e.Ip, subnet.Length,
                kind == NetworkKind.L3 ? subnet.FirstHost : default, w.Ns(e.Name)));
            await w.Nodes[e.Node].Engine.AddPortAsync(tap);
        }
        return w;
    }

    private static readonly PlacedEndpoint Web1 = new("web1", 0, 1, MacAddress.Parse("02:00:00:00:20:10"), Ipv4Address.Parse("10.20.1.10"), 0);
    private static readonly PlacedEndpoint Web2 = new("web2", 1, 1, MacAddress.Parse("02:00:00:00:20:20"), Ipv4Address.Parse("10.20.1.20"), 0);
    private static readonly PlacedEndpoint Db1 = new("db1", 1, 2, MacAddress.Parse("02:00:00:00:22:10"), Ipv4Address.Parse("10.20.2.10"), 1);

    [RootFact("ping")]
    public async Task Real_ping_in_namespaces_crosses_the_fabric_between_nodes_in_an_l3_network()
    {
        using var w = await Build(NetworkKind.L3, Web1, Web2, Db1);
        var same = Netns.Exec(w.Ns("web1"), "ping", "-c", "3", "-i", "0.2", "-W", "2", Web2.Ip.ToString());
        Assert.True(same.Code == 0, same.Output);
        var routed = Netns.Exec(w.Ns("web1"), "ping", "-c", "2", "-i", "0.2", "-W", "2", "-t", "7", Db1.Ip.ToString());
        Assert.True(routed.Code == 0, routed.Output);
        var gateway = Netns.Exec(w.Ns("web1"), "ping", "-c", "1", "-W", "2", "10.20.1.1");
        Assert.True(gateway.Code == 0, gateway.Output);
        var otherGateway = Netns.Exec(w.Ns("web1"), "ping", "-c", "1", "-W", "1", "10.20.2.1");
        Assert.NotEqual(0, otherGateway.Code);
        Assert.True(w.Nodes[0].Holder.Current.Networks[7001].Counters.Drop(DropReason.OtherSubnetGateway) >= 1);
    }

    [RootFact("ping")]
    public async Task A_broadcast_ping_in_an_l3_network_is_dropped_and_counted()
    {
        using var w = await Build(NetworkKind.L3, Web1, Web2);
        Netns.Exec(w.Ns("web1"), "ping", "-b", "-c", "2", "-i", "0.2", "-W", "1", "10.20.1.255");
        var c = w.Nodes[0].Holder.Current.Networks[7001].Counters;
        Assert.True(c.Drop(DropReason.BroadcastInL3) >= 1, $"broadcast drops: {c.Drop(DropReason.BroadcastInL3)}");
        Assert.Equal(0, w.Nodes[1].Holder.Current.Networks[7001].Counters.Decapsulated);
    }

    [RootFact("arping")]
    public async Task Real_arping_gets_proxy_arp_answers_with_the_target_vms_mac()
    {
        using var w = await Build(NetworkKind.L3, Web1, Web2);
        var r = Netns.Exec(w.Ns("web1"), "arping", "-c", "2", "-w", "3", "-I", $"ft{w.Tag}10", Web2.Ip.ToString());
        Assert.True(r.Code == 0, r.Output);
        Assert.Contains(Web2.Mac.ToString(), r.Output, StringComparison.OrdinalIgnoreCase);
    }

    [RootFact("ping")]
    public async Task Real_ping_crosses_an_l2_network_with_arp_flooded_over_the_underlay()
    {
        using var w = await Build(NetworkKind.L2, Web1 with { Subnet = 0 }, Web2 with { Subnet = 0 });
        var r = Netns.Exec(w.Ns("web1"), "ping", "-c", "3", "-i", "0.2", "-W", "2", Web2.Ip.ToString());
        Assert.True(r.Code == 0, r.Output);
    }

    [RootFact]
    public async Task Removing_a_tap_port_removes_its_device_and_namespace()
    {
        using var w = await Build(NetworkKind.L3, Web1, Web2);
        var ns = w.Ns("web1");
        Assert.True(File.Exists($"/run/netns/{ns}"));
        await w.Nodes[0].Engine.RemovePortAsync(Web1.Port);
        Assert.False(File.Exists($"/run/netns/{ns}"));
    }
}
