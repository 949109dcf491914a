using Akka.Cluster;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Tables;

namespace Fabric.Actors.Node;

/// <summary>
/// Who a node is: its name, its VTEP and its management URL. Carried in the member's cluster roles
/// (<c>node:NAME</c>, <c>vtep:IP:PORT</c>, <c>http:URL</c>), so it travels with membership and disappears with it.
/// </summary>
public sealed record NodeIdentity(string Name, VtepEndpoint Vtep, string Http) : IFabricMessage
{
    public const string NodePrefix = "node:", VtepPrefix = "vtep:", HttpPrefix = "http:";

    public IReadOnlyList<string> Roles => [NodePrefix + Name, $"{VtepPrefix}{Vtep.Address}:{Vtep.Port}", HttpPrefix + Http];

    public static NodeIdentity? Of(Member m)
    {
        string? name = null, http = "";
        VtepEndpoint? vtep = null;
        foreach (var r in m.Roles)
        {
            if (r.StartsWith(NodePrefix, StringComparison.Ordinal)) name = r[NodePrefix.Length..];
            else if (r.StartsWith(HttpPrefix, StringComparison.Ordinal)) http = r[HttpPrefix.Length..];
            else if (r.StartsWith(VtepPrefix, StringComparison.Ordinal))
            {
                var v = r[VtepPrefix.Length..];
                var colon = v.LastIndexOf(':');
                if (colon > 0 && Ipv4Address.TryParse(v[..colon], out var ip) && ushort.TryParse(v[(colon + 1)..], out var port))
                    vtep = new VtepEndpoint(ip, port);
            }
        }
        return name is null || vtep is null ? null : new NodeIdentity(name, vtep.Value, http);
    }
}
