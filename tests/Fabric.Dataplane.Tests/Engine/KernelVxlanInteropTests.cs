using System.Diagnostics;
using System.Text.RegularExpressions;
using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Engine;
using Fabric.Dataplane.Events;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Ports;
using Fabric.Dataplane.Tables;

namespace Fabric.Dataplane.Tests.Engine;

/// <summary>
/// A peer nobody here wrote: the Linux kernel's own VXLAN device as an external VTEP of an l2 network. The kernel
/// short-circuits VXLAN between local addresses, so the peer lives in its own namespace, joined to the host by a veth
/// pair on which the Fabric engine's underlay socket listens. A host behind the kernel device (the peer namespace
/// itself) and a TAP endpoint of Fabric ping each other both ways; ARP and broadcast cross by head-end replication;
/// each side learns the other; tshark dissects the underlay as VXLAN with the right VNI and no complaint.
/// </summary>
public class KernelVxlanInteropTests
{
    private const int Vni = 5042;

    private static (int Code, string Output) Run(string file, params string[] args) => TapPort.Run(file, args);
    private static void Must(string file, params string[] args)
    {
        var r = Run(file, args);
        Assert.True(r.Code == 0, $"{file} {string.Join(' ', args)}: {r.Output}");
    }

    private sealed class Rig : IDisposable
    {
        public readonly string Tag = $"{Environment.ProcessId % 1000}{Random.Shared.Next(10, 99)}";
        public string PeerNs => $"fkp{Tag}";
        public string VmNs => $"fkv{Tag}";
        public string HostVeth => $"fkh{Tag}";
        public readonly int Octet = Random.Shared.Next(2, 250);
        public Ipv4Address HostIp => Ipv4Address.Parse($"10.251.{Octet}.1");
        public Ipv4Address PeerIp => Ipv4Address.Parse($"10.251.{Octet}.2");
        public SnapshotHolder Holder = new();
        public UdpUnderlay? Underlay;
        public DataplaneEngine? Engine;
        public readonly MacAddress VmMac = MacAddress.Parse("02:00:00:00:5a:0b");
        public readonly Ipv4Address VmIp = Ipv4Address.Parse("10.42.0.11");
        public readonly Ipv4Address KernelHostIp = Ipv4Address.Parse("10.42.0.50");

        public void Dispose()
        {
            Engine?.Dispose();
            Underlay?.Dispose();
            Run("ip", "link", "delete", HostVeth);
            Run("ip", "netns", "delete", PeerNs);
        }
    }

    private static Rig Build(bool kernelLearning)
    {
        var r = new Rig();
        Must("ip", "netns", "add", r.PeerNs);
        Must("ip", "link", "add", r.HostVeth, "type", "veth", "peer", "name", "underlay0", "netns", r.PeerNs);
        Must("ip", "addr", "add", $"{r.HostIp}/24", "dev", r.HostVeth);
        Must("ip", "link", "set", r.HostVeth, "up");
        Must("ip", "-n", r.PeerNs, "addr", "add", $"{r.PeerIp}/24", "dev", "underlay0");
        Must("ip", "-n", r.PeerNs, "link", "set", "underlay0", "up");
        Must("ip", "-n", r.PeerNs, "link", "set", "lo", "up");
        // The kernel VTEP: VNI 5042, standard port, an all-zeros FDB entry pointing at the Fabric node (head-end
        // replication of BUM from the kernel side), learning on or off.
        Must("ip", ["-n", r.PeerNs, "link", "add", "vxlan0", "type", "vxlan", "id", Vni.ToString(), "local", r.PeerIp.ToString(),
            "dstport", "4789", "dev", "underlay0", .. (kernelLearning ? Array.Empty<string>() : ["nolearning"])]);
        Must("ip", "-n", r.PeerNs, "link", "set", "vxlan0", "address", "02:00:00:00:5a:32", "mtu", "1450", "up");
        Must("ip", "-n", r.PeerNs, "addr", "add", $"{r.KernelHostIp}/24", "dev", "vxlan0");
        Must("ip", "netns", "exec", r.PeerNs, "bridge", "fdb", "append", "00:00:00:00:00:00", "dev", "vxlan0", "dst", r.HostIp.ToString());

        var local = new VtepEndpoint(r.HostIp, 4789);
        var kernel = new VtepEndpoint(r.PeerIp, 4789);
        var b = new NetworkStateBuilder(Vni, "interop", NetworkKind.L2) { LocalVtep = local }
            .Member(local).Member(kernel)
            .Endpoint(r.VmMac, r.VmIp, Location.Local(1));
        r.Holder.Publish(ForwardingSnapshot.Create(local, [b.Build()], [new PortState(1, "vm", Vni, r.VmMac, r.VmIp, true, -1, new PortCounters())]));
        r.Underlay = new UdpUnderlay(local);
        r.Engine = new DataplaneEngine(r.Holder, r.Underlay);
        r.Engine.Start();
        r.Engine.AddPortAsync(TapPort.Create(1, new TapSettings($"fkt{r.Tag}", r.VmMac, r.VmIp, 24, default, r.VmNs))).Wait();
        return r;
    }

