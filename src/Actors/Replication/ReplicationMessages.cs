using Akka.Actor;
using Fabric.Actors.Intent;

namespace Fabric.Actors.Replication;

// The replication protocol between the configuration singleton's hub and every node's replica. Each replica gets one
// stream of messages numbered by Seq (per replica, rising for as long as the hub's Epoch lives); a gap, a duplicate or a
// stream of another epoch is detected by the replica, which then asks to register again and gets its whole projection
// as a chunked snapshot. Every message is bounded (at most ReplicationSettings.ChunkEvents events).

/// <summary>Requests a replica sends to the hub (through the singleton proxy).</summary>
public interface IReplicationRequest : IFabricMessage { string Node { get; } }

/// <summary>
/// A replica (re)registers: send me my whole projection, then every change to it. Also the answer to anything the
/// replica cannot apply (a gap, a new epoch). <paramref name="Holds"/>: networks the node's actors asked to hold.
/// </summary>
public sealed record RegisterReplica(string Node, IActorRef Replica, string[] Holds) : IReplicationRequest;

/// <summary>The networks the node's actors ask to hold changed; the hub sends what enters and releases what leaves.</summary>
public sealed record UpdateHolds(string Node, string[] Holds) : IReplicationRequest;

/// <summary>Messages from the hub to one replica.</summary>
public interface IReplicaMessage : IFabricMessage
{
    string Epoch { get; }
    long Seq { get; }
    long Revision { get; }
}

/// <summary>Events of the replica's networks, to apply in order after message <c>Seq - 1</c>.</summary>
public sealed record ReplicaDelta(string Epoch, long Seq, long Revision, ConfigurationEvent[] Events) : IReplicaMessage;

/// <summary>
/// Chunk <paramref name="Index"/> of <paramref name="Count"/> of the replica's whole projection at <paramref name="Revision"/>,
/// as the events that build it; chunks carry consecutive Seqs. The replica swaps its state when the last one arrives.
/// </summary>
public sealed record ReplicaSnapshot(string Epoch, long Seq, long Revision, int Index, int Count, ConfigurationEvent[] Events) : IReplicaMessage;

/// <summary>Every tick-interval: the last Seq the hub sent this replica. A replica that has not seen it lost something.</summary>
public sealed record ReplicaTick(string Epoch, long Seq, long Revision) : IReplicaMessage;

/// <summary>Published cluster-wide when a hub starts (a new singleton): replicas register at once instead of waiting for silence.</summary>
public sealed record HubStarted(string Epoch) : IFabricMessage;

/// <summary>Local, from the configuration actor to its hub: a write was journaled.</summary>
public sealed record StateChanged(FabricConfiguration Before, FabricConfiguration After, IReadOnlyList<ConfigurationEvent> Events, long Revision);
