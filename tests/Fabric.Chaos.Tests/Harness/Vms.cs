namespace Fabric.Chaos.Tests.Harness;

/// <summary>A VM of a chaos case: an endpoint with a TAP port in namespace <see cref="Namespace"/> on node <see cref="Node"/>.</summary>
public sealed record Vm(string Name, string Id, string Ip, string Mac, string Namespace, int Node);

/// <summary>The topology most cases share: one l3 network, two subnets, one VM per listed node (alternating subnets).</summary>
public sealed record ChaosNetwork(string Id, int Vni, IReadOnlyList<Vm> Vms)
{
    public Vm this[string name] => Vms.Single(v => v.Name == name);

    /// <summary>Network <c>chaos</c> (l3, VNI 9001, 10.90.0.0/16) with VM <c>vm-i</c> on each node i of <paramref name="nodes"/>.</summary>
    public static async Task<ChaosNetwork> CreateAsync(ChaosCluster c, params int[] nodes)
    {
        const int vni = 9001;
        var net = (await c.CreateAsync(1, "/api/v1/networks", new { name = "chaos", vni, kind = "l3", cidr = "10.90.0.0/16" })).Id;
        var subnets = new[]
        {
            (await c.CreateAsync(1, $"/api/v1/networks/{net}/subnets", new { name = "s1", cidr = "10.90.1.0/24" })).Id,
            (await c.CreateAsync(1, $"/api/v1/networks/{net}/subnets", new { name = "s2", cidr = "10.90.2.0/24" })).Id,
        };
        var vms = new List<Vm>();
        foreach (var node in nodes)
        {
            var name = $"vm-{node}";
            var ns = await c.VmNamespaceAsync(name);
            var subnet = (vms.Count % 2) + 1;
            var ip = $"10.90.{subnet}.{10 + node}";
            var answer = await c.CreateAsync(1, "/api/v1/endpoints", new
            {
                name, network = net, subnet = subnets[subnet - 1], node = $"node-{node}", ip, port = new { kind = "tap", @namespace = ns },
            });
            vms.Add(new Vm(name, answer.Id, ip, answer.Json!["mac"]!.GetValue<string>(), ns, node));
        }
        return new ChaosNetwork(net, vni, vms);
    }

    /// <summary>One ping from <paramref name="from"/> to <paramref name="to"/> answered (1 s wait).</summary>
    public static async Task<bool> PingOnceAsync(Vm from, Vm to)
    {
        var r = await Shell.InNamespace(from.Namespace, TimeSpan.FromSeconds(5), "ping", "-n", "-c", "1", "-W", "1", to.Ip);
        return r.ExitCode == 0;
    }

    /// <summary>Waits until every listed pair answers pings (ARP, gossip and the VRF copies have settled).</summary>
    public static async Task<TimeSpan> WaitConnectedAsync(TimeSpan timeout, params (Vm From, Vm To)[] pairs)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        foreach (var (from, to) in pairs)
            await ChaosCluster.WaitUntilAsync(() => PingOnceAsync(from, to), timeout - clock.Elapsed, $"{from.Name} pings {to.Name} ({to.Ip})", 200);
        return clock.Elapsed;
    }
}
