using Akka.Actor;
using Akka.TestKit.Xunit2;
using Fabric.Actors.Intent;
using Fabric.Actors.Node;
using Fabric.Dataplane.Packets;
using VtepEndpoint = Fabric.Dataplane.Tables.VtepEndpoint;
using Fabric.Dataplane.Tests.Engine;

namespace Fabric.Actors.Tests.Node;

/// <summary>The port manager with real TAP devices (no engine). Root only.</summary>
public sealed class PortManagerTapTests : TestKit
{
    /// <summary>
    /// Regression: a TAP that could not be made stayed broken until the configuration changed. A VM moved between two
    /// nodes of one host into its same namespace meets the old node's device (same name) until that node unplugs it;
    /// whichever node acted first decided whether the moved VM ever got a port.
    /// </summary>
    [RootFact]
    public async Task A_tap_that_could_not_be_made_is_retried_until_it_exists()
    {
        var tag = $"{Environment.ProcessId % 100}{Random.Shared.Next(100, 999)}";
        var ns = $"rt-pm-{tag}";
        var id = $"ep-9{tag}"; // numeric: ids are numbered (FabricConfiguration reads the number)
        var device = $"fab{id.Replace("-", "")}";
        using var owned = Netns.Create(ns);
        // The old node's device, still in the namespace.
        Assert.Equal(0, Netns.Exec(ns, "ip", "tuntap", "add", "dev", device, "mode", "tap").Code);

        var ports = Sys.ActorOf(PortManagerActor.Props(new NodeIdentity("node-1", new VtepEndpoint(Ipv4Address.Parse("127.0.0.1"), 4789), ""), null, [TestActor]));
        var network = new NetworkView("net-1", "n", 5001, NetworkKind.L2, Ipv4Prefix.Parse("10.1.0.0/24"), [], [], []);
        var endpoint = new Endpoint(id, "x", "net-1", null, "node-1", MacAddress.Parse("02:00:00:00:7e:01"), Ipv4Address.Parse("10.1.0.7"),
            new EndpointPort(PortKind.Tap, ns), true, 1);
        ports.Tell(ConfigurationUpdated.Whole(new ConfigurationListing(1, [network], [endpoint])));
        Assert.Empty(ExpectMsg<LocalPortsChanged>().Ports);
        var errors = await ports.Ask<Dictionary<string, string>>(GetPortErrors.Instance, TimeSpan.FromSeconds(3));
        Assert.Contains(id, errors.Keys);

        // The old node lets go of the name: the next attempt succeeds without any new configuration.
        Assert.Equal(0, Netns.Exec(ns, "ip", "tuntap", "del", "dev", device, "mode", "tap").Code);
        var plugged = FishForMessage<LocalPortsChanged>(m => m.Ports.ContainsKey(id), TimeSpan.FromSeconds(5));
        Assert.Equal(MacAddress.Parse("02:00:00:00:7e:01"), plugged.Ports[id].Mac);
        Assert.Contains("10.1.0.7/24", Netns.Exec(ns, "ip", "-br", "addr", "show", "dev", device).Output);
        Assert.Empty(await ports.Ask<Dictionary<string, string>>(GetPortErrors.Instance, TimeSpan.FromSeconds(3)));
        Watch(ports);
        Sys.Stop(ports); // unplugs: closing the TAP removes its device before the namespace goes
        ExpectTerminated(ports);
    }
}
