using System.Net;
using System.Text.Json.Nodes;
using Akka.Actor;
using Fabric.Actors.Locations;
using Fabric.Actors.Node;
using Fabric.Actors.Vtep;
using Fabric.Dataplane.Events;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Tables;
using Fabric.Nodes.Http;
using Fabric.Nodes.Tests.Cli;
using Xunit.Abstractions;

namespace Fabric.Nodes.Tests.Http;

/// <summary>
/// Any node answers for any other: every per-node view of every node, asked at every other node, so that each
/// answer crosses Akka remoting (and the serializer's type filter) once. Every view holds real content first,
/// dictionaries included (drop counters by reason), which is what the remote answers used to be refused for.
/// </summary>
[Collection(LocalClusterCollection.Name)] // a three-node cluster: not beside the other cluster tests on two cores
public sealed class CrossNodeViewTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Nodes = 3;
    private const string Token = "cross-node-token-5e2a";
    private HttpCluster _cluster = null!;
    private List<FabricRuntime> _runtimes => _cluster.Runtimes;
    private List<Api> _apis => _cluster.Apis;

    private static string Name(int i) => $"xnode-{i + 1}";

    public async Task InitializeAsync()
    {
        _cluster = await HttpCluster.StartAsync(Nodes, Token, Name, dataplane: true, prefix: "fabric-xnode");
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Every_view_of_every_node_is_read_from_every_other_node()
    {
        var api = _apis[0];
        // The event feed of node 1, open before anything happens: it must tell every node's alarm and every endpoint placed.
        output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} cluster up; opening the event feed");
        await using var feed = await EventFeed.OpenAsync(_apis[0].Http, Token);
        output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} feed open");
        // The feed's topic subscriptions reach the other nodes (the configuration's, the alarms') with the next pub-sub
        // gossip round (akka.cluster.pub-sub.gossip-interval, 1 s): what is published before then is not for this feed.
        await Task.Delay(TimeSpan.FromSeconds(2.5));
        var vni = Random.Shared.Next(2_000_000, 3_000_000);
        var net = await api.Create("/api/v1/networks", new { name = $"xnode-{vni}", vni, kind = "l3", cidr = "10.44.0.0/16" });
        var id = net["id"]!.GetValue<string>();
        await api.Create($"/api/v1/networks/{id}/subnets", new { name = "s", cidr = "10.44.1.0/24" });
        await api.Create($"/api/v1/networks/{id}/route-tables/main/routes", new { destination = "172.16.0.0/12", target = new { kind = "blackhole" } });
        await api.Create($"/api/v1/networks/{id}/external-vteps", new { address = "192.0.2.44" });
        // Learning happens in l2 networks (an l3 network knows its endpoints from the configuration alone).
        var l2Vni = vni + 1;
        var l2 = (await api.Create("/api/v1/networks", new { name = $"xnode-{l2Vni}", vni = l2Vni, kind = "l2" }))["id"]!.GetValue<string>();
        var endpoints = new List<JsonNode>();
        for (int i = 0; i < Nodes; i++)
        {
            endpoints.Add(await api.Create("/api/v1/endpoints", new { name = $"vm-{i + 1}", network = id, node = Name(i), port = new { kind = "guest" } }));
            // A node holds the networks it has endpoints in (conditional monitoring): one idle guest in the l2 network too.
            await api.Create("/api/v1/endpoints", new { name = $"l2-{i + 1}", network = l2, node = Name(i), port = new { kind = "guest" } });
        }
        for (int i = 0; i < Nodes; i++)
        {
            var rt = _runtimes[i];
            await HttpNodeFixture.Eventually(() => Task.FromResult(rt.Snapshots.Current.TryGetNetwork(vni, out var n)
                && endpoints.All(e => n.Fdb.TryGet(MacAddress.Parse(e["mac"]!.GetValue<string>()), out _))), TimeSpan.FromSeconds(30),
                $"every endpoint in {Name(i)}'s FDB");
        }

        var learned = new MacAddress[Nodes];
        for (int i = 0; i < Nodes; i++)
        {
            // Drop counters: an l3 network answers ARP for its endpoints only, so asking for an address nobody owns is
            // dropped (ArpUnresolved) and counted on the port and the network; the answer then carries a non-empty dictionary.
            var from = endpoints[i]["id"]!.GetValue<string>();
            var ping = await _apis[i].Post($"/api/v1/endpoints/{from}/ping", new { target = "10.44.1.200", count = 1 });
            Assert.True(ping.Status == HttpStatusCode.OK, $"ping from {Name(i)}: {ping}");
            Assert.Equal(0, ping.Body["received"]!.GetValue<int>());

            // A MAC the dataplane learned on a bridge port (no configured endpoint), as the event pump would deliver it.
            learned[i] = MacAddress.Parse($"02:00:00:44:00:{i + 1:x2}");
            Inject(_runtimes[i], l2Vni, new DataplaneEvent(DataplaneEventKind.MacLearned, l2Vni, learned[i], default, Location.Local(40 + i)));
            // An address conflict seen by this node's dataplane: an alarm on this node.
            Inject(_runtimes[i], vni, new DataplaneEvent(DataplaneEventKind.AddressConflict, vni, MacAddress.Parse($"02:00:00:44:01:{i + 1:x2}"),
                Ipv4Address.Parse($"10.44.1.{100 + i}"), Location.Local(50 + i), MacAddress.Parse($"02:00:00:44:02:{i + 1:x2}")));
        }
        for (int i = 0; i < Nodes; i++)
        {
            var rt = _runtimes[i];
            await HttpNodeFixture.Eventually(() => Task.FromResult(rt.Snapshots.Current.TryGetNetwork(l2Vni, out var n)
                && learned.All(m => n.Fdb.TryGet(m, out _))), TimeSpan.FromSeconds(30), $"every learned MAC in {Name(i)}'s FDB");
        }

        var pairs = 0;
        for (int asker = 0; asker < Nodes; asker++)
            for (int target = 0; target < Nodes; target++)
            {
                if (asker == target) continue;
                await ReadViews(asker, target, id, vni, l2, endpoints, learned);
                pairs++;
            }
        Assert.Equal(Nodes * (Nodes - 1), pairs);

        output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} views read; alarms next");
        // Every node's alarms, read at every node; and the event feed of node 1 told each of them as it was raised.
        for (int asker = 0; asker < Nodes; asker++)
        {
            var alarms = await _apis[asker].Get("/api/v1/alarms");
            Assert.True(alarms.Status == HttpStatusCode.OK, $"alarms at {Name(asker)}: {alarms}");
            Assert.False(alarms.Response.Headers.Contains(AlarmRoutes.UnansweredHeader), $"a node did not answer: {alarms.Response.Headers}");
            for (int target = 0; target < Nodes; target++)
            {
                var t = target;
                var alarm = Assert.Single(alarms.Body.AsArray(), a => a!["node"]!.GetValue<string>() == Name(t) && a["kind"]!.GetValue<string>() == "address-conflict");
                Assert.Contains($"10.44.1.{100 + target}", alarm!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
                Assert.True(DateTimeOffset.Parse(alarm["since"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture) > DateTimeOffset.UtcNow.AddMinutes(-5));
            }
        }
        // fabric ctl alarms: the same answer as one row per alarm, naming the node and what it says.
        var screen = new StringWriter();
        var console = Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings
            { Out = new Spectre.Console.AnsiConsoleOutput(screen), Ansi = Spectre.Console.AnsiSupport.No, ColorSystem = Spectre.Console.ColorSystemSupport.NoColors });
        console.Profile.Width = 300;
        Fabric.Nodes.Cli.Ctl.AlarmsCommand.Render(console, (await _apis[0].Get("/api/v1/alarms?kind=address-conflict")).Body.AsArray());
        for (int target = 0; target < Nodes; target++)
            Assert.Contains(screen.ToString().Split('\n'), l => l.Contains(Name(target), StringComparison.Ordinal) && l.Contains("address-conflict", StringComparison.Ordinal)
                && l.Contains($"10.44.1.{100 + target}", StringComparison.Ordinal));
        var byKind = await _apis[1].Get($"/api/v1/alarms?kind=path-mtu&node={Name(2)}");
        Assert.Empty(byKind.Body.AsArray()); // loopback carries anything: no path MTU alarm
        await feed.WaitAsync(e => e.Type == "alarm-raised" && e.Data["kind"]!.GetValue<string>() == "address-conflict", Nodes, "every node's alarm on the feed");
        await feed.WaitAsync(e => e.Type == "endpoint" && e.Data["kind"]!.GetValue<string>() == "placed", 2 * Nodes, "every endpoint placed on the feed");
        for (int i = 0; i < Nodes; i++)
        {
            var n = Name(i);
            await feed.WaitAsync(e => e.Type == "counters" && e.Data["node"]!.GetValue<string>() == n, 1, $"counters of {n} on the feed");
        }

        // A move shows on the feed of a node that neither had nor got the endpoint.
        var moving = endpoints[1]["id"]!.GetValue<string>();
        var moved = await _apis[1].Put($"/api/v1/endpoints/{moving}/node", new { node = Name(2) });
        Assert.True(moved.Status is HttpStatusCode.OK or HttpStatusCode.Accepted, $"move: {moved}");
        await feed.WaitAsync(e => e.Type == "endpoint" && e.Data["kind"]!.GetValue<string>() == "moved"
            && e.Data["endpointId"]!.GetValue<string>() == moving && e.Data["node"]!.GetValue<string>() == Name(2), 1, "the move on the feed");
    }

    private async Task ReadViews(int asker, int target, string networkId, int vni, string l2, List<JsonNode> endpoints, MacAddress[] learned)
    {
        var api = _apis[asker];
        var node = Name(target);
        var where = $"{node}'s view asked at {Name(asker)}";

        var counters = await api.Get($"/api/v1/nodes/{node}/counters");
        Assert.True(counters.Status == HttpStatusCode.OK, $"{where}: counters {counters}");
        Assert.Equal(node, counters.Body["node"]!.GetValue<string>());
        var port = counters.Body["ports"]!.AsArray().Single(p => p!["name"]!.GetValue<string>() == $"vm-{target + 1}")!;
        Assert.True(port["drops"]!["ArpUnresolved"]!.GetValue<long>() >= 1, $"{where}: port drops {port}");
        var network = counters.Body["networks"]!.AsArray().Single(n => n!["name"]!.GetValue<string>().Contains($"vni {vni}", StringComparison.Ordinal))!;
        Assert.True(network["drops"]!["ArpUnresolved"]!.GetValue<long>() >= 1, $"{where}: network drops {network}");

        var fdb = await api.Get($"/api/v1/nodes/{node}/fdb?network={networkId}");
        Assert.True(fdb.Status == HttpStatusCode.OK, $"{where}: fdb {fdb}");
        Assert.Equal(node, fdb.Body["node"]!.GetValue<string>());
        var entries = fdb.Body["entries"]!.AsArray().ToDictionary(e => e!["mac"]!.GetValue<string>(), e => e!);
        for (int i = 0; i < Nodes; i++)
        {
            var ep = entries[endpoints[i]["mac"]!.GetValue<string>()];
            if (i == target) Assert.Equal($"local:vm-{i + 1}", ep["location"]!.GetValue<string>());
            else Assert.Equal($"vtep:{_runtimes[i].Self.Vtep}", ep["location"]!.GetValue<string>());
        }
        var learnedFdb = await api.Get($"/api/v1/nodes/{node}/fdb?network={l2}");
        Assert.True(learnedFdb.Status == HttpStatusCode.OK, $"{where}: fdb of the l2 network {learnedFdb}");
        var learnedEntries = learnedFdb.Body["entries"]!.AsArray().ToDictionary(e => e!["mac"]!.GetValue<string>(), e => e!);
        for (int i = 0; i < Nodes; i++)
        {
            var mac = learnedEntries[learned[i].ToString()];
            Assert.Equal(i == target ? "learned" : "gossip", mac["source"]!.GetValue<string>());
            if (i != target) Assert.Equal($"vtep:{_runtimes[i].Self.Vtep}", mac["location"]!.GetValue<string>());
        }

        var routes = await api.Get($"/api/v1/nodes/{node}/routes?network={networkId}");
        Assert.True(routes.Status == HttpStatusCode.OK, $"{where}: routes {routes}");
        Assert.Equal(node, routes.Body["node"]!.GetValue<string>());
        Assert.Contains(routes.Body["routes"]!.AsArray(), r => r!["destination"]!.GetValue<string>() == "172.16.0.0/12" && r["target"]!.GetValue<string>() == "blackhole");

        var flood = await api.Get($"/api/v1/nodes/{node}/flood-groups?network={networkId}");
        Assert.True(flood.Status == HttpStatusCode.OK, $"{where}: flood groups {flood}");
        Assert.Equal(node, flood.Body["node"]!.GetValue<string>());
        var members = flood.Body["members"]!.AsArray().Select(m => m!.GetValue<string>()).ToList();
        Assert.Contains(members, m => m.StartsWith("192.0.2.44", StringComparison.Ordinal));
        for (int i = 0; i < Nodes; i++)
            if (i != target) Assert.Contains(_runtimes[i].Self.Vtep.ToString(), members);

        // Alarms have no per-node HTTP view yet: ask the target's VTEP actor from the asker's ActorSystem, over remoting.
        var member = _runtimes[asker].FindMember(node) ?? throw new Xunit.Sdk.XunitException($"{Name(asker)} does not see {node}");
        var vtep = await _runtimes[asker].System.ActorSelection($"{member.Address}/user/vteps").Ask<IActorRef>(new GetVtep(vni), TimeSpan.FromSeconds(5));
        var alarms = await vtep.Ask<AddressConflictAlarm[]>(GetConflictAlarms.Instance, TimeSpan.FromSeconds(5));
        var alarm = Assert.Single(alarms);
        Assert.Equal((node, Ipv4Address.Parse($"10.44.1.{100 + target}"), MacAddress.Parse($"02:00:00:44:01:{target + 1:x2}")),
            (alarm.Node, alarm.Ip, alarm.Claimant));
        output.WriteLine($"{where}: {port["drops"]!.ToJsonString()}, {entries.Count} + {learnedEntries.Count} FDB entries, {members.Count} flood members, 1 alarm");
    }

    private static void Inject(FabricRuntime rt, int vni, DataplaneEvent e)
        => rt.System.ActorSelection("/user/vteps").Tell(new DataplaneEvents(vni, [e]));
}