    [RootFact("ping", "bridge")]
    public void Fabric_and_a_kernel_vxlan_peer_ping_each_other_both_ways_and_learn_each_other()
    {
        using var r = Build(kernelLearning: true);
        var there = Run("ip", "netns", "exec", r.VmNs, "ping", "-c", "3", "-i", "0.2", "-W", "2", r.KernelHostIp.ToString());
        Assert.True(there.Code == 0, "Fabric → kernel: " + there.Output);
        var back = Run("ip", "netns", "exec", r.PeerNs, "ping", "-c", "3", "-i", "0.2", "-W", "2", r.VmIp.ToString());
        Assert.True(back.Code == 0, "kernel → Fabric: " + back.Output);

        // The kernel's FDB learned the Fabric VM's MAC behind the Fabric node's VTEP.
        var fdb = Run("ip", "netns", "exec", r.PeerNs, "bridge", "fdb", "show", "dev", "vxlan0").Output;
        Assert.Contains($"{r.VmMac} dst {r.HostIp}", fdb);
        // Fabric's dataplane reported the kernel-side MAC as learned from that member VTEP.
        var learned = new List<DataplaneEvent>();
        while (r.Engine!.Events.TryRead(out var e)) learned.Add(e);
        Assert.Contains(learned, e => e.Kind == DataplaneEventKind.MacLearned && e.Mac == MacAddress.Parse("02:00:00:00:5a:32")
            && e.Location == Location.Remote(new VtepEndpoint(r.PeerIp, 4789)));
        // ARP went both ways as broadcast: flooded by head-end replication to the kernel peer, decapsulated from it.
        var c = r.Holder.Current.Networks[Vni].Counters;
        Assert.True(c.Flooded >= 1 && c.Decapsulated >= 3 && c.Encapsulated >= 3, $"flooded {c.Flooded}, decap {c.Decapsulated}, encap {c.Encapsulated}");
    }

    /// <summary>
    /// Every row of tshark's Errors and Warns expert sections (malformed packets, bad lengths, bad checksums), with IP
    /// header checksums checked (tshark leaves them unchecked by default). tshark heads these sections "Errors (n)"
    /// and "Warns (n)"; Notes and Chats are information, not complaints.
    /// </summary>
    private static List<string> Complaints(string pcap)
    {
        var expert = Run("tshark", "-r", pcap, "-d", "udp.port==4789,vxlan", "-o", "ip.check_checksum:TRUE", "-z", "expert", "-q");
        Assert.True(expert.Code == 0, expert.Output);
        var complaints = new List<string>();
        string? section = null;
        foreach (var line in expert.Output.Split('\n'))
        {
            var heading = Regex.Match(line, @"^(Errors|Warns|Notes|Chats|Comments) \(\d+\)");
            if (heading.Success) { section = heading.Groups[1].Value; continue; }
            if (section is "Errors" or "Warns" && Regex.IsMatch(line, @"^\s+\d+\s")) complaints.Add($"{section}: {line.Trim()}");
        }
        // Should the layout ever change so that no row parses, a malformed packet still counts.
        if (expert.Output.Contains("Malformed", StringComparison.Ordinal) && complaints.Count == 0) complaints.Add("Malformed: " + expert.Output);
        return complaints;
    }

