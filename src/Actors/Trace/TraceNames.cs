using System.Diagnostics;
using Fabric.Dataplane.Counters;
using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Tables;
using Fabric.Dataplane.Tracing;

namespace Fabric.Actors.Tracing;

/// <summary>Turns the dataplane's fixed-size hop records into the API's words: stage and kind names, key/value details.</summary>
public static class TraceNames
{
    public static string Stage(TraceStage s) => s switch
    {
        TraceStage.Input => "input",
        TraceStage.Ethernet => "ethernet",
        TraceStage.ArpSuppression => "arp-suppression",
        TraceStage.ProxyArp => "proxy-arp",
        TraceStage.Bridge => "bridge",
        TraceStage.Router => "router",
        TraceStage.OverlayDeliver => "overlay-deliver",
        _ => "output",
    };

    public static string Kind(TraceAction a) => a switch
    {
        TraceAction.Received => "received",
        TraceAction.Decapsulated => "decapsulated",
        TraceAction.Routed => "routed",
        TraceAction.FdbHit => "fdb-hit",
        TraceAction.Flooded => "flooded",
        TraceAction.ArpAnswered => "arp-answered",
        TraceAction.GatewayEcho => "gateway-echo",
        TraceAction.Delivered => "delivered",
        TraceAction.Encapsulated => "encapsulated",
        TraceAction.SentExternal => "sent-external",
        TraceAction.Dropped => "dropped",
        TraceAction.Stopped => "stopped",
        TraceAction.Absorbed => "absorbed",
        TraceAction.Draining => "draining",
        _ => "unknown",
    };

    private static string RouteTarget(byte kind) => kind switch
    {
        (byte)(RouteTargetKind.Local + 1) => "local",
        (byte)(RouteTargetKind.Endpoint + 1) => "endpoint",
        (byte)(RouteTargetKind.Network + 1) => "network",
        (byte)(RouteTargetKind.Blackhole + 1) => "blackhole",
        _ => "none",
    };

    public static TraceDecision Decision(in TraceHop h, ForwardingSnapshot snapshot, IReadOnlyDictionary<VtepEndpoint, string> nodes)
    {
        var d = new Dictionary<string, string>();
        if (h.Vni != 0) d["vni"] = h.Vni.ToString();
        if (snapshot.TryGetNetwork(h.Vni, out var net)) d["network"] = net.Name;
        string Port(int id) => snapshot.Port(id)?.Name is { } name ? $"{name} (port {id})" : $"port {id}";
        string Vtep(VtepEndpoint v) => nodes.TryGetValue(v, out var n) ? $"{n} ({v})" : v.ToString();
        var mac = h.Mac == 0 ? null : new MacAddress(h.Mac).ToString();
        string summary;
        switch (h.Action)
        {
            case TraceAction.Received:
                d["port"] = Port(h.PortId);
                summary = $"from {Port(h.PortId)}";
                break;
            case TraceAction.Decapsulated:
                d["vtep"] = Vtep(h.Vtep);
                summary = $"VXLAN from {Vtep(h.Vtep)}";
                break;
            case TraceAction.Routed:
                var prefix = $"{new Ipv4Address(h.PrefixAddress)}/{h.PrefixLength}";
                d["route"] = prefix;
                d["target"] = RouteTarget(h.RouteKind);
                if (mac is not null) d["nextHop"] = mac;
                summary = $"route {prefix} → {RouteTarget(h.RouteKind)}, next hop {mac}";
                break;
            case TraceAction.FdbHit:
                d["mac"] = mac ?? "";
                d["location"] = h.PortId >= 0 ? Port(h.PortId) : Vtep(h.Vtep);
                summary = $"FDB {mac} at {d["location"]}";
                break;
            case TraceAction.Flooded:
                d["copies"] = h.Count.ToString();
                summary = $"flooded ({h.Count} copies)";
                break;
            case TraceAction.ArpAnswered:
                d["answer"] = mac ?? "";
                summary = $"ARP answered here with {mac}";
                break;
            case TraceAction.GatewayEcho:
                summary = "the subnet gateway answered the echo request";
                break;
            case TraceAction.Delivered or TraceAction.Stopped or TraceAction.Absorbed or TraceAction.Draining:
                d["port"] = Port(h.PortId);
                summary = h.Action switch
                {
                    TraceAction.Delivered => $"delivered to {Port(h.PortId)}",
                    TraceAction.Stopped => $"stopped before {Port(h.PortId)} (not delivered, counted)",
                    TraceAction.Draining => $"to {Port(h.PortId)}, the old port of an endpoint that moved away",
                    _ => $"answer for the prober kept from {Port(h.PortId)}",
                };
                break;
            case TraceAction.Encapsulated or TraceAction.SentExternal:
                d["vtep"] = Vtep(h.Vtep);
                summary = h.Action == TraceAction.Encapsulated ? $"VXLAN to {Vtep(h.Vtep)}" : $"VXLAN to external VTEP {h.Vtep} (unmarked: the trace ends)";
                break;
            case TraceAction.Dropped:
                d["reason"] = DropReasons.Name(h.Reason);
                if (h.PortId >= 0) d["port"] = Port(h.PortId);
                else if (h.Vtep != default) d["vtep"] = Vtep(h.Vtep);
                summary = $"dropped: {DropReasons.Name(h.Reason)}";
                break;
            default:
                summary = Kind(h.Action);
                break;
        }
        return new TraceDecision(Kind(h.Action), summary, d);
    }
}

/// <summary>Converts the dataplane's Stopwatch timestamps to wall-clock µs, with one reading of both clocks.</summary>
public readonly record struct TraceClock(long Ticks, long UnixUs)
{
    public static TraceClock Now() => new(Stopwatch.GetTimestamp(), (DateTime.UtcNow - DateTime.UnixEpoch).Ticks / 10);

    public long ToUnixMicroseconds(long ticks) => UnixUs - (Ticks - ticks) * 1_000_000 / Stopwatch.Frequency;
}
