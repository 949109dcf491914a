using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Akka.Configuration;
using Fabric.Actors.Configuration;

namespace Fabric.Nodes.Cli;

/// <summary>
/// What <c>fabric init --out DIR --add NAME --host IP</c> writes: one more host for the cluster <c>fabric init</c> made
/// in DIR. <see cref="Cluster"/> is the whole cluster with the new host last (its seeds are every other host);
/// <see cref="Reseeded"/> are existing hosts whose node.conf must change (a lone host that listed itself as its seed).
/// </summary>
public sealed record InitAddPlan(InitPlan Cluster, InitHost Added, IReadOnlyList<InitHost> Reseeded, ClusterFile ClusterFile)
{
    public string CaCertificatePath => Path.Combine(Cluster.OutDir, InitPlan.CaCertificateFile);
    public string CaKeyPath => Path.Combine(Cluster.OutDir, InitPlan.CaKeyFile);
    public string ClusterFilePath => Path.Combine(Cluster.OutDir, UpPlan.ClusterFileName);
}

/// <summary>
/// <c>fabric init --out DIR --add NAME --host IP</c>: adds a host to an existing cluster folder instead of hand-made
/// openssl certificates. Signs the host's certificate with DIR/ca.key, writes DIR/NAME/{node.conf,node.pfx,ca.crt} (the
/// store and the configured token taken from an existing host's node.conf, every existing host a seed) and the new
/// node into DIR/cluster.json. Refuses (exit 2, one line naming the option, nothing written) a name or address the
/// cluster already has, a folder without ca.key or cluster.json, and a cluster on the embedded SQLite store.
/// </summary>
public static class InitAdd
{
    /// <summary>Validates, then writes; returns the exit code (2: refused, 1: could not write).</summary>
    public static int Run(string? name, string? host, string? outDir, TextWriter stdout)
    {
        InitAddPlan plan;
        try { plan = Plan(name, host, outDir); }
        catch (InitUsageException e)
        {
            Errors.Write(e.Message);
            return InitCommand.UsageExitCode;
        }
        try { Write(plan, DateTimeOffset.UtcNow); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
        {
            return Errors.Fail($"cannot write {plan.Cluster.HostDir(plan.Added)}: {e.Message}");
        }
        var added = plan.Added;
        stdout.WriteLine($"added {added.Name} ({added.Ip}) to {plan.Cluster.OutDir}: {added.Name}/ ({InitPlan.NodeConfigFile}, {InitPlan.NodeCertificateFile} signed by the cluster CA, {InitPlan.CaCertificateFile}) and {UpPlan.ClusterFileName}");
        stdout.WriteLine($"  {added.Name,-12} {added.Ip,-15} copy {plan.Cluster.HostDir(added)} to the host, then: fabric node --config {added.Name}/{InitPlan.NodeConfigFile}");
        stdout.WriteLine($"  its seeds: {string.Join(", ", plan.Cluster.Hosts.Where(h => h != added).Select(h => h.Name))} (it joins the running cluster through them)");
        foreach (var h in plan.Reseeded)
            stdout.WriteLine($"  {h.Name}'s {InitPlan.NodeConfigFile} changed: it listed only itself as seed (a lone host) and now lists {added.Name}; copy {plan.Cluster.HostDir(h)}/{InitPlan.NodeConfigFile} to its host again");
        return 0;
    }

    /// <summary>Checks the options against the cluster's folder and lays the new host out (reads DIR, writes nothing).</summary>
    /// <exception cref="InitUsageException">A refusal, naming its option.</exception>
    public static InitAddPlan Plan(string? name, string? host, string? outDir, string? currentDirectory = null)
    {
        if (string.IsNullOrWhiteSpace(outDir))
            throw new InitUsageException("--out: name the cluster's folder that `fabric init` wrote (it holds ca.key and cluster.json)");
        var dir = Path.GetFullPath(outDir, currentDirectory ?? Directory.GetCurrentDirectory());
        if (string.IsNullOrWhiteSpace(name)) throw new InitUsageException("--add: name the new node (e.g. --add node-4)");
        name = name.Trim();
        InitPlan.CheckNodeName(name, "--add");
        if (string.IsNullOrWhiteSpace(host)) throw new InitUsageException($"--host: give {name}'s IPv4 address (e.g. --host 10.0.0.4)");
        var address = InitPlan.ParseHostAddress(host.Trim(), "--host");

        var clusterFile = Path.Combine(dir, UpPlan.ClusterFileName);
        if (!File.Exists(clusterFile))
            throw new InitUsageException($"--out: {dir} has no {UpPlan.ClusterFileName}: --add adds a host to the cluster `fabric init` wrote there");
        foreach (var file in new[] { InitPlan.CaKeyFile, InitPlan.CaCertificateFile })
            if (!File.Exists(Path.Combine(dir, file)))
                throw new InitUsageException($"--out: {Path.Combine(dir, file)} is missing: the new host's certificate is signed with the cluster CA's key, so add hosts on the machine that ran `fabric init`");
        ClusterFile cluster;
        try { cluster = ClusterFile.Read(clusterFile); }
        catch (CliException e) { throw new InitUsageException($"--out: {e.Message}"); }

        var existing = new List<InitHost>();
        foreach (var node in cluster.Nodes)
        {
            if (string.Equals(node.Name, name, StringComparison.OrdinalIgnoreCase))
                throw new InitUsageException($"--add: {node.Name} is already a node of the cluster in {clusterFile}; give the new host another name");
            if (!System.Net.IPAddress.TryParse(node.Vtep, out var ip))
                throw new InitUsageException($"--out: {clusterFile} names {node.Name}'s address '{node.Vtep}', which is not an IP address");
            if (ip.Equals(address) || node.Akka.Contains($"@{address}:", StringComparison.Ordinal))
                throw new InitUsageException($"--host: {address} is already the address of {node.Name} in {clusterFile}");
            existing.Add(new InitHost(node.Name, ip));
        }
        if (Directory.Exists(Path.Combine(dir, name)))
            throw new InitUsageException($"--add: {Path.Combine(dir, name)} already exists (fabric init never overwrites a host's keys); remove it or give the new host another name");

        // The store and the configured token, as the running hosts have them: from the first host folder with its node.conf.
        var source = cluster.Nodes.Select(n => Path.Combine(dir, n.Name, InitPlan.NodeConfigFile)).FirstOrDefault(File.Exists)
            ?? throw new InitUsageException($"--out: no host folder in {dir} holds a {InitPlan.NodeConfigFile} to take the cluster's store and token from");
        Config config;
        try { config = FabricHocon.Load(source); }
        catch (Exception e) when (e is ConfigurationException or IOException or FormatException)
        {
            throw new InitUsageException($"--out: cannot read {source}: {e.Message}");
        }
        var settings = FabricSettings.From(config);
        if (settings.UsesSqlite)
            throw new InitUsageException(
                $"--add: the cluster in {dir} keeps its configuration in the embedded SQLite store ({source}), whose file cannot be shared between hosts: " +
                "a second host needs PostgreSQL; run `fabric init --store \"Host=DB;Database=fabric;Username=fabric;Password=...\"` for the new cluster");
        var token = config.GetString("fabric.http.token", "");
        if (string.IsNullOrWhiteSpace(token)) token = cluster.Token;

        try
        {
            using var ca = ClusterCa.Load(Path.Combine(dir, InitPlan.CaCertificateFile), Path.Combine(dir, InitPlan.CaKeyFile));
        }
        catch (CryptographicException e)
        {
            throw new InitUsageException($"--out: {Path.Combine(dir, InitPlan.CaKeyFile)} and {InitPlan.CaCertificateFile} are not the cluster CA's key and certificate: {e.Message}");
        }

        var added = new InitHost(name, address);
        var plan = new InitPlan([.. existing, added], settings.StoreConnectionString, dir, token);
        // A lone host lists itself as its seed (it forms at once); beside another host it must not, or a restart of it
        // alone would form a second cluster (InitPlan.SeedsOf).
        var reseeded = existing.Count == 1 && SeedsItself(Path.Combine(dir, existing[0].Name, InitPlan.NodeConfigFile), existing[0]) ? existing : [];
        return new InitAddPlan(plan, added, reseeded,
            cluster with { Nodes = [.. cluster.Nodes, new ClusterFileNode(added.Name, added.Ip, added.AkkaAddress, added.HttpUrl)] });
    }

    private static bool SeedsItself(string nodeConf, InitHost host)
        => File.Exists(nodeConf) && FabricHocon.Load(nodeConf).GetStringList("akka.cluster.seed-nodes").Contains(host.AkkaAddress);

    /// <summary>Writes the new host's folder (mode 0700), then cluster.json (replaced whole, mode 0600).</summary>
    public static void Write(InitAddPlan plan, DateTimeOffset now)
    {
        using var ca = ClusterCa.Load(plan.CaCertificatePath, plan.CaKeyPath);
        var caPem = File.ReadAllBytes(plan.CaCertificatePath);
        var dir = plan.Cluster.HostDir(plan.Added);
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(dir);
        else Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        using (var certificate = ca.IssueNode(plan.Added.Name, plan.Added.Address, now))
            InitCommand.WriteNew(Path.Combine(dir, InitPlan.NodeCertificateFile), ClusterCa.Pkcs12(certificate), InitCommand.Secret);
        InitCommand.WriteNew(Path.Combine(dir, InitPlan.CaCertificateFile), caPem, InitCommand.Public);
        InitCommand.WriteNew(Path.Combine(dir, InitPlan.NodeConfigFile), Encoding.UTF8.GetBytes(plan.Cluster.NodeHocon(plan.Added)), InitCommand.Secret);
        foreach (var h in plan.Reseeded)
            Replace(Path.Combine(plan.Cluster.HostDir(h), InitPlan.NodeConfigFile), Encoding.UTF8.GetBytes(plan.Cluster.NodeHocon(h)));
        plan.ClusterFile.Write(plan.ClusterFilePath);
    }

    /// <summary>Replaces a secret file whole: a new file of mode 0600 beside it, renamed over it (a reader never sees half).</summary>
    private static void Replace(string path, byte[] content)
    {
        var tmp = $"{path}.{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}.tmp";
        InitCommand.WriteNew(tmp, content, InitCommand.Secret);
        File.Move(tmp, path, overwrite: true);
    }
}
