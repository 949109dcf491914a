using Fabric.Chaos.Tests.Harness;

namespace Fabric.Chaos.Tests.Faults;

/// <summary>
/// Cuts the underlay between groups of nodes: a blackhole route to each node of the other side, in every node's
/// namespace, both ways. The nodes' own addresses and the bridge stay up, so the suite can still reach every
/// node's HTTP from the root namespace (and so ask the minority what it makes of a write). Disposing heals.
/// </summary>
public sealed class Partition : IAsyncDisposable
{
    private readonly List<(string Namespace, string Address)> _routes = [];

    public string Description { get; }

    private Partition(string description) => Description = description;

    public static async Task<Partition> SplitAsync(ChaosCluster c, int[] sideA, int[] sideB)
    {
        var p = new Partition($"{{{string.Join(",", sideA.Select(i => $"node-{i}"))}}} | {{{string.Join(",", sideB.Select(i => $"node-{i}"))}}}");
        foreach (var a in sideA)
            foreach (var b in sideB)
            {
                await p.AddAsync(ChaosCluster.NamespaceOf(a), c.UnderlayAddress(b));
                await p.AddAsync(ChaosCluster.NamespaceOf(b), c.UnderlayAddress(a));
            }
        c.Output.WriteLine($"{ChaosCluster.Stamp()} partition {p.Description}");
        return p;
    }

    private async Task AddAsync(string ns, string address)
    {
        (await Shell.Ip("-n", ns, "route", "add", "blackhole", address + "/32")).Check($"blackhole {address} in {ns}");
        _routes.Add((ns, address));
    }

    public async Task HealAsync()
    {
        foreach (var (ns, address) in _routes) await Shell.Ip("-n", ns, "route", "del", "blackhole", address + "/32");
        _routes.Clear();
    }

    public async ValueTask DisposeAsync() => await HealAsync();
}

/// <summary>Takes a node's only link down (the bridge side of its veth), as a pulled cable would; disposing plugs it back.</summary>
public sealed class LinkCut : IAsyncDisposable
{
    private readonly string _device;
    private bool _down;

    private LinkCut(string device) => _device = device;

    public static async Task<LinkCut> CutAsync(ChaosCluster c, int node)
    {
        var cut = new LinkCut($"fv-{node}");
        (await Shell.Ip("link", "set", cut._device, "down")).Check($"link down {cut._device}");
        cut._down = true;
        c.Output.WriteLine($"{ChaosCluster.Stamp()} node-{node}'s link ({cut._device}) down");
        return cut;
    }

    public async Task RestoreAsync()
    {
        if (!_down) return;
        (await Shell.Ip("link", "set", _device, "up")).Check($"link up {_device}");
        _down = false;
    }

    public async ValueTask DisposeAsync() => await RestoreAsync();
}
