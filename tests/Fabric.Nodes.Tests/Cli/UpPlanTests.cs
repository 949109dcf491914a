using Akka.Configuration;
using Fabric.Actors.Configuration;
using Fabric.Nodes.Cli;

namespace Fabric.Nodes.Tests.Cli;

/// <summary>The layout and HOCON `fabric up` writes: pure, no processes.</summary>
public class UpPlanTests
{
    private static UpPlan Plan(int nodes = 3, int basePort = 5000, int vtepPort = 4789, string dir = "/tmp/fabric-plan")
        => UpPlan.Create(new UpOptions(nodes, dir, basePort, vtepPort), "t0ken");

    [Fact]
    public void Nodes_are_numbered_from_one_with_their_own_loopback_vtep_and_two_tcp_ports_each()
    {
        var plan = Plan();
        Assert.Equal(["node-1", "node-2", "node-3"], plan.Nodes.Select(n => n.Name));
        Assert.Equal(["127.0.0.1", "127.0.0.2", "127.0.0.3"], plan.Nodes.Select(n => n.VtepAddress));
        Assert.All(plan.Nodes, n => Assert.Equal(4789, n.VtepPort));
        Assert.Equal([5000, 5002, 5004], plan.Nodes.Select(n => n.AkkaPort));
        Assert.Equal([5001, 5003, 5005], plan.Nodes.Select(n => n.HttpPort));
        Assert.Equal("akka.tcp://fabric@127.0.0.1:5002", plan.Nodes[1].AkkaAddress);
        Assert.Equal("http://127.0.0.1:5003", plan.Nodes[1].HttpUrl);
        Assert.Equal("/tmp/fabric-plan/node-2.conf", plan.Nodes[1].ConfigFile);
        Assert.Equal("/tmp/fabric-plan/node-2.log", plan.Nodes[1].LogFile);
        Assert.Equal("/tmp/fabric-plan/cluster.json", plan.ClusterFile);
    }

    [Fact]
    public void A_relative_data_folder_is_made_absolute_so_every_node_finds_the_same_store()
    {
        var plan = UpPlan.Create(new UpOptions(2, "./fabric-data", 5000), "t", currentDirectory: "/srv/x");
        Assert.Equal("/srv/x/fabric-data", plan.DataDir);
    }

    [Fact]
    public void The_vtep_is_written_without_the_port_when_it_is_the_vxlan_default()
    {
        Assert.Equal("127.0.0.2", Plan().Nodes[1].Vtep);
        Assert.Equal("127.0.0.2:34789", Plan(vtepPort: 34789).Nodes[1].Vtep);
    }

    [Fact]
    public void Each_node_file_loads_on_top_of_the_shipped_configuration_with_its_own_identity()
    {
        var plan = Plan(vtepPort: 34789);
        foreach (var node in plan.Nodes)
        {
            var config = FabricHocon.Load(overrides: plan.NodeHocon(node));
            var settings = FabricSettings.From(config);
            Assert.Equal(node.Name, settings.NodeName);
            Assert.Equal(node.VtepAddress, settings.VtepAddress.ToString());
            Assert.Equal(34789, settings.VtepPort);
            Assert.Equal("/tmp/fabric-plan", settings.DataDir);
            Assert.Contains("/tmp/fabric-plan/fabric.db", settings.StoreConnectionString, StringComparison.Ordinal);
            Assert.Equal(node.AkkaPort, config.GetInt("akka.remote.dot-netty.tcp.port"));
            Assert.Equal("127.0.0.1", config.GetString("akka.remote.dot-netty.tcp.hostname"));
            Assert.Equal("127.0.0.1", config.GetString("fabric.http.address"));
            Assert.Equal(node.HttpPort, config.GetInt("fabric.http.port"));
            Assert.Equal("t0ken", config.GetString("fabric.http.token"));
            // Every node lists every node as a seed, node-1 first: node-1 forms the cluster on the first start, and a
            // restarted node-1 joins the running cluster instead of forming a second one.
            Assert.Equal(["akka.tcp://fabric@127.0.0.1:5000", "akka.tcp://fabric@127.0.0.1:5002", "akka.tcp://fabric@127.0.0.1:5004"],
                config.GetStringList("akka.cluster.seed-nodes"));
        }
    }

    [Fact]
    public void The_node_file_is_what_fabric_node_reads_back_with_the_token()
    {
        var plan = Plan();
        var file = Path.Combine(Path.GetTempPath(), $"fabric-plan-{Guid.NewGuid():N}.conf");
        try
        {
            File.WriteAllText(file, plan.NodeHocon(plan.Nodes[2]));
            var config = FabricHocon.Load(file);
            var startup = NodeCommand.Resolve(config, file, _ => null);
            Assert.Equal(new NodeCommand.NodeStartup("node-3", "127.0.0.1", 5005, "t0ken"), startup);
            Assert.Equal("http://127.0.0.1:5005", startup.HttpUrl);
        }
        finally { File.Delete(file); }
    }

