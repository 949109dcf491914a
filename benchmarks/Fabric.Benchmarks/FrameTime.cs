using System.Diagnostics;
using Akka.Actor;
using Fabric.Actors.Configuration;
using Fabric.Actors.Intent;

namespace Fabric.Benchmarks;

/// <summary>
/// How long one big message holds an Akka.Remote association on loopback, with the shipped HOCON (its frame size and
/// dispatchers): two remote ActorSystems in this process; a configuration listing of N endpoints (the size of a bulk
/// write's command or answer) is sent, and right behind it a small message standing in for a heartbeat. Prints the
/// serialization time, the big message's one-way time, and how long the small one waited behind it (head-of-line
/// blocking, which a heartbeat would suffer the same way).
/// <code>benchmarks/Fabric.Benchmarks/bin/Release/net10.0/Fabric.Benchmarks --frame-time [--endpoints 10000] [--rounds 5]</code>
/// </summary>
public static class FrameTime
{
    private sealed class Echo : ReceiveActor
    {
        public Echo() => ReceiveAny(m => Sender.Tell(m is ConfigurationListing { Endpoints.Count: > 0 } ? Small : m));
    }

    private static readonly ConfigurationListing Small = Plain(FrameSizes.Listing(0, 1));

    /// <summary>
    /// The listing with arrays where FrameSizes used collection expressions: those compile to a type of this assembly
    /// (&lt;&gt;z__ReadOnlySingleElementList) that the nodes' type filter rightly refuses to deserialize.
    /// </summary>
    private static ConfigurationListing Plain(ConfigurationListing l) => l with
    {
        Networks = l.Networks.Select(n => n with
        {
            Subnets = n.Subnets.ToArray(),
            RouteTables = n.RouteTables.Select(r => r with { Routes = r.Routes.ToArray() }).ToArray(),
            ExternalVteps = n.ExternalVteps.ToArray(),
        }).ToArray(),
        Endpoints = l.Endpoints.ToArray(),
    };

    public static async Task<int> Run(string[] args)
    {
        var endpoints = int.Parse(LocalCluster.Value(args, "--endpoints") ?? "10000", System.Globalization.CultureInfo.InvariantCulture);
        var rounds = int.Parse(LocalCluster.Value(args, "--rounds") ?? "5", System.Globalization.CultureInfo.InvariantCulture);
        var config = FabricHocon.Load(overrides: "akka.actor.provider = remote\nakka.loglevel = ERROR\nakka.remote.dot-netty.tcp.port = 0");
        using var a = ActorSystem.Create("fta", config);
        using var b = ActorSystem.Create("ftb", config);
        b.ActorOf(Props.Create(() => new Echo()), "echo");
        var bAddress = ((ExtendedActorSystem)b).Provider.DefaultAddress;
        var echo = await a.ActorSelection($"{bAddress}/user/echo").ResolveOne(TimeSpan.FromSeconds(10));
        var big = Plain(FrameSizes.Listing(endpoints, Math.Max(1, endpoints / 10)));
        var sw = Stopwatch.StartNew();
        var bytes = a.Serialization.FindSerializerFor(big).ToBinary(big);
        var serialize = sw.Elapsed;
        sw.Restart();
        a.Serialization.FindSerializerFor(big).FromBinary(bytes, typeof(ConfigurationListing));
        var deserialize = sw.Elapsed;
        Console.WriteLine($"frame {a.Settings.Config.GetByteSize("akka.remote.dot-netty.tcp.maximum-frame-size"):N0} bytes; listing of {endpoints:N0} endpoints: {bytes.Length:N0} bytes, serialize {serialize.TotalMilliseconds:0.0} ms, deserialize {deserialize.TotalMilliseconds:0.0} ms (first, cold)");
        for (var i = 0; i < 20; i++) await echo.Ask<ConfigurationListing>(Small, TimeSpan.FromSeconds(5));
        sw.Restart();
        for (var i = 0; i < 20; i++) await echo.Ask<ConfigurationListing>(Small, TimeSpan.FromSeconds(5));
        Console.WriteLine($"small round trip alone: {sw.Elapsed.TotalMilliseconds / 20:0.00} ms");
        Console.WriteLine("| round | big one-way + small reply, ms | small sent right behind it: round trip, ms |");
        Console.WriteLine("|---:|---:|---:|");
        for (var r = 1; r <= rounds; r++)
        {
            var t = Stopwatch.StartNew();
            var bigAnswer = echo.Ask<ConfigurationListing>(big, TimeSpan.FromSeconds(30));
            var smallAnswer = echo.Ask<ConfigurationListing>(Small, TimeSpan.FromSeconds(30));
            var smallAt = TimeSpan.Zero;
            var bigAt = TimeSpan.Zero;
            await Task.WhenAll(bigAnswer.ContinueWith(_ => bigAt = t.Elapsed), smallAnswer.ContinueWith(_ => smallAt = t.Elapsed));
            Console.WriteLine($"| {r} | {bigAt.TotalMilliseconds:0.0} | {smallAt.TotalMilliseconds:0.0} |");
        }
        await Task.WhenAll(a.Terminate(), b.Terminate());
        return 0;
    }
}
