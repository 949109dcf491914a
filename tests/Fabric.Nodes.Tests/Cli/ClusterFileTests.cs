using System.Text.Json;
using Fabric.Nodes.Cli;
using Fabric.Nodes.Cli.Ctl;

namespace Fabric.Nodes.Tests.Cli;

/// <summary>DIR/cluster.json exactly as API.md has it, and how `fabric ctl` finds its URL and token.</summary>
public class ClusterFileTests
{
    [Fact]
    public void Cluster_json_has_the_token_and_one_entry_per_node_with_exactly_name_vtep_akka_http()
    {
        var plan = UpPlan.Create(new UpOptions(2, "/tmp/c", 6000), "tok");
        using var doc = JsonDocument.Parse(plan.ToClusterFile().ToJson());
        var root = doc.RootElement;
        Assert.Equal(["token", "nodes"], root.EnumerateObject().Select(p => p.Name));
        Assert.Equal("tok", root.GetProperty("token").GetString());
        var nodes = root.GetProperty("nodes").EnumerateArray().ToArray();
        Assert.Equal(2, nodes.Length);
        Assert.All(nodes, n => Assert.Equal(["name", "vtep", "akka", "http"], n.EnumerateObject().Select(p => p.Name)));
        Assert.Equal("node-2", nodes[1].GetProperty("name").GetString());
        Assert.Equal("127.0.0.2", nodes[1].GetProperty("vtep").GetString());
        Assert.Equal("akka.tcp://fabric@127.0.0.1:6002", nodes[1].GetProperty("akka").GetString());
        Assert.Equal("http://127.0.0.1:6003", nodes[1].GetProperty("http").GetString());
    }

    [Fact]
    public void Cluster_json_reads_back_and_is_replaced_whole()
    {
        var dir = Directory.CreateTempSubdirectory("fabric-cluster-");
        try
        {
            var path = Path.Combine(dir.FullName, "cluster.json");
            var file = UpPlan.Create(new UpOptions(3, dir.FullName, 6000), "tok").ToClusterFile();
            file.Write(path);
            file.Write(path);
            Assert.Equal(file.Token, ClusterFile.Read(path).Token);
            Assert.Equal(file.Nodes, ClusterFile.Read(path).Nodes);
            Assert.Equal(["cluster.json"], dir.GetFiles().Select(f => f.Name));
        }
        finally { dir.Delete(true); }
    }

    [LinuxFact]
    public void Cluster_json_holds_the_admin_token_so_only_its_owner_may_read_it()
    {
        var dir = Directory.CreateTempSubdirectory("fabric-cluster-");
        try
        {
            var path = Path.Combine(dir.FullName, "cluster.json");
            File.WriteAllText(path, "{}"); // an older one, world-readable
            File.WriteAllText(path + ".tmp", "left over by a crash");
            UpPlan.Create(new UpOptions(1, dir.FullName, 6000), "tok").ToClusterFile().Write(path);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, OperatingSystem.IsWindows() ? default : File.GetUnixFileMode(path));
            Assert.Equal("tok", ClusterFile.Read(path).Token);
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void Ctl_takes_flags_then_the_environment_then_the_cluster_file()
    {
        var dir = Directory.CreateTempSubdirectory("fabric-ctl-");
        try
        {
            var path = Path.Combine(dir.FullName, "cluster.json");
            UpPlan.Create(new UpOptions(3, dir.FullName, 6000), "from-file").ToClusterFile().Write(path);
            Func<string, string?> none = _ => null;
            Func<string, string?> env = n => n switch { "FABRIC_URL" => "http://env:1/", "FABRIC_TOKEN" => "from-env", _ => null };

            Assert.Equal(("http://127.0.0.1:6001", "from-file"), CtlOptions.Resolve(null, null, path, none));
            Assert.Equal(("http://env:1", "from-env"), CtlOptions.Resolve(null, null, path, env));
            Assert.Equal(("http://flag:2", "from-flag"), CtlOptions.Resolve("http://flag:2", "from-flag", path, env));
            Assert.Equal(("http://flag:2", "from-file"), CtlOptions.Resolve("http://flag:2", null, path, none));
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void Ctl_without_any_url_says_how_to_get_one()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"no-such-{Guid.NewGuid():N}", "cluster.json");
        var e = Assert.Throws<CtlException>(() => CtlOptions.Resolve(null, null, missing, _ => null));
        Assert.Contains("does not exist", e.Message, StringComparison.Ordinal);
    }
}