    [Fact]
    public void Quotes_and_backslashes_in_paths_and_tokens_survive_the_hocon()
    {
        var plan = UpPlan.Create(new UpOptions(1, "/tmp/odd \"dir\\x", 5000), "a\"b\\c");
        var config = FabricHocon.Load(overrides: plan.NodeHocon(plan.Nodes[0]));
        Assert.Equal("/tmp/odd \"dir\\x", config.GetString("fabric.data-dir"));
        Assert.Equal("a\"b\\c", config.GetString("fabric.http.token"));
    }

    [Theory]
    [InlineData(0, 5000, 4789, "--nodes must be between 1 and 254")]
    [InlineData(255, 5000, 4789, "--nodes must be between 1 and 254")]
    [InlineData(3, 80, 4789, "--base-port must be 1024 or more")]
    [InlineData(3, 65532, 4789, "leaves no room for 3 nodes")]
    [InlineData(3, 5000, 0, "--vtep-port must be between 1 and 65535")]
    public void Impossible_options_are_refused_with_the_reason(int nodes, int basePort, int vtepPort, string reason)
    {
        var e = Assert.Throws<CliException>(() => UpPlan.Create(new UpOptions(nodes, "/tmp/x", basePort, vtepPort), "t"));
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_largest_cluster_fits_its_ports_exactly()
    {
        var plan = UpPlan.Create(new UpOptions(254, "/tmp/x", 65535 - 2 * 254 + 1), "t");
        Assert.Equal(65535, plan.Nodes[^1].HttpPort);
        Assert.Equal("127.0.0.254", plan.Nodes[^1].VtepAddress);
    }

    [Fact]
    public void Tokens_are_fresh_and_url_safe()
    {
        var a = UpPlan.NewToken();
        var b = UpPlan.NewToken();
        Assert.NotEqual(a, b);
        Assert.Equal(43, a.Length);
        Assert.Matches("^[A-Za-z0-9_-]+$", a);
    }
}

/// <summary>`fabric up --netns`: the namespace layout and the `ip` commands (pure).</summary>
public class NetnsPlanTests
{
    private static UpPlan Plan(int nodes = 3, string? underlay = null)
        => UpPlan.Create(new UpOptions(nodes, "/tmp/n", 5000) { Netns = true, Underlay = underlay }, "t");

    [Fact]
    public void Each_node_takes_the_underlay_address_for_everything_and_the_bridge_the_last_one()
    {
        var plan = Plan();
        Assert.Equal("10.250.0.0/24", plan.Underlay.ToString());
        Assert.Equal("10.250.0.254", plan.BridgeAddress);
        Assert.Equal(["10.250.0.1", "10.250.0.2", "10.250.0.3"], plan.Nodes.Select(n => n.VtepAddress));
        Assert.Equal(["fabric-node-1", "fabric-node-2", "fabric-node-3"], plan.Nodes.Select(n => n.Namespace));
        Assert.Equal("akka.tcp://fabric@10.250.0.2:5002", plan.Nodes[1].AkkaAddress);
        Assert.Equal("http://10.250.0.2:5003", plan.Nodes[1].HttpUrl);
        var config = Fabric.Actors.Configuration.FabricHocon.Load(overrides: plan.NodeHocon(plan.Nodes[1]));
        Assert.Equal("10.250.0.2", config.GetString("akka.remote.dot-netty.tcp.hostname"));
        Assert.Equal("10.250.0.2", config.GetString("fabric.http.address"));
        Assert.Equal(["akka.tcp://fabric@10.250.0.1:5000", "akka.tcp://fabric@10.250.0.2:5002", "akka.tcp://fabric@10.250.0.3:5004"],
            config.GetStringList("akka.cluster.seed-nodes"));
    }

    [Fact]
    public void A_restarted_node_does_not_list_itself_as_a_seed_so_it_can_only_rejoin()
    {
        var plan = Plan();
        var config = Fabric.Actors.Configuration.FabricHocon.Load(overrides: plan.NodeHocon(plan.Nodes[0], rejoin: true));
        Assert.Equal(["akka.tcp://fabric@10.250.0.2:5002", "akka.tcp://fabric@10.250.0.3:5004"], config.GetStringList("akka.cluster.seed-nodes"));
    }

