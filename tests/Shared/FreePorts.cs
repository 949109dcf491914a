using System.Net;
using System.Net.Sockets;

namespace Fabric.Tests.Shared;

/// <summary>Free ports for a <c>fabric up</c> run on this machine's loopback (tests and the scale harness).</summary>
public static class FreePorts
{
    /// <summary>
    /// A base port with two free TCP ports per node after it (Akka, HTTP) on 127.0.0.1, and one UDP port free on
    /// 127.0.0.1 … 127.0.0.<paramref name="nodes"/> (the VTEPs).
    /// </summary>
    public static (int BasePort, int VtepPort) ForLocalCluster(int nodes)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var basePort = Random.Shared.Next(20000, 30000);
            var vtepPort = Random.Shared.Next(40000, 50000);
            if (Enumerable.Range(basePort, 2 * nodes).All(p => CanBind(SocketType.Stream, "127.0.0.1", p))
                && Enumerable.Range(1, nodes).All(i => CanBind(SocketType.Dgram, $"127.0.0.{i}", vtepPort)))
                return (basePort, vtepPort);
        }
        throw new InvalidOperationException("no free ports found");
    }

    private static bool CanBind(SocketType type, string address, int port)
    {
        try
        {
            using var s = new Socket(AddressFamily.InterNetwork, type, type == SocketType.Stream ? ProtocolType.Tcp : ProtocolType.Udp);
            s.Bind(new IPEndPoint(IPAddress.Parse(address), port));
            return true;
        }
        catch (SocketException) { return false; }
    }
}
