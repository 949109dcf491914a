using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Engine;
using Fabric.Dataplane.Interop;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Ports;
using Fabric.Dataplane.Ports.Guest;
using Fabric.Dataplane.Tables;

namespace Fabric.Dataplane.Tests.Engine;

/// <summary>A dataplane engine group (N threads) on a loopback VTEP address.</summary>
public sealed class GroupNode : IDisposable
{
    public GroupNode(int threads)
    {
        Vtep = EngineNode.FreeLoopbackVtep();
        Group = DataplaneGroup.Create(Holder, Vtep, new UnderlayOptions(), new EngineOptions(), threads);
        Group.Start();
    }

    public VtepEndpoint Vtep { get; }
    public SnapshotHolder Holder { get; } = new();
    public DataplaneGroup Group { get; }
    public void Dispose() => Group.Dispose();
}

/// <summary>
/// fabric.dataplane.threads (issue 11): N pinned engines, each with its own SO_REUSEPORT socket on the VTEP port and
/// one queue of every multiqueue TAP, all reading one snapshot; counters summed over per-thread lanes. Root only (TAP,
/// namespaces), a few seconds.
/// </summary>
public class DataplaneGroupTests
{
    private static readonly Ipv4Prefix Cidr = Ipv4Prefix.Parse("10.23.0.0/16");
    private static readonly PlacedEndpoint A = new("a", 0, 1, MacAddress.Parse("02:00:00:00:23:0a"), Ipv4Address.Parse("10.23.0.10"), 0);
    private static readonly PlacedEndpoint B = new("b", 1, 1, MacAddress.Parse("02:00:00:00:23:0b"), Ipv4Address.Parse("10.23.0.11"), 0);
    private const int Flows = 16, PerFlow = 100, UdpPort = 9000;

    [RootFact]
    public void Two_threads_are_pinned_to_their_own_cores_each_with_a_reuseport_socket_on_the_vtep_port()
    {
        using var node = new GroupNode(2);
        var g = node.Group;
        Assert.Equal(2, g.Threads);
        for (int k = 0; k < 2; k++)
        {
            var status = File.ReadAllText($"/proc/{Environment.ProcessId}/task/{g.Engines[k].ThreadId}/status");
            var allowed = status.Split('\n').Single(l => l.StartsWith("Cpus_allowed_list:")).Split(':')[1].Trim();
            Assert.Equal((k % Environment.ProcessorCount).ToString(), allowed);
            Assert.True(g.Engines[k].Running);
        }
        Assert.Equal(2, g.Underlays.Count);
        Assert.NotEqual(g.Underlays[0].Fd, g.Underlays[1].Fd);
        foreach (var u in g.Underlays)
        {
            Assert.Equal(node.Vtep.Port, u.BoundPort);
            Assert.Equal(1, ReusePort(u.Fd));
            Assert.Equal(2, u.SourcePorts.Length); // half of the default 4 each
        }
        Assert.Equal(4, g.Underlays.SelectMany(u => u.SourcePorts).Distinct().Count());
        // A guest port has one reader and one writer: refused with several threads, and disposed.
        var guest = new GuestPort(5, "g", new GuestMachine(A.Mac, A.Ip, Cidr, default));
        var refused = Assert.ThrowsAsync<NotSupportedException>(() => g.AddPortAsync(guest)).Result;
        Assert.Contains("threads = 1", refused.Message);
    }

