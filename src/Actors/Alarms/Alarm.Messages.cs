namespace Fabric.Actors.Alarms;

// The alarm protocol of one node (AlarmActor, named "alarms"). GetAlarms and its answer cross the wire (any node's
// HTTP endpoint reads every node's alarms); the rest is local to the node.

/// <summary>The kinds of alarm a node raises (API.md, "Seeing the fabric").</summary>
public static class AlarmKinds
{
    public const string DuplicateMac = "duplicate-mac";
    public const string AddressConflict = "address-conflict";
    public const string PathMtu = "path-mtu";

    public static readonly string[] All = [DuplicateMac, AddressConflict, PathMtu];
}

/// <summary>
/// One condition a node holds while it lasts: <paramref name="Key"/> names the thing it is about within its kind (a MAC in
/// a VNI, an IP in a VNI, a path to a VTEP), <paramref name="Since"/> is when it was first raised (a repeat keeps it).
/// </summary>
public sealed record Alarm(string Node, string Kind, string Key, string Detail, DateTimeOffset Since) : IFabricMessage;

/// <summary>Every alarm the receiving node holds now.</summary>
public sealed record GetAlarms : IFabricMessage { public static readonly GetAlarms Instance = new(); }
public sealed record AlarmListing(string Node, IReadOnlyList<Alarm> Alarms) : IFabricMessage;

/// <summary>Raise (or refresh: a repeat keeps the first time) an alarm on this node. From the node's own actors.</summary>
public sealed record RaiseAlarm(string Kind, string Key, string Detail);

/// <summary>The condition ended: clear the alarm, if held.</summary>
public sealed record ClearAlarm(string Kind, string Key);

/// <summary>Published on the node's event stream when an alarm is raised (not when refreshed) and when it clears.</summary>
public sealed record AlarmRaised(Alarm Alarm);
public sealed record AlarmCleared(Alarm Alarm);

/// <summary>An alarm raised (<paramref name="Raised"/>) or cleared somewhere in the cluster, on topic <see cref="AlarmActor.Topic"/>.</summary>
public sealed record AlarmChange(Alarm Alarm, bool Raised) : IFabricMessage;