    /// <summary>A copy of a classic pcap with the checksum of its last VXLAN-carried ICMP message flipped.</summary>
    private static byte[] DamageLastInnerIcmpChecksum(byte[] pcap)
    {
        Assert.Equal(0xa1b2c3d4u, BitConverter.ToUInt32(pcap, 0)); // little-endian classic pcap, as tshark writes it here
        // Outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8, then the inner Ethernet header, IPv4 20, ICMP type, code, checksum.
        const int inner = 14 + 20 + 8 + 8;
        int offset = 24, checksum = -1;
        while (offset + 16 <= pcap.Length)
        {
            var frame = offset + 16;
            var length = BitConverter.ToInt32(pcap, offset + 8);
            if (length >= inner + 14 + 20 + 4 && pcap[frame + inner + 12] == 0x08 && pcap[frame + inner + 13] == 0x00 && pcap[frame + inner + 14 + 9] == 1)
                checksum = frame + inner + 14 + 20 + 2;
            offset = frame + length;
        }
        Assert.True(checksum > 0, "the capture holds no VXLAN-carried ICMP message");
        var copy = (byte[])pcap.Clone();
        copy[checksum] ^= 0x5A;
        copy[checksum + 1] ^= 0xA5;
        return copy;
    }

    [RootFact("ping", "bridge", "tshark")]
    public void Tshark_dissects_the_underlay_as_vxlan_with_the_right_vni_and_no_complaint()
    {
        using var r = Build(kernelLearning: false);
        var pcap = Path.Combine(Path.GetTempPath(), $"fabric-interop-{r.Tag}.pcap");
        // Classic pcap (-F pcap), so the test can damage a copy byte by byte to prove its complaint check can fire.
        var capture = Process.Start(new ProcessStartInfo("tshark", ["-i", r.HostVeth, "-f", "udp port 4789", "-F", "pcap", "-w", pcap, "-c", "6", "-a", "duration:40"])
            { RedirectStandardError = true, RedirectStandardOutput = true })!;
        try
        {
            // Ping only once tshark says it is capturing: under load it can take seconds to get there.
            var ready = Task.Run(() =>
            {
                string? line;
                while ((line = capture.StandardError.ReadLine()) is not null)
                    if (line.Contains("Capturing on", StringComparison.Ordinal)) return true;
                return false;
            });
            Assert.True(ready.Wait(TimeSpan.FromSeconds(30)) && ready.Result, "tshark never started capturing");
            _ = capture.StandardError.ReadToEndAsync();
            var ping = Run("ip", "netns", "exec", r.VmNs, "ping", "-c", "3", "-i", "0.2", "-W", "2", r.KernelHostIp.ToString());
            Assert.True(ping.Code == 0, ping.Output);
            Assert.True(capture.WaitForExit(40000), "tshark did not see 6 packets");
            var fields = Run("tshark", "-r", pcap, "-d", "udp.port==4789,vxlan", "-T", "fields", "-e", "vxlan.vni", "-e", "vxlan.flag_i", "-e", "eth.type", "-e", "_ws.expert.message");
            Assert.True(fields.Code == 0, fields.Output);
            var lines = fields.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => char.IsDigit(l[0])).ToArray();
            Assert.True(lines.Length >= 6, $"captured {lines.Length} VXLAN packets:\n{fields.Output}");
            Assert.All(lines, l => Assert.StartsWith($"{Vni}\t1\t", l)); // right VNI, I flag set, on both directions
            Assert.Empty(Complaints(pcap));
            // The check above reads tshark's expert sections; prove it is not reading nothing: the same capture with
            // one inner ICMP checksum damaged must draw a complaint.
            var damaged = pcap + ".damaged";
            try
            {
                File.WriteAllBytes(damaged, DamageLastInnerIcmpChecksum(File.ReadAllBytes(pcap)));
                Assert.Contains(Complaints(damaged), l => l.Contains("Bad checksum", StringComparison.Ordinal) && l.Contains("ICMP", StringComparison.Ordinal));
            }
            finally { File.Delete(damaged); }
            var verbose = Run("tshark", "-r", pcap, "-d", "udp.port==4789,vxlan", "-V");
            Assert.DoesNotContain("Malformed Packet", verbose.Output);
            Assert.Contains("Internet Control Message Protocol", verbose.Output); // the inner frames dissect too
        }
        finally
        {
            if (!capture.HasExited) capture.Kill();
            File.Delete(pcap);
        }
    }
}
