using System.Net;
using Fabric.Chaos.Tests.Harness;
using Xunit.Abstractions;

namespace Fabric.Chaos.Tests;

/// <summary>
/// TAP endpoints as a user makes them under <c>fabric up --netns</c>: created through the HTTP API, with a namespace
/// the node itself creates (not one the suite made beforehand), then reached with real tools from the root
/// namespace. A node runs inside its own network namespace; the VM's namespace must still be an ordinary one of the
/// host's (<c>ip netns exec</c> works), exactly as with a plain cluster.
/// </summary>
[Collection(ChaosCollection.Name)]
public class TapNamespaceTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(30);

    [ChaosFact("ping", "bridge")]
    public async Task A_tap_endpoint_made_through_the_api_pings_a_kernel_vxlan_host_both_ways_and_both_fdbs_learn()
    {
        const int vni = 5077;
        await using var c = await ChaosCluster.StartAsync(output, nodes: 2);

        // The external VTEP: a Linux kernel vxlan device in a namespace of its own, on fabric-br like a third host
        // (the kernel short-circuits VXLAN between local addresses, so it cannot live in the root namespace).
        var underlay = c.UnderlayAddress(1);
        var peerAddress = underlay[..(underlay.LastIndexOf('.') + 1)] + "200";
        var peer = await c.VmNamespaceAsync("kpeer");
        const string hostVeth = "fv-kpeer";
        const string kernelMac = "02:00:00:00:77:32";
        const string kernelIp = "10.77.0.50";
        await Must("ip", "link", "add", hostVeth, "type", "veth", "peer", "name", "underlay0", "netns", peer);
        await Must("ip", "link", "set", hostVeth, "master", "fabric-br", "up");
        await Must("ip", "-n", peer, "addr", "add", $"{peerAddress}/24", "dev", "underlay0");
        await Must("ip", "-n", peer, "link", "set", "underlay0", "up");
        await Must("ip", "-n", peer, "link", "set", "lo", "up");
        await Must("ip", "-n", peer, "link", "add", "vxlan0", "type", "vxlan", "id", $"{vni}", "local", peerAddress, "dstport", "4789", "dev", "underlay0");
        await Must("ip", "-n", peer, "link", "set", "vxlan0", "address", kernelMac, "mtu", "1450", "up");
        await Must("ip", "-n", peer, "addr", "add", $"{kernelIp}/24", "dev", "vxlan0");
        // Head-end replication from the kernel side: broadcast (ARP) goes to every node's VTEP.
        foreach (var i in new[] { 1, 2 })
            await Must("bridge", "-n", peer, "fdb", "append", "00:00:00:00:00:00", "dev", "vxlan0", "dst", c.UnderlayAddress(i));

        var net = (await c.CreateAsync(1, "/api/v1/networks", new { name = "interop", vni, kind = "l2", cidr = "10.77.0.0/24" })).Id;
        await c.CreateAsync(1, $"/api/v1/networks/{net}/external-vteps", new { address = peerAddress, port = 4789 });

        // The VM's namespace is named here but made by node-2 when it plugs the TAP.
        var vmNs = ChaosCluster.VmPrefix + "tap";
        c.RemoveOnDispose(vmNs);
        const string vmIp = "10.77.0.11";
        var vm = await c.CreateAsync(1, "/api/v1/endpoints", new { name = "vm-tap", network = net, node = "node-2", ip = vmIp, port = new { kind = "tap", @namespace = vmNs } });
        var vmMac = vm.Json!["mac"]!.GetValue<string>();

        await UsableFromRootAsync(vmNs, vmIp);
        await ListedWithoutComplaintAsync();

        var there = await ChaosCluster.WaitUntilAsync(async () => (await Shell.InNamespace(vmNs, TimeSpan.FromSeconds(5), "ping", "-n", "-c", "1", "-W", "1", kernelIp)).ExitCode == 0,
            Settle, $"{vmNs} pings the kernel host {kernelIp}", 200);
        var back = await ChaosCluster.WaitUntilAsync(async () => (await Shell.InNamespace(peer, TimeSpan.FromSeconds(5), "ping", "-n", "-c", "1", "-W", "1", vmIp)).ExitCode == 0,
            Settle, $"the kernel host pings {vmIp} in {vmNs}", 200);
        output.WriteLine($"TAP → kernel after {there.TotalSeconds:0.0} s, kernel → TAP after {back.TotalSeconds:0.0} s more");
        foreach (var (ns, target) in new[] { (vmNs, kernelIp), (peer, vmIp) })
        {
            var ping = await Shell.InNamespace(ns, TimeSpan.FromSeconds(15), "ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", target);
            Assert.True(ping.ExitCode == 0 && ping.Output.Contains(" 0% packet loss", StringComparison.Ordinal), $"{ns} → {target}: {ping.Output}{ping.Error}");
        }

        // The kernel learned the VM behind node-2's VTEP; the fabric (node-2, which hosts the VM) learned the kernel
        // host's MAC behind the external VTEP.
        var kernelFdb = (await Must("bridge", "-n", peer, "fdb", "show", "dev", "vxlan0")).Output;
        Assert.Contains($"{vmMac} dst {c.UnderlayAddress(2)}", kernelFdb, StringComparison.OrdinalIgnoreCase);
        var learned = await c.FdbEntryAsync(2, net, kernelMac);
        Assert.True(learned is not null, $"node-2's FDB has no {kernelMac}");
        Assert.Equal("learned", learned["source"]?.GetValue<string>());
        Assert.Contains(peerAddress, learned["location"]?.GetValue<string>() ?? "", StringComparison.Ordinal);
    }

    [ChaosFact("ping")]
    public async Task Tap_endpoints_with_a_prefix_in_an_l2_network_without_cidr_ping_each_other_and_one_without_is_refused()
    {
        await using var c = await ChaosCluster.StartAsync(output, nodes: 2);
        var net = (await c.CreateAsync(1, "/api/v1/networks", new { name = "speed", vni = 8008, kind = "l2" })).Id;

        // No CIDR on the network and none on the address: the VM would get a /32 and no route, so it is refused.
        var refused = await c.SendAsync(1, HttpMethod.Post, "/api/v1/endpoints",
            new { name = "vm-x", network = net, node = "node-1", ip = "192.168.88.9", port = new { kind = "tap", @namespace = ChaosCluster.VmPrefix + "x" } });
        Assert.True(refused.Status == HttpStatusCode.BadRequest, $"a TAP endpoint with no known prefix: {refused}");
        Assert.NotNull(refused.Json!["errors"]?["ip"]);

        var vms = new List<(string Ns, string Ip)>();
        foreach (var i in new[] { 1, 2 })
        {
            var ns = ChaosCluster.VmPrefix + $"speed{i}";
            c.RemoveOnDispose(ns);
            var ip = $"192.168.88.{i}";
            var answer = await c.CreateAsync(1, "/api/v1/endpoints", new { name = $"vm-{i}", network = net, node = $"node-{i}", ip = $"{ip}/24", port = new { kind = "tap", @namespace = ns } });
            // The address stays an address; the prefix is its own field.
            Assert.Equal(ip, answer.Json!["ip"]?.GetValue<string>());
            Assert.Equal(24, answer.Json!["prefixLength"]?.GetValue<int>());
            vms.Add((ns, ip));
        }
        foreach (var (ns, ip) in vms) await UsableFromRootAsync(ns, ip, prefix: 24);
        await ListedWithoutComplaintAsync();

        foreach (var (from, to) in new[] { (vms[0], vms[1]), (vms[1], vms[0]) })
        {
            await ChaosCluster.WaitUntilAsync(async () => (await Shell.InNamespace(from.Ns, TimeSpan.FromSeconds(5), "ping", "-n", "-c", "1", "-W", "1", to.Ip)).ExitCode == 0,
                Settle, $"{from.Ns} pings {to.Ip}", 200);
            var ping = await Shell.InNamespace(from.Ns, TimeSpan.FromSeconds(15), "ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", to.Ip);
            Assert.True(ping.ExitCode == 0 && ping.Output.Contains(" 0% packet loss", StringComparison.Ordinal), $"{from.Ns} → {to.Ip}: {ping.Output}{ping.Error}");
        }
    }

    /// <summary>
    /// The node made the namespace and put the TAP in it with its address: seen from the root namespace by
    /// <c>ip netns exec</c> (a namespace mounted where only the node sees it fails here: "Invalid argument").
    /// </summary>
    private async Task UsableFromRootAsync(string ns, string ip, int prefix = 24)
    {
        Shell.Result? last = null;
        try
        {
            await ChaosCluster.WaitUntilAsync(async () =>
            {
                last = await Shell.InNamespace(ns, TimeSpan.FromSeconds(5), "ip", "-4", "-o", "addr", "show");
                return last.ExitCode == 0 && last.Output.Contains($"inet {ip}/{prefix}", StringComparison.Ordinal);
            }, Settle, $"`ip netns exec {ns} ip addr` shows {ip}/{prefix}");
        }
        catch (Xunit.Sdk.XunitException e)
        {
            var list = await Shell.Ip("netns", "list");
            throw new Xunit.Sdk.XunitException($"{e.Message}\nlast answer ({last?.ExitCode}): {last?.Output}{last?.Error}\n`ip netns list`: {list.Output}{list.Error}");
        }
        output.WriteLine($"{ns} usable from the root namespace with {ip}/{prefix}");
    }

    /// <summary>
    /// <c>ip netns list</c> in the root namespace complains of no namespace. Only once every namespace of the case is
    /// made: <c>ip netns add</c> creates the file in /run/netns before it bind-mounts the namespace on it, and a list
    /// taken meanwhile says "Peer netns reference is invalid" of that one (a node still making the other VM's).
    /// </summary>
    private async Task ListedWithoutComplaintAsync()
    {
        var listed = await Shell.Ip("netns", "list");
        Assert.True(listed.ExitCode == 0 && !(listed.Output + listed.Error).Contains("invalid", StringComparison.OrdinalIgnoreCase),
            $"`ip netns list` ({listed.ExitCode}): {listed.Output}{listed.Error}");
    }

    private static async Task<Shell.Result> Must(string tool, params string[] args)
        => (await Shell.RunAsync(tool, args)).Check($"{tool} {string.Join(' ', args)}");
}
