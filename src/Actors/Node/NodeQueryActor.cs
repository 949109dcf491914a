using Akka.Actor;
using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Tables;

namespace Fabric.Actors.Node;

/// <summary>
/// Answers what this node forwards with, read from the snapshot the dataplane is using right now (not from the
/// configuration: the two differ exactly when something is wrong, which is when people ask). Named <c>query</c>.
/// </summary>
public sealed class NodeQueryActor : ReceiveActor
{
    public NodeQueryActor(string node, SnapshotHolder holder, DataplaneCounters? global, Func<long>? eventsLost, DropSampler? drops = null)
    {
        Receive<GetFdb>(q =>
        {
            var s = holder.Current;
            var rows = new List<FdbRow>();
            foreach (var net in s.Networks.Values)
            {
                if (q.Vni is { } v && v != net.Vni) continue;
                var ipOf = new Dictionary<ulong, string>();
                foreach (var (ip, mac) in net.Neighbours.Entries) ipOf.TryAdd(mac.Value, ip.ToString());
                foreach (var e in net.Fdb.Entries.OrderBy(e => e.Mac.Value))
                {
                    var loc = e.Location.IsLocal ? $"local:{s.Port(e.Location.PortId)?.Name ?? e.Location.PortId.ToString()}" : $"vtep:{e.Location.Vtep}";
                    rows.Add(new FdbRow(net.Vni, e.Mac.ToString(), ipOf.GetValueOrDefault(e.Mac.Value), loc,
                        e.Source.ToString().ToLowerInvariant(), e.Sequence));
                }
            }
            Sender.Tell(new FdbListing(node, rows));
        });
        Receive<GetRoutes>(q =>
        {
            var rows = new List<RouteRow>();
            if (holder.Current.TryGetNetwork(q.Vni, out var net))
                foreach (var t in net.RouteTables)
                {
                    if (q.RouteTable is { } name && name != t.Name) continue;
                    foreach (var r in t.Routes)
                        rows.Add(new RouteRow(t.Name, r.Destination.ToString(), r.Target.Kind.ToString().ToLowerInvariant(), r.Target.Kind switch
                        {
                            RouteTargetKind.Endpoint => r.Target.EndpointMac.ToString(),
                            RouteTargetKind.Network => $"vni {r.Target.Vni}",
                            _ => null,
                        }));
                }
            Sender.Tell(new RouteListing(node, rows));
        });
        Receive<GetFloodGroup>(q =>
        {
            var found = holder.Current.TryGetNetwork(q.Vni, out var net);
            Sender.Tell(new FloodGroupListing(node, q.Vni,
                found ? net.FloodList.Select(v => v.ToString()).ToArray() : [],
                found ? net.Members.Values.Select(v => v.ToString()).Order().ToArray() : []));
        });
        Receive<GetCounters>(_ =>
        {
            var s = holder.Current;
            var ports = s.Ports.Where(p => p is not null).Select(p => new CounterSet(p!.Name, p.Counters.RxPackets, p.Counters.RxBytes,
                p.Counters.TxPackets, p.Counters.TxBytes, 0, 0, 0, 0, Drops(p.Counters.Drops))).ToArray();
            var nets = s.Networks.Values.OrderBy(n => n.Vni).Select(n => new CounterSet($"{n.Name} (vni {n.Vni})", n.Counters.RxPackets,
                n.Counters.RxBytes, n.Counters.TxPackets, n.Counters.TxBytes, n.Counters.Encapsulated,
                n.Counters.Decapsulated, n.Counters.Flooded, n.Counters.ArpAnswered, Drops(n.Counters.Drops))).ToArray();
            Sender.Tell(new CounterListing(node, ports, nets, global is null ? new Dictionary<string, long>() : Drops(global.Drops),
                eventsLost?.Invoke() ?? 0, s.Version));
        });
        Receive<GetDrops>(q =>
        {
            if (drops is null) { Sender.Tell(new DropListing(node, false, 0, [])); return; }
            DropReason? reason = q.Reason is null ? null : Enum.Parse<DropReason>(q.Reason, ignoreCase: true);
            var s = holder.Current;
            // Samples carry the monotonic clock of the moment they were taken: turn it into wall time here.
            var now = DateTimeOffset.UtcNow;
            var tick = Environment.TickCount64;
            var rows = drops.Read(reason, Math.Max(1, q.Limit)).Select(d => DropDecoder.Decode(d, now.AddMilliseconds(d.AtTickMs - tick),
                d.PortId >= 0 ? s.Port(d.PortId)?.Name ?? $"port-{d.PortId}" : null)).ToArray();
            Sender.Tell(new DropListing(node, true, drops.PerReason, rows));
        });
    }

    public static Props Props(string node, SnapshotHolder holder, DataplaneCounters? global, Func<long>? eventsLost, DropSampler? drops = null)
        => Akka.Actor.Props.Create(() => new NodeQueryActor(node, holder, global, eventsLost, drops));


    /// <summary>Only the reasons that happened: a table of forty zeros helps nobody.</summary>
    private static Dictionary<string, long> Drops(long[] drops)
    {
        var d = new Dictionary<string, long>();
        for (int i = 1; i < drops.Length; i++)
        {
            var v = Volatile.Read(ref drops[i]);
            if (v != 0) d[DropReasons.Name((DropReason)i)] = v;
        }
        return d;
    }
}
