using System.Collections.Frozen;
using Fabric.Dataplane.Packets;

namespace Fabric.Dataplane.Tables;

/// <summary>IP to MAC within one network: answers (proxy) ARP and resolves routed next hops.</summary>
public sealed class NeighbourTable
{
    public static readonly NeighbourTable Empty = new(FrozenDictionary<uint, MacAddress>.Empty);
    private readonly FrozenDictionary<uint, MacAddress> _byIp;

    private NeighbourTable(FrozenDictionary<uint, MacAddress> byIp) => _byIp = byIp;

    public static NeighbourTable Build(IEnumerable<KeyValuePair<Ipv4Address, MacAddress>> entries)
    {
        var d = new Dictionary<uint, MacAddress>();
        foreach (var (ip, mac) in entries)
        {
            if (!d.TryAdd(ip.Value, mac) && d[ip.Value] != mac)
                throw new ArgumentException($"IP {ip} is claimed by both {d[ip.Value]} and {mac}; the control plane must resolve the conflict first");
        }
        return new NeighbourTable(d.ToFrozenDictionary());
    }

    public int Count => _byIp.Count;
    public bool TryGet(Ipv4Address ip, out MacAddress mac) => _byIp.TryGetValue(ip.Value, out mac);
    public IEnumerable<KeyValuePair<Ipv4Address, MacAddress>> Entries
        => _byIp.Select(kv => KeyValuePair.Create(new Ipv4Address(kv.Key), kv.Value));
}
