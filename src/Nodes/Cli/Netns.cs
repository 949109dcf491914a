using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Fabric.Nodes.Cli;

/// <summary>
/// <c>fabric up --netns</c>: one network namespace per node (<c>fabric-node-i</c>), joined by a veth pair to one
/// bridge (<c>fabric-br</c>) that holds the underlay's last host address, so each node looks like a host of its
/// own and faults can be injected per node (e.g. <c>ip netns exec fabric-node-2 ip link set eth0 down</c>).
/// Everything it made is removed when it stops.
/// </summary>
public static partial class Netns
{
    /// <summary>The <c>ip</c> commands that build the topology, in order (pure).</summary>
    public static IReadOnlyList<string[]> SetupCommands(UpPlan plan)
    {
        var underlay = plan.Underlay ?? throw new InvalidOperationException("not a --netns plan");
        var prefix = underlay.PrefixLength.ToString(CultureInfo.InvariantCulture);
        List<string[]> commands =
        [
            ["link", "add", UpPlan.Bridge, "type", "bridge"],
            ["addr", "add", $"{plan.BridgeAddress}/{prefix}", "dev", UpPlan.Bridge],
            ["link", "set", UpPlan.Bridge, "up"],
        ];
        foreach (var n in plan.Nodes)
        {
            var ns = n.Namespace!;
            var (host, peer) = VethNames(n);
            commands.Add(["netns", "add", ns]);
            commands.Add(["link", "add", host, "type", "veth", "peer", "name", peer]);
            commands.Add(["link", "set", peer, "netns", ns]);
            commands.Add(["-n", ns, "link", "set", peer, "name", "eth0"]);
            commands.Add(["-n", ns, "addr", "add", $"{n.VtepAddress}/{prefix}", "dev", "eth0"]);
            commands.Add(["-n", ns, "link", "set", "eth0", "up"]);
            commands.Add(["-n", ns, "link", "set", "lo", "up"]);
            commands.Add(["link", "set", host, "master", UpPlan.Bridge]);
            commands.Add(["link", "set", host, "up"]);
        }
        return commands;
    }

    /// <summary>
    /// The <c>ip</c> commands that remove it again. Each node's veth pair is deleted from the host's end first: the
    /// kernel tears a deleted namespace (and the veth end in it) down later, in a worker, so after <c>netns del</c>
    /// alone the host end can outlive the command by a second or more, and an <c>up</c> right after fails on
    /// <c>link add fv-1</c> with "File exists". Deleting a veth end deletes the pair at once.
    /// </summary>
    public static IReadOnlyList<string[]> TeardownCommands(IEnumerable<string> namespaces)
        => [.. namespaces.SelectMany(ns => HostVeth(ns) is { } veth
                ? new[] { new[] { "link", "del", veth }, ["netns", "del", ns] }
                : [["netns", "del", ns]]),
            ["link", "del", UpPlan.Bridge]];

    /// <summary>The host end of the veth pair of the node namespace <c>fabric-node-N</c> (<c>fv-N</c>), or null.</summary>
    private static string? HostVeth(string ns)
    {
        var m = NodeNamespace().Match(ns);
        return m.Success ? $"fv-{m.Groups[1].Value}" : null;
    }

    /// <summary>Host and peer interface names of a node's veth pair (at most 15 characters).</summary>
    public static (string Host, string Peer) VethNames(NodePlan node)
        => ($"fv-{node.Index.ToString(CultureInfo.InvariantCulture)}", $"fp-{node.Index.ToString(CultureInfo.InvariantCulture)}");

    /// <summary>Why --netns cannot run here, or null.</summary>
    public static string? Unsupported()
    {
        if (!OperatingSystem.IsLinux()) return "--netns needs Linux network namespaces";
        if (!Environment.IsPrivilegedProcess) return "--netns needs root (it creates network namespaces, a bridge and veth pairs)";
        if (FindIp() is null) return "--netns needs the `ip` command (Debian: apt-get install iproute2; scripts/setup.sh does it as root)";
        if (FindNsenter() is null) return "--netns needs the `nsenter` command (Debian: apt-get install util-linux; scripts/setup.sh does it as root)";
        return null;
    }

    /// <summary>
    /// Removes what an earlier <c>fabric up --netns</c> left behind when it was killed (namespaces fabric-node-N in
    /// which nothing runs, and the bridge); refuses when one of them still has processes (another cluster is up).
    /// </summary>
    public static async Task RemoveLeftoversAsync(Action<string> say)
    {
        var list = await RunAsync(["netns", "list"], check: false);
        var stale = list.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ')[0]).Where(n => NodeNamespace().IsMatch(n)).ToArray();
        foreach (var ns in stale)
        {
            var pids = await RunAsync(["netns", "pids", ns], check: false);
            if (!string.IsNullOrWhiteSpace(pids.Output))
                throw new CliException($"network namespace {ns} is in use (pids {string.Join(' ', pids.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries))}): is another `fabric up --netns` running?");
        }
        var bridge = await RunAsync(["link", "show", UpPlan.Bridge], check: false);
        // Host veth ends whose namespace is already gone from the list (deleted, still being torn down by the kernel).
        var links = await RunAsync(["-o", "link", "show", "type", "veth"], check: false);
        var veths = HostVethLink().Matches(links.Output).Select(m => m.Groups[1].Value)
            .Where(v => !stale.Any(ns => HostVeth(ns) == v)).Distinct().ToArray();
        if (stale.Length == 0 && veths.Length == 0 && bridge.ExitCode != 0) return;
        say($"removing what an earlier `fabric up --netns` left behind: {string.Join(", ", stale.Concat(veths).Append(bridge.ExitCode == 0 ? UpPlan.Bridge : "").Where(s => s.Length > 0))}");
        foreach (var v in veths) await RunAsync(["link", "del", v], check: false);
        foreach (var c in TeardownCommands(stale)) await RunAsync(c, check: false);
    }

    public static async Task SetUpAsync(UpPlan plan)
    {
        foreach (var c in SetupCommands(plan)) await RunAsync(c, check: true);
    }

    public static async Task TearDownAsync(UpPlan plan)
    {
        foreach (var c in TeardownCommands(plan.Nodes.Select(n => n.Namespace!))) await RunAsync(c, check: false);
    }

    /// <summary>Where <c>ip netns add NAME</c> bind-mounts a namespace, and <c>ip netns exec</c> / nsenter find it.</summary>
    public static string PathOf(string ns) => $"/run/netns/{ns}";

    /// <summary>nsenter (util-linux), which starts each node inside its network namespace.</summary>
    public static string? FindNsenter() => new[] { "/usr/bin/nsenter", "/bin/nsenter", "/usr/sbin/nsenter" }.FirstOrDefault(File.Exists);

    public static string? FindIp() => new[] { "/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip" }.FirstOrDefault(File.Exists);

    private static async Task<(int ExitCode, string Output)> RunAsync(string[] args, bool check)
    {
        var psi = new ProcessStartInfo(FindIp() ?? "ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new CliException("could not run ip");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (check && p.ExitCode != 0)
            throw new CliException($"`ip {string.Join(' ', args)}` failed: {(await stderr).Trim()}");
        return (p.ExitCode, await stdout);
    }

    [GeneratedRegex("^fabric-node-([0-9]+)$")]
    private static partial Regex NodeNamespace();

    // `ip -o link show type veth` lines: "12: fv-1@if11: <...> ..." (the host end of a node's pair).
    [GeneratedRegex(@"^[0-9]+: (fv-[0-9]+)@", RegexOptions.Multiline)]
    private static partial Regex HostVethLink();
}
