using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Fabric.Nodes.Cli;
using Fabric.Tests.Shared;
using Xunit.Abstractions;

namespace Fabric.Nodes.Tests.Cli;

/// <summary>
/// What a legitimate node does when a peer closes the connection in the middle of a TLS handshake the node started (a
/// peer that is stopping or crashing at that moment): Akka.Remote 1.5.74 shuts the node down (TlsHandshakeFailureReason,
/// not only for a peer that does not trust it), so `fabric node` must exit with a code its supervisor restarts (1, not
/// 2 or 3: deploy/fabric-node.service's RestartPreventExitStatus) and say why. A listener that accepts each connection and
/// closes it at once stands in for the peer, as the node's only seed. Ports of 127.0.13.5/.6: run under the test lock.
/// </summary>
[Collection(LocalClusterCollection.Name)]
public sealed class RemoteTlsShutdownTests(ITestOutputHelper output)
{
    [LinuxFact]
    public async Task A_node_whose_peer_closes_mid_handshake_is_stopped_by_akka_remote_and_exits_1_saying_why()
    {
        var root = Directory.CreateTempSubdirectory("fabric-tls-cut-");
        NodeProcess? node = null;
        using var stop = new CancellationTokenSource();
        var peer = new TcpListener(IPAddress.Parse("127.0.13.6"), 4050);
        try
        {
            // One host (the embedded store is allowed for one), its seed the "peer" on loopback (the same machine).
            var init = await InitTests.RunFabricAsync(root.FullName, "init", "--hosts", "127.0.13.5", "--out", "c");
            Assert.True(init.Code == 0, init.ToString());
            var dir = Path.Combine(root.FullName, "c");
            await File.AppendAllTextAsync(Path.Combine(dir, "node-1", "node.conf"), "\nakka.cluster.seed-nodes = [\"akka.ssl.tcp://fabric@127.0.13.6:4050\"]\n");
            peer.Start();
            var accepted = 0;
            var closer = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    using var c = await peer.AcceptTcpClientAsync(stop.Token);
                    Interlocked.Increment(ref accepted);
                }
            });

            var clock = Stopwatch.StartNew();
            node = NodeProcess.Start(dir, Path.Combine("node-1", "node.conf"), "node-1");
            Assert.True(await node.WaitForExitAsync(TimeSpan.FromSeconds(60)), $"the node kept running though its handshakes were cut:\n{node.Output}");
            output.WriteLine($"exit {node.ExitCode} {clock.Elapsed.TotalSeconds:0.0} s after the start, {Volatile.Read(ref accepted)} connection(s) cut:\n{node.Output}");
            Assert.Equal(1, node.ExitCode);
            Assert.NotEqual(NodeCommand.RefusedExitCode, node.ExitCode);
            Assert.NotEqual(NodeCommand.LeftExitCode, node.ExitCode);
            var line = Assert.Single(node.Output.Split('\n'), l => l.StartsWith("error: node-1 shut down: Akka.Remote stops a node", StringComparison.Ordinal));
            Assert.Contains("127.0.13.6", line, StringComparison.Ordinal); // the peer it tried
            Assert.True(Volatile.Read(ref accepted) >= 1);
        }
        finally
        {
            await stop.CancelAsync();
            peer.Stop();
            node?.Stop();
            root.Delete(recursive: true);
        }
    }
}