    [Fact]
    public void Hocon_from_the_command_line_goes_last_into_every_node_file()
    {
        var plan = UpPlan.Create(new UpOptions(2, "/tmp/n", 5000) { ExtraHocon = "fabric.store.connection-string = \"Host=db\"\nakka.cluster.split-brain-resolver.stable-after = 7s" }, "t");
        foreach (var node in plan.Nodes)
        {
            var config = Fabric.Actors.Configuration.FabricHocon.Load(overrides: plan.NodeHocon(node));
            Assert.Equal("Host=db", config.GetString("fabric.store.connection-string"));
            Assert.Equal(TimeSpan.FromSeconds(7), config.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after"));
        }
    }

    [Fact]
    public void Another_underlay_is_honoured_with_host_bits_cleared()
    {
        var plan = Plan(2, "192.168.77.9/28");
        Assert.Equal("192.168.77.0/28", plan.Underlay.ToString());
        Assert.Equal("192.168.77.14", plan.BridgeAddress);
        Assert.Equal(["192.168.77.1", "192.168.77.2"], plan.Nodes.Select(n => n.VtepAddress));
    }

    [Theory]
    [InlineData(3, "10.0.0.0/30", "room for 2 hosts")]
    [InlineData(3, "fe80::/64", "not an IPv4 CIDR")]
    [InlineData(3, "10.0.0.0", "not an IPv4 CIDR")]
    public void Underlays_too_small_or_malformed_are_refused(int nodes, string underlay, string reason)
    {
        var e = Assert.Throws<CliException>(() => Plan(nodes, underlay));
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Underlay_without_netns_is_refused()
        => Assert.Throws<CliException>(() => UpPlan.Create(new UpOptions(3, "/tmp/n", 5000) { Underlay = "10.1.0.0/24" }, "t"));

    [Fact]
    public void The_ip_commands_build_bridge_namespaces_and_veth_pairs_and_teardown_removes_them()
    {
        var plan = Plan(2);
        var setup = Netns.SetupCommands(plan).Select(c => string.Join(' ', c)).ToArray();
        Assert.Equal("link add fabric-br type bridge", setup[0]);
        Assert.Contains("addr add 10.250.0.254/24 dev fabric-br", setup);
        Assert.Contains("netns add fabric-node-2", setup);
        Assert.Contains("link add fv-2 type veth peer name fp-2", setup);
        Assert.Contains("link set fp-2 netns fabric-node-2", setup);
        Assert.Contains("-n fabric-node-2 addr add 10.250.0.2/24 dev eth0", setup);
        Assert.Contains("link set fv-2 master fabric-br", setup);
        Assert.True(Array.IndexOf(setup, "netns add fabric-node-2") < Array.IndexOf(setup, "link set fp-2 netns fabric-node-2"));
        var teardown = Netns.TeardownCommands(plan.Nodes.Select(n => n.Namespace!)).Select(c => string.Join(' ', c));
        Assert.Equal(["link del fv-1", "netns del fabric-node-1", "link del fv-2", "netns del fabric-node-2", "link del fabric-br"], teardown);
    }

    [Fact]
    public void A_node_enters_only_its_network_namespace_so_the_namespaces_it_makes_are_the_hosts()
    {
        // `ip netns exec` would also give the node a mount namespace of its own, where the `ip netns add` of a TAP
        // endpoint's namespace stays invisible to the host. nsenter --net execs in place (same pid) and enters only
        // the network namespace.
        var launcher = new Launcher("/opt/fabric/fabric", []);
        var plan = Plan(2);
        var netns = plan.Nodes[1];
        var command = LocalNode.Command(launcher, netns);
        Assert.EndsWith("nsenter", command[0], StringComparison.Ordinal);
        Assert.Equal(["--net=/run/netns/fabric-node-2", "--", "/opt/fabric/fabric", "node", "--config", netns.ConfigFile], command.Skip(1));
        Assert.DoesNotContain(command, a => a is "netns" or "exec" || a.StartsWith("--mount", StringComparison.Ordinal));
        Assert.Contains("nsenter --net=/run/netns/fabric-node-2 -- fabric node", plan.NodeHocon(netns), StringComparison.Ordinal);

        var plain = UpPlan.Create(new UpOptions(2, "/tmp/n", 5000), "t").Nodes[1];
        Assert.Equal(["/usr/bin/dotnet", "/opt/fabric/fabric.dll", "node", "--config", plain.ConfigFile],
            LocalNode.Command(new Launcher("/usr/bin/dotnet", ["/opt/fabric/fabric.dll"]), plain));
    }

    [Fact]
    public void Interface_names_fit_linux_limit_of_15_characters()
    {
        var plan = Plan(254, "10.0.0.0/16");
        Assert.All(plan.Nodes, n =>
        {
            var (host, peer) = Netns.VethNames(n);
            Assert.True(host.Length <= 15 && peer.Length <= 15);
        });
    }
}

/// <summary>`fabric up --restart`: which exits bring a node back.</summary>
public class RestartPolicyTests
{
    [Theory]
    [InlineData("never", 0, false)]
    [InlineData("never", 137, false)]
    [InlineData("on-failure", 0, false)]
    [InlineData("on-failure", 1, true)]   // downed by the split brain resolver
    [InlineData("on-failure", 137, true)] // kill -9
    [InlineData("on-failure", 3, false)]  // asked to leave (fabric ctl members leave): it stays out
    [InlineData("always", 0, true)]       // a rolling restart's SIGTERM
    public void A_node_comes_back_as_the_policy_says(string mode, int exitCode, bool restarts)
        => Assert.Equal(restarts, new RestartPolicy(RestartPolicy.Parse(mode), TimeSpan.FromSeconds(1)).Restarts(exitCode));

    [Fact]
    public void The_command_line_takes_the_three_policies_and_nothing_else()
    {
        var up = UpCommand.Create();
        Assert.Empty(up.Parse("--restart always --restart-delay 0.5").Errors);
        Assert.NotEmpty(up.Parse("--restart sometimes").Errors);
        Assert.Equal("on-failure", up.Parse("").GetValue<string>("--restart"));
    }
}
