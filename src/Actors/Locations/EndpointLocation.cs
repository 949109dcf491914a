using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Tables;

namespace Fabric.Actors.Locations;

/// <summary>How a location became known to the node that announced it.</summary>
public enum LocationOrigin { Config, Learned, GratuitousArp }

/// <summary>
/// Where an endpoint (VNI, MAC, IP) lives: the VTEP of the node that hosts it. <see cref="Seq"/> is the mobility
/// sequence number: every move raises it and the highest wins everywhere (EVPN's MAC mobility, RFC 7432 §15).
/// </summary>
public sealed record EndpointLocation(int Vni, MacAddress Mac, Ipv4Address Ip, VtepEndpoint Vtep, string Node, long Seq, LocationOrigin Origin)
    : IFabricMessage
{
    public string Key => KeyOf(Vni, Mac);
    public static string KeyOf(int vni, MacAddress mac) => $"{vni}/{mac}";
}

/// <summary>Raised when a MAC moved too often too fast: it is frozen where it was and needs an operator.</summary>
public sealed record DuplicateMacAlarm(int Vni, MacAddress Mac, int Moves, TimeSpan Window, DateTimeOffset At, string LastNode) : IFabricMessage;

/// <summary>Raised when a port claims an address another endpoint owns (gratuitous ARP or ARP spoofing).</summary>
public sealed record AddressConflictAlarm(int Vni, Ipv4Address Ip, MacAddress Claimant, MacAddress Owner, string Node, DateTimeOffset At) : IFabricMessage;
