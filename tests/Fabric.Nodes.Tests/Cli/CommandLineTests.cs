using System.CommandLine;
using System.Net;
using System.Text.Json.Nodes;
using Akka.Configuration;
using Fabric.Actors.Configuration;
using Fabric.Nodes.Cli;
using Fabric.Nodes.Cli.Ctl;

namespace Fabric.Nodes.Tests.Cli;

/// <summary>Argument parsing of every command, the token rule of `fabric node`, and ctl's one-line errors.</summary>
public class CommandLineTests
{
    private static ParseResult Parse(params string[] args) => FabricCli.BuildRoot().Parse(args);

    [Fact]
    public void Up_has_the_defaults_api_md_promises()
    {
        var r = Parse("up");
        Assert.Empty(r.Errors);
        Assert.Equal(3, r.GetValue<int>("--nodes"));
        Assert.Equal("./fabric-data", r.GetValue<string>("--data"));
        Assert.Equal(UpOptions.DefaultBasePort, r.GetValue<int>("--base-port"));
        Assert.Equal(4789, r.GetValue<int>("--vtep-port"));
        Assert.False(r.GetValue<bool>("--netns"));
    }

    [Fact]
    public void Up_takes_nodes_data_and_base_port()
    {
        var r = Parse("up", "--nodes", "5", "--data", "/tmp/d", "--base-port", "7000");
        Assert.Empty(r.Errors);
        Assert.Equal(5, r.GetValue<int>("--nodes"));
        Assert.Equal("/tmp/d", r.GetValue<string>("--data"));
        Assert.Equal(7000, r.GetValue<int>("--base-port"));
    }

    [Fact]
    public void Up_netns_and_underlay_parse()
    {
        var r = Parse("up", "--nodes", "3", "--netns", "--underlay", "10.250.0.0/24");
        Assert.Empty(r.Errors);
        Assert.True(r.GetValue<bool>("--netns"));
        Assert.Equal("10.250.0.0/24", r.GetValue<string>("--underlay"));
    }

