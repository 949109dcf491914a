using Fabric.Dataplane.Packets;
using Fabric.Dataplane.Tables;

namespace Fabric.Dataplane.Events;

public enum DataplaneEventKind : byte
{
    /// <summary>A source MAC seen at a location the FDB does not hold (new, moved, or a learned entry to refresh).</summary>
    MacLearned = 1,
    /// <summary>A gratuitous ARP from a port that owns the address: a move or takeover announcement.</summary>
    GratuitousArp,
    /// <summary>A port claimed an address another endpoint owns; <see cref="DataplaneEvent.OtherMac"/> is the owner.</summary>
    AddressConflict,
    /// <summary>A destination the snapshot could not resolve (no neighbour, or no local endpoint for a decapsulated frame).</summary>
    Unresolved,
}

/// <summary>What the dataplane tells the actors. A plain struct: queued without allocation.</summary>
public readonly record struct DataplaneEvent(
    DataplaneEventKind Kind,
    int Vni,
    MacAddress Mac,
    Ipv4Address Ip,
    Location Location,
    MacAddress OtherMac = default);
