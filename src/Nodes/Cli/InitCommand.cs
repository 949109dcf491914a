using System.CommandLine;
using System.Text;

namespace Fabric.Nodes.Cli;

/// <summary>
/// <c>fabric init --hosts IP,IP,… [--names a,b,…] --store CONNSTRING --out DIR</c>: prepares a cluster of real hosts
/// (API.md, "Command line"): the cluster CA, per host a folder with node.conf, node.pfx and ca.crt, and cluster.json.
/// <c>fabric init --out DIR --add NAME --host IP</c> adds a host to it later (<see cref="InitAdd"/>).
/// Secrets (ca.key, node.pfx, node.conf with the token and the store's password, cluster.json) are created with mode
/// 0600 from the start, never widened afterwards. Bad input exits 2 with one line naming the option.
/// </summary>
public static class InitCommand
{
    public const int UsageExitCode = 2;

    internal const UnixFileMode Secret = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    internal const UnixFileMode Public = Secret | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    public static Command Create()
    {
        var hosts = new Option<string?>("--hosts") { Description = "the hosts' IPv4 addresses, comma-separated: each runs one node (VTEP, cluster and HTTPS on that address)" };
        var names = new Option<string?>("--names") { Description = "the nodes' names, comma-separated, one per host in the same order (default node-1 … node-N)" };
        var store = new Option<string?>("--store")
        {
            Description = "PostgreSQL connection string every host uses for the configuration's journal (required for more than one host: an SQLite file cannot be shared)",
        };
        var output = new Option<string?>("--out") { Description = "the folder to write to (must be new or empty); with --add, the cluster's folder that init wrote" };
        var add = new Option<string?>("--add")
        {
            Description = "add one host, named so, to the cluster in --out (signed with its ca.key; writes DIR/NAME and updates cluster.json); needs --host",
        };
        var host = new Option<string?>("--host") { Description = "with --add: the new host's IPv4 address" };
        var command = new Command("init",
            "Prepare a cluster of real hosts: a cluster CA, a certificate and node.conf per host, and cluster.json. " +
            "Then copy DIR/NAME to each host and run `fabric node --config NAME/node.conf` there. " +
            "Each node lists every other host as a seed; the first start forms the cluster through the store's lease (a few seconds). " +
            "`fabric init --out DIR --add NAME --host IP` adds a host to that cluster later.")
        { hosts, names, store, output, add, host };
        command.SetAction(parse =>
        {
            var adding = parse.GetValue(add);
            var ip = parse.GetValue(host);
            if (adding is null && ip is null)
                return Run(parse.GetValue(hosts), parse.GetValue(names), parse.GetValue(store), parse.GetValue(output), Console.Out);
            // Adding takes the store, the token and the CA from the cluster's folder; a second source would only disagree.
            var conflict = adding is null ? "--host: only with --add NAME (a host added to the cluster in --out)"
                : parse.GetValue(hosts) is not null ? "--hosts: not with --add, which adds one host (its address in --host) to the cluster in --out"
                : parse.GetValue(names) is not null ? "--names: not with --add, which names the one host it adds"
                : parse.GetValue(store) is not null ? "--store: not with --add, which takes the store from the cluster's folder (its hosts' node.conf)"
                : null;
            if (conflict is null) return InitAdd.Run(adding, ip, parse.GetValue(output), Console.Out);
            Errors.Write(conflict);
            return UsageExitCode;
        });
        return command;
    }

    /// <summary>Validates, then writes everything; returns the exit code (2: bad input, 1: could not write).</summary>
    public static int Run(string? hosts, string? names, string? store, string? outDir, TextWriter stdout)
    {
        InitPlan plan;
        try
        {
            plan = InitPlan.Create(hosts, names, store, outDir, UpPlan.NewToken());
            if (Directory.Exists(plan.OutDir) && Directory.EnumerateFileSystemEntries(plan.OutDir).Any())
                throw new InitUsageException($"--out: {plan.OutDir} is not empty (fabric init never overwrites a cluster's keys); name a new folder");
        }
        catch (InitUsageException e)
        {
            Errors.Write(e.Message);
            return UsageExitCode;
        }
        try
        {
            Write(plan, DateTimeOffset.UtcNow);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Errors.Fail($"cannot write {plan.OutDir}: {e.Message}");
        }
        stdout.WriteLine($"wrote {plan.OutDir}: {InitPlan.CaCertificateFile}, {InitPlan.CaKeyFile} (the CA's key: keep it off the hosts), {UpPlan.ClusterFileName}");
        foreach (var h in plan.Hosts)
            stdout.WriteLine($"  {h.Name,-12} {h.Ip,-15} copy {plan.HostDir(h)} to the host, then: fabric node --config {h.Name}/{InitPlan.NodeConfigFile}");
        stdout.WriteLine($"open on each host: UDP {InitPlan.VtepPort} (VXLAN), TCP {InitPlan.ClusterPort} (cluster, mutual TLS), TCP {InitPlan.HttpsPort} (HTTPS API)");
        stdout.WriteLine($"then: fabric ctl --cluster {Path.Combine(plan.OutDir, UpPlan.ClusterFileName)} members");
        return 0;
    }

    /// <summary>Writes the plan's files (the folder must be new or empty).</summary>
    public static void Write(InitPlan plan, DateTimeOffset now)
    {
        Directory.CreateDirectory(plan.OutDir);
        using var ca = ClusterCa.Create(now);
        var caPem = ca.CertificatePem();
        WriteNew(Path.Combine(plan.OutDir, InitPlan.CaKeyFile), Encoding.ASCII.GetBytes(ca.KeyPem()), Secret);
        WriteNew(Path.Combine(plan.OutDir, InitPlan.CaCertificateFile), Encoding.ASCII.GetBytes(caPem), Public);
        foreach (var host in plan.Hosts)
        {
            var dir = plan.HostDir(host);
            Directory.CreateDirectory(dir);
            using var certificate = ca.IssueNode(host.Name, host.Address, now);
            WriteNew(Path.Combine(dir, InitPlan.NodeCertificateFile), ClusterCa.Pkcs12(certificate), Secret);
            WriteNew(Path.Combine(dir, InitPlan.CaCertificateFile), Encoding.ASCII.GetBytes(caPem), Public);
            WriteNew(Path.Combine(dir, InitPlan.NodeConfigFile), Encoding.UTF8.GetBytes(plan.NodeHocon(host)), Secret);
        }
        WriteNew(Path.Combine(plan.OutDir, UpPlan.ClusterFileName), Encoding.UTF8.GetBytes(plan.ToClusterFile().ToJson() + "\n"), Secret);
    }

    /// <summary>Creates the file with <paramref name="mode"/> (never an existing one: no window in which a secret is readable).</summary>
    internal static void WriteNew(string path, byte[] content, UnixFileMode mode)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = mode;
        using var stream = new FileStream(path, options);
        stream.Write(content);
    }
}