    [Fact]
    public void Up_with_an_underlay_but_no_netns_exits_1_before_starting_anything()
    {
        // Never invoke a valid `up` in-process here: it would start a cluster with the test host as its launcher.
        var error = new StringWriter();
        var previous = Console.Error;
        int code;
        lock (ConsoleLock.Instance)
        {
            Console.SetError(error);
            try
            {
                code = Parse("up", "--nodes", "3", "--underlay", "10.250.0.0/24", "--data", Path.Combine(Path.GetTempPath(), $"never-{Guid.NewGuid():N}"))
                    .Invoke(new InvocationConfiguration { ProcessTerminationTimeout = null });
            }
            finally { Console.SetError(previous); }
        }
        Assert.Equal(1, code);
        Assert.Contains("--underlay only applies with --netns", error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("up", "--nodes", "three")]
    [InlineData("node")]
    [InlineData("ctl", "networks", "create", "blue", "--vni", "10", "--kind", "l4")]
    [InlineData("ctl", "networks", "create", "blue")]
    [InlineData("ctl", "endpoints", "create", "vm-a", "--network", "blue")]
    [InlineData("ctl", "endpoints", "create", "vm-a", "--from-file", "eps.json")]
    [InlineData("ctl", "endpoints", "create")]
    [InlineData("ctl", "endpoints", "delete")]
    [InlineData("ctl", "endpoints", "delete", "vm-a", "--from-file", "ids.json")]
    [InlineData("ctl", "endpoints", "ping", "vm-a")]
    [InlineData("ctl", "fdb", "node-1")]
    [InlineData("ctl", "routes", "add", "0.0.0.0/0", "--network", "blue")]
    [InlineData("ctl", "routes", "add", "0.0.0.0/0", "--network", "blue", "--blackhole", "--endpoint", "fw")]
    public void Malformed_command_lines_are_parse_errors(params string[] args)
        => Assert.NotEmpty(Parse(args).Errors);

    [Fact]
    public void Endpoints_are_created_and_deleted_from_a_file()
    {
        Assert.Empty(Parse("ctl", "endpoints", "create", "--from-file", "eps.json").Errors);
        Assert.Empty(Parse("ctl", "endpoints", "create", "vm-a", "--network", "blue", "--node", "node-1").Errors);
        Assert.Empty(Parse("ctl", "endpoints", "delete", "--from-file", "ids.json").Errors);

        var dir = Directory.CreateTempSubdirectory("fabric-ctl-file-");
        try
        {
            var array = new FileInfo(Path.Combine(dir.FullName, "a.json"));
            var wrapped = new FileInfo(Path.Combine(dir.FullName, "w.json"));
            File.WriteAllText(array.FullName, """[{"name": "a", "network": "net-1", "node": "node-1", "port": {"kind": "guest"}}]""");
            File.WriteAllText(wrapped.FullName, """{"endpoints": [{"name": "a"}, {"name": "b"}]}""");
            Assert.Single(EndpointsCommand.ReadList(array, "endpoints"));
            Assert.Equal(2, EndpointsCommand.ReadList(wrapped, "endpoints").Count);
            File.WriteAllText(wrapped.FullName, """{"endpoints": [{"id": "ep-1", "name": "a"}, {"id": "ep-2"}]}""");
            Assert.Equal(["ep-1", "ep-2"], EndpointsCommand.ReadIds(wrapped));
            File.WriteAllText(array.FullName, """["ep-3", "ep-4"]""");
            Assert.Equal(["ep-3", "ep-4"], EndpointsCommand.ReadIds(array));
            File.WriteAllText(array.FullName, """{"other": []}""");
            Assert.Throws<CliException>(() => EndpointsCommand.ReadList(array, "endpoints"));
        }
        finally { dir.Delete(recursive: true); }
    }

    [Fact]
    public void Node_takes_its_config_file()
    {
        var r = Parse("node", "--config", "/etc/fabric/node.conf");
        Assert.Empty(r.Errors);
        Assert.Equal("/etc/fabric/node.conf", r.GetValue<FileInfo>("--config")!.FullName);
    }

    [Fact]
    public void Ctl_options_work_before_or_after_the_subcommand()
    {
        var a = Parse("ctl", "--url", "http://x:1", "--json", "members");
        var b = Parse("ctl", "members", "--url", "http://x:1", "--json");
        foreach (var r in new[] { a, b })
        {
            Assert.Empty(r.Errors);
            Assert.Equal("http://x:1", r.GetValue(CtlOptions.Url));
            Assert.True(r.GetValue(CtlOptions.Json));
        }
    }

    [Fact]
    public void Ctl_has_every_command_of_the_brief()
    {
        string[][] lines =
        [
            ["ctl", "members"],
            ["ctl", "members", "leave", "node-3"],
            ["ctl", "members", "down", "node-3"],
            ["ctl", "networks", "list"],
            ["ctl", "networks", "create", "blue", "--vni", "100", "--kind", "l3", "--cidr", "10.0.0.0/16"],
            ["ctl", "networks", "delete", "net-1"],
            ["ctl", "subnets", "create", "a", "--network", "blue", "--cidr", "10.0.1.0/24"],
            ["ctl", "route-tables", "create", "fw", "--network", "blue"],
            ["ctl", "routes", "add", "0.0.0.0/0", "--network", "blue", "--route-table", "fw", "--endpoint", "fw-1"],
            ["ctl", "endpoints", "list"],
            ["ctl", "endpoints", "create", "vm-a", "--network", "blue", "--subnet", "a", "--node", "node-1"],
            ["ctl", "endpoints", "delete", "vm-a"],
            ["ctl", "endpoints", "move", "vm-a", "--node", "node-2"],
            ["ctl", "endpoints", "ping", "vm-a", "10.0.2.10", "--count", "5"],
            ["ctl", "fdb", "node-1", "--network", "blue"],
            ["ctl", "counters", "node-1"],
            ["ctl", "drops", "--node", "node-1", "--reason", "TooBig", "--limit", "10"],
            ["ctl", "alarms", "--kind", "path-mtu", "--node", "node-2"],
        ];
        foreach (var line in lines)
        {
            var r = Parse(line);
            Assert.True(r.Errors.Count == 0, $"{string.Join(' ', line)}: {string.Join("; ", r.Errors.Select(e => e.Message))}");
        }
    }

    [Fact]
    public void Ctl_drops_takes_node_reason_and_limit()
    {
        var r = FabricCli.BuildRoot().Parse(["ctl", "drops", "--node", "node-2", "--reason", "TooBig", "--limit", "5"]);
        Assert.Empty(r.Errors);
        Assert.Equal("node-2", r.GetValue<string>("--node"));
        Assert.Equal("TooBig", r.GetValue<string>("--reason"));
        Assert.Equal(5, r.GetValue<int?>("--limit"));
        Assert.Empty(FabricCli.BuildRoot().Parse(["ctl", "drops"]).Errors);
    }

    [Fact]
    public void Node_token_comes_from_the_file_first_then_the_environment()
    {
        var withToken = FabricHocon.Load(overrides: "fabric.http.token = \"file\"\nfabric.http.port = 9001\nfabric.node-name = \"n\"");
        var without = FabricHocon.Load();
        Func<string, string?> env = n => n == "FABRIC_TOKEN" ? "env" : null;
        Assert.Equal("file", NodeCommand.Resolve(withToken, "f.conf", env).Token);
        Assert.Equal(9001, NodeCommand.Resolve(withToken, "f.conf", env).HttpPort);
        Assert.Equal("env", NodeCommand.Resolve(without, "f.conf", env).Token);
    }

    [Fact]
    public void Node_refuses_to_start_without_a_token_and_says_where_to_put_one()
    {
        var e = Assert.Throws<CliException>(() => NodeCommand.Resolve(FabricHocon.Load(), "/etc/n.conf", _ => null));
        Assert.Contains("fabric.http.token", e.Message, StringComparison.Ordinal);
        Assert.Contains("/etc/n.conf", e.Message, StringComparison.Ordinal);
        Assert.Contains("FABRIC_TOKEN", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Node_with_a_missing_config_file_exits_2_with_the_path()
    {
        var path = Path.Combine(Path.GetTempPath(), $"missing-{Guid.NewGuid():N}.conf");
        var error = new StringWriter();
        int code;
        var previous = Console.Error;
        Monitor.Enter(ConsoleLock.Instance);
        try
        {
            Console.SetError(error);
            code = await Parse("node", "--config", path).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
        }
        finally
        {
            Console.SetError(previous);
            Monitor.Exit(ConsoleLock.Instance);
        }
        Assert.Equal(NodeCommand.RefusedExitCode, code); // refused: systemd's unit does not restart it
        Assert.Contains(path, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Problem_details_become_one_line_with_each_field()
    {
        var problem = JsonNode.Parse("""
            { "type": "https://fabric/validation", "title": "One or more validation errors occurred.", "status": 400,
              "errors": { "vni": ["must be between 1 and 16777215"], "cidr": ["is required for an l3 network"] } }
            """);
        var line = CtlClient.DescribeError(HttpStatusCode.BadRequest, problem!.ToJsonString(), problem);
        Assert.Equal("400 One or more validation errors occurred.: vni: must be between 1 and 16777215; cidr: is required for an l3 network", line);
        Assert.DoesNotContain('\n', line);
    }

    [Fact]
    public void Problem_details_with_a_detail_keep_it()
    {
        var problem = JsonNode.Parse("""{ "title": "Conflict", "status": 409, "detail": "10.0.1.5 is in use by ep-3", "errors": { "ip": ["in use"] } }""");
        Assert.Equal("409 Conflict: 10.0.1.5 is in use by ep-3 (ip: in use)", CtlClient.DescribeError(HttpStatusCode.Conflict, "", problem));
    }

    [Fact]
    public void A_field_message_that_is_the_detail_is_said_once_after_the_field()
    {
        var problem = JsonNode.Parse("""{ "title": "The request is invalid", "status": 400, "detail": "VNI 0 is outside 1..16777215", "errors": { "vni": ["VNI 0 is outside 1..16777215"] } }""");
        Assert.Equal("400 The request is invalid: vni: VNI 0 is outside 1..16777215", CtlClient.DescribeError(HttpStatusCode.BadRequest, "", problem));
    }

    [Fact]
    public void A_bare_401_says_what_is_missing()
        => Assert.Contains("no token", CtlClient.DescribeError(HttpStatusCode.Unauthorized, "", null), StringComparison.Ordinal);

    [Fact]
    public void Ping_answers_read_like_ping()
    {
        var json = JsonNode.Parse("""{ "sent": 3, "received": 2, "rttMs": [0.25, 0.5, 0.75], "replyTtl": [63, 63] }""");
        Assert.Equal("vm-a → 10.0.2.10: 3 sent, 2 received, 33% loss; rtt min/avg/max 0.250/0.500/0.750 ms; ttl 63",
            CtlOutput.PingSummary("vm-a", "10.0.2.10", json));
    }

    [Fact]
    public void Cells_show_nested_values_on_one_line()
    {
        Assert.Equal("kind=guest namespace=", CtlOutput.Cell(JsonNode.Parse("""{ "kind": "guest", "namespace": null }""")));
        Assert.Equal("a, b", CtlOutput.Cell(JsonNode.Parse("""["a","b"]""")));
        Assert.Equal("yes", CtlOutput.Cell(JsonValue.Create(true)));
        Assert.Equal("4789", CtlOutput.Cell(JsonValue.Create(4789)));
    }

    [Fact]
    public void A_process_is_alive_until_it_has_exited()
    {
        Assert.True(ShutdownSignal.ProcessIsAlive(Environment.ProcessId));
        using var p = System.Diagnostics.Process.Start("/bin/true")!;
        p.WaitForExit();
        Assert.False(ShutdownSignal.ProcessIsAlive(p.Id));
    }
}

/// <summary>Tests that swap Console.Error take this lock.</summary>
internal sealed class ConsoleLock
{
    public static readonly object Instance = new();
}
