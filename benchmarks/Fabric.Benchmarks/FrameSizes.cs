using System.Globalization;
using Akka.Actor;
using Akka.Cluster;
using Akka.DistributedData;
using Fabric.Actors.Configuration;
using Fabric.Actors.Intent;
using Fabric.Actors.Locations;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Tables;

namespace Fabric.Benchmarks;

/// <summary>
/// How big the messages of today's control plane are as the fabric grows, serialized by the serializers the nodes
/// use (the fabric HOCON: Hyperion for Fabric messages, DData's own for the LWWDictionary), against Akka.Remote's
/// maximum frame (akka.remote.dot-netty.tcp.maximum-frame-size, 128,000 bytes unless set): the whole
/// <see cref="ConfigurationListing"/> that every replica fetches on every change and every 2 s, and the whole
/// endpoint-locations LWWDictionary (one DData key). Endpoints are synthesized as the scale harness creates them
/// (guest ports, assigned MAC and IP, ids ep-N).
/// <code>dotnet run -c Release --project benchmarks/Fabric.Benchmarks -- --frame-sizes</code>
/// </summary>
public static class FrameSizes
{
    public static int Run(string[] args)
    {
        var config = FabricHocon.Load(overrides: "akka.actor.provider = local\nakka.loglevel = ERROR")
            .WithFallback(DistributedData.DefaultConfig());
        using var system = ActorSystem.Create("frames", config);
        var frame = system.Settings.Config.GetByteSize("akka.remote.dot-netty.tcp.maximum-frame-size") ?? 128_000;
        Console.WriteLine($"akka.remote.dot-netty.tcp.maximum-frame-size = {frame:N0} bytes");
        // A local ActorSystem (no port bound): only the serializers are needed, and a node address for the CRDT's dots.
        var self = new UniqueAddress(new Address("akka.tcp", "fabric", "127.0.0.1", 4050), 1);
        Console.WriteLine("| endpoints | networks | listing (Hyperion) bytes | bytes/endpoint | over frame? | locations LWWDictionary bytes | bytes/endpoint |");
        Console.WriteLine("|---:|---:|---:|---:|---|---:|---:|");
        foreach (var (e, m) in new[] { (0, 1), (100, 10), (250, 25), (500, 50), (600, 60), (700, 70), (800, 80), (1_000, 100), (2_000, 200), (5_000, 500), (10_000, 1_000), (100_000, 1_000) })
        {
            var listing = Listing(e, m);
            var listingBytes = system.Serialization.FindSerializerFor(listing).ToBinary(listing).Length;
            var dict = Locations(listing, self);
            var dictBytes = e == 0 ? 0 : system.Serialization.FindSerializerFor(dict).ToBinary(dict).Length;
            Console.WriteLine($"| {e:N0} | {m:N0} | {listingBytes:N0} | {(e == 0 ? 0 : (listingBytes - 0.0) / e):0} | {(listingBytes > frame ? "**yes**" : "no")} | {dictBytes:N0} | {(e == 0 ? 0 : dictBytes / (double)e):0} |");
        }
        // Where the listing crosses the frame, for the shapes the scale harness runs: 200 networks, and one network (issue 10's first test).
        foreach (var m in new[] { 200, 1 })
        {
            int lo = 1, hi = 100_000;
            while (lo < hi)
            {
                var mid = (lo + hi) / 2;
                var l = Listing(mid, m);
                if (system.Serialization.FindSerializerFor(l).ToBinary(l).Length > frame) hi = mid; else lo = mid + 1;
            }
            Console.WriteLine($"{m} network(s): the listing passes {frame:N0} bytes at {lo:N0} endpoints");
        }
        {
            int lo = 1, hi = 100_000;
            while (lo < hi)
            {
                var mid = (lo + hi) / 2;
                var d = Locations(Listing(mid, 200), self);
                if (system.Serialization.FindSerializerFor(d).ToBinary(d).Length > frame) hi = mid; else lo = mid + 1;
            }
            Console.WriteLine($"the locations LWWDictionary (one DData key) passes {frame:N0} bytes at {lo:N0} endpoints");
        }
        return 0;
    }

    private static LWWDictionary<string, EndpointLocation> Locations(ConfigurationListing listing, UniqueAddress self)
    {
        var dict = LWWDictionary<string, EndpointLocation>.Empty;
        foreach (var ep in listing.Endpoints)
        {
            var loc = new EndpointLocation(100_000 + int.Parse(ep.Network[4..], CultureInfo.InvariantCulture) - 1, ep.Mac, ep.Ip ?? default,
                new VtepEndpoint(Ipv4Address.Parse("127.0.0." + ep.Node[5..]), 4789), ep.Node, 0, LocationOrigin.Config);
            dict = dict.SetItem(self, loc.Key, loc);
        }
        return dict;
    }

    /// <summary>E guest endpoints round robin over M networks (l2, l3 alternating, one subnet each l3) and 3 nodes.</summary>
    internal static ConfigurationListing Listing(int endpoints, int networks)
    {
        var nets = Enumerable.Range(0, networks).Select(i =>
        {
            var l3 = i % 2 == 1;
            var cidr = Ipv4Prefix.Parse($"10.{i / 16}.{i % 16 * 16}.0/20");
            var subnets = l3 ? new[] { new Subnet(EntityIds.Subnet(i + 1), "s", Ipv4Prefix.Parse($"10.{i / 16}.{i % 16 * 16}.0/21"), Ipv4Address.Parse($"10.{i / 16}.{i % 16 * 16}.1"), "main") } : [];
            return new NetworkView(EntityIds.Network(i + 1), $"scale-{i}", 100_000 + i, l3 ? Fabric.Actors.Intent.NetworkKind.L3 : Fabric.Actors.Intent.NetworkKind.L2, l3 ? cidr : null,
                subnets, [new RouteTableView("main", [])], []);
        }).ToArray();
        var eps = Enumerable.Range(0, endpoints).Select(k =>
        {
            var n = k % networks;
            var host = k / networks + 10;
            var mac = MacAddress.Parse($"02:fa:{(k >> 24) & 255:x2}:{(k >> 16) & 255:x2}:{(k >> 8) & 255:x2}:{k & 255:x2}");
            var ip = Ipv4Address.Parse($"10.{n / 16}.{n % 16 * 16 + host / 256}.{host % 256}");
            return new Endpoint(EntityIds.Endpoint(k + 1), $"ep-{k}", EntityIds.Network(n + 1), n % 2 == 1 ? EntityIds.Subnet(n + 1) : null,
                $"node-{k % 3 + 1}", mac, ip, new EndpointPort(PortKind.Guest), true, 0);
        }).ToArray();
        return new ConfigurationListing(endpoints, nets, eps);
    }
}