    [RootFact("ping")]
    public async Task Two_threads_with_multiqueue_taps_carry_many_flows_none_lost_or_duplicated_and_counters_add_up()
    {
        GroupNode[] nodes = [new(2), new(2)];
        var tag = $"{Environment.ProcessId % 10000}{Random.Shared.Next(100, 999)}";
        string Ns(PlacedEndpoint e) => $"fabg-{tag}-{e.Name}";
        var owned = new List<IDisposable>();
        try
        {
            Fabrics.Publish(Array.ConvertAll(nodes, n => (n.Vtep, n.Holder)), 7301, NetworkKind.L2, Cidr, [], [A, B]);
            foreach (var e in new[] { A, B })
            {
                // IPv6 off, so nothing but this test's frames (and ARP) crosses: the counters can be checked exactly.
                owned.Add(Netns.Create(Ns(e)));
                Netns.Exec(Ns(e), "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
                var tap = TapPort.Create(e.Port, new TapSettings($"fg{tag}{e.Name}", e.Mac, e.Ip, 16, default, Ns(e), Queues: 2));
                Assert.Single(tap.ExtraQueues);
                await nodes[e.Node].Group.AddPortAsync(tap);
            }
            var warm = Netns.Exec(Ns(A), "ping", "-c", "1", "-W", "2", B.Ip.ToString());
            Assert.True(warm.Code == 0, warm.Output);

            var seen = new int[Flows * PerFlow];
            using var ready = new ManualResetEventSlim();
            var receiver = InNamespace(Ns(B), () => Receive(seen, ready));
            Assert.True(ready.Wait(TimeSpan.FromSeconds(5)), "receiver did not start");
            InNamespace(Ns(A), Send).Join();
            receiver.Join();

            var lost = seen.Count(c => c == 0);
            var twice = seen.Count(c => c > 1);
            Assert.True(lost == 0 && twice == 0, $"{lost} datagrams lost, {twice} duplicated of {seen.Length}");

            // The flows spread over both threads of the sending node (16 flows on 2 TAP queues: all on one has odds 2^-15).
            var sent = nodes[0].Group.Counters;
            Assert.True(sent.Lane(0).Packets > 0 && sent.Lane(1).Packets > 0, $"lanes {sent.Lane(0).Packets} / {sent.Lane(1).Packets}");
            Assert.Equal(sent.Lane(0).Packets + sent.Lane(1).Packets, sent.Packets);

            // Every frame a's TAP gave node 0 (on either queue) is counted once, every one node 1 decapsulated (on either
            // socket) reached b once: the per-thread lanes add up.
            var net0 = nodes[0].Holder.Current.Networks[7301].Counters;
            var net1 = nodes[1].Holder.Current.Networks[7301].Counters;
            var portA = nodes[0].Holder.Current.Port(A.Port)!.Counters;
            var portB = nodes[1].Holder.Current.Port(B.Port)!.Counters;
            var settle = DateTime.UtcNow + TimeSpan.FromSeconds(3);
            while (DateTime.UtcNow < settle && net1.Decapsulated != net0.Encapsulated) await Task.Delay(20);
            Assert.True(portA.RxPackets >= seen.Length, $"port a read {portA.RxPackets}");
            Assert.Equal(portA.RxPackets, net0.RxPackets);
            Assert.Equal(net0.RxPackets, net0.Encapsulated + net0.ArpAnswered + net0.TotalDrops());
            Assert.Equal(net0.Encapsulated, net1.Decapsulated);
            // b's TAP also got the answers node 1 gave its ARP requests itself.
            Assert.Equal(net1.Decapsulated + net1.ArpAnswered, portB.TxPackets);
            Assert.Equal(0, net1.TotalDrops());
        }
        finally
        {
            foreach (var n in nodes) n.Dispose();
            foreach (var o in owned) o.Dispose();
        }
    }

    /// <summary>Flows × PerFlow datagrams, each flow from its own socket (source port), paced so no queue overflows.</summary>
    private static void Send()
    {
        var sockets = new Socket[Flows];
        var to = new IPEndPoint(IPAddress.Parse(B.Ip.ToString()), UdpPort);
        var payload = new byte[64];
        try
        {
            for (int f = 0; f < Flows; f++)
            {
                sockets[f] = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                sockets[f].Bind(new IPEndPoint(IPAddress.Parse(A.Ip.ToString()), 0));
            }
            for (int s = 0; s < PerFlow; s++)
            {
                for (int f = 0; f < Flows; f++)
                {
                    BitConverter.TryWriteBytes(payload, f * PerFlow + s);
                    sockets[f].SendTo(payload, to);
                }
                Thread.Sleep(1);
            }
        }
        finally
        {
            foreach (var s in sockets) s?.Dispose();
        }
    }

    private static void Receive(int[] seen, ManualResetEventSlim ready)
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.ReceiveBufferSize = 4 << 20;
        s.Bind(new IPEndPoint(IPAddress.Parse(B.Ip.ToString()), UdpPort));
        s.ReceiveTimeout = 2000;
        ready.Set();
        var buf = new byte[2048];
        var got = 0;
        try
        {
            while (got < seen.Length)
            {
                var n = s.Receive(buf);
                var id = BitConverter.ToInt32(buf, 0);
                if (n == 64 && (uint)id < (uint)seen.Length) { seen[id]++; got++; }
            }
            // Anything more (a duplicate) arrives right behind.
            s.ReceiveTimeout = 300;
            while (true)
            {
                s.Receive(buf);
                var id = BitConverter.ToInt32(buf, 0);
                if ((uint)id < (uint)seen.Length) seen[id]++;
            }
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut) { }
    }

    /// <summary>Runs <paramref name="work"/> on a thread of its own inside <paramref name="ns"/> (setns moves only that thread).</summary>
    private static InNamespaceWork InNamespace(string ns, Action work) => new(ns, work);

    private sealed class InNamespaceWork
    {
        private readonly Thread _thread;
        private Exception? _failure;

        public InNamespaceWork(string ns, Action work)
        {
            _thread = new Thread(() =>
            {
                try
                {
                    var fd = open($"/run/netns/{ns}", 0x80000 /* O_RDONLY | O_CLOEXEC */);
                    if (fd < 0) throw new IOException($"open netns {ns}: errno {Marshal.GetLastPInvokeError()}");
                    if (setns(fd, 0x40000000 /* CLONE_NEWNET */) != 0) throw new IOException($"setns: errno {Marshal.GetLastPInvokeError()}");
                    close(fd);
                    work();
                }
                catch (Exception e) { _failure = e; }
            }) { IsBackground = true, Name = $"in-{ns}" };
            _thread.Start();
        }

        /// <summary>Waits for the work to end; throws what it threw.</summary>
        public void Join()
        {
            _thread.Join();
            if (_failure is not null) throw new Xunit.Sdk.XunitException($"work in the namespace failed: {_failure}");
        }
    }

    private static unsafe int ReusePort(int fd)
    {
        int v = 0;
        uint len = sizeof(int);
        Assert.Equal(0, Libc.getsockopt(fd, Libc.SOL_SOCKET, Libc.SO_REUSEPORT, &v, &len));
        return v;
    }

    [DllImport("libc", SetLastError = true)] private static extern int open(string path, int flags);
    [DllImport("libc", SetLastError = true)] private static extern int setns(int fd, int nstype);
    [DllImport("libc", SetLastError = true)] private static extern int close(int fd);
}
