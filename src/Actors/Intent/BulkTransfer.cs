namespace Fabric.Actors.Intent;

// A bulk command (CreateEndpoints, DeleteEndpoints) of up to 10,000 items is about a megabyte, and so is its answer:
// far beyond Akka.Remote's frame (128,000 bytes by default), and a message that size would hold up the cluster's
// heartbeats on the same connection. So a node sends a large one to the singleton in parts of at most PartItems
// items, and fetches a large answer in parts too. Atomicity is kept: the parts are only staged (in memory, nothing
// decided or written) until the commit, which decides the whole command and persists it as one write. A singleton
// that moves or restarts in between loses the staged parts, and the commit answers BulkInterrupted: nothing written.

/// <summary>Limits of the bulk transfer.</summary>
public static class BulkTransfer
{
    /// <summary>Items per part, in both directions: 400 endpoint bodies or events are about 60 KB in Hyperion.</summary>
    public const int PartItems = 400;

    /// <summary>How long staged parts and an answer not yet fetched are kept before they are dropped.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(30);

    /// <summary>The number of items a bulk command carries (1 for any other command).</summary>
    public static int ItemsOf(ConfigurationCommand command) => command switch
    {
        CreateEndpoints c => c.Items?.Count ?? 0,
        DeleteEndpoints d => d.Ids?.Count ?? 0,
        CommitBulk c => c.TotalItems,
        _ => 1,
    };

    /// <summary>Splits a bulk command into commands of at most <see cref="PartItems"/> items each (in order).</summary>
    public static IReadOnlyList<ConfigurationCommand> Split(ConfigurationCommand command) => command switch
    {
        CreateEndpoints c => c.Items.Chunk(PartItems).Select(p => (ConfigurationCommand)new CreateEndpoints(p)).ToArray(),
        DeleteEndpoints d => d.Ids.Chunk(PartItems).Select(p => (ConfigurationCommand)new DeleteEndpoints(p)).ToArray(),
        _ => [command],
    };

    /// <summary>Joins parts made by <see cref="Split"/> back into one command; null when they are not parts of one kind.</summary>
    public static ConfigurationCommand? Join(IReadOnlyList<ConfigurationCommand> parts)
    {
        if (parts.Count == 0) return null;
        if (parts.All(p => p is CreateEndpoints))
            return new CreateEndpoints(parts.Cast<CreateEndpoints>().SelectMany(p => p.Items).ToArray());
        if (parts.All(p => p is DeleteEndpoints))
            return new DeleteEndpoints(parts.Cast<DeleteEndpoints>().SelectMany(p => p.Ids).ToArray());
        return null;
    }
}

/// <summary>One part of a bulk command, staged by the configuration until <see cref="CommitBulk"/>; answered with <see cref="BulkPartStaged"/>.</summary>
public sealed record StageBulkPart(Guid Transfer, int Index, ConfigurationCommand Part) : IFabricMessage;

public sealed record BulkPartStaged(Guid Transfer, int Index) : IFabricMessage;

/// <summary>
/// The last part of a bulk command: the configuration joins it to the staged parts (there must be <paramref name="Parts"/>
/// in all, <paramref name="TotalItems"/> items) and decides and persists the whole as one command. Sent inside
/// <see cref="Deadlined"/> like any command. The answer is <see cref="CommandAccepted"/> when it is small, else
/// <see cref="BulkAccepted"/> (fetch the events with <see cref="FetchBulkResult"/>); or a refusal as for any command.
/// </summary>
public sealed record CommitBulk(Guid Transfer, int Parts, int TotalItems, ConfigurationCommand LastPart) : ConfigurationCommand;

/// <summary>The bulk command holds and is durable; its <paramref name="Events"/> events wait to be fetched in parts.</summary>
public sealed record BulkAccepted(Guid Transfer, long Revision, int Events) : IFabricMessage;

/// <summary>Asks for the accepted events from <paramref name="Offset"/> (at most <see cref="BulkTransfer.PartItems"/>); answered with <see cref="BulkResultPart"/>.</summary>
public sealed record FetchBulkResult(Guid Transfer, int Offset) : IFabricMessage;

/// <summary>Events of an accepted bulk command; null <paramref name="Events"/>: the answer is gone (expired, or the configuration restarted).</summary>
public sealed record BulkResultPart(Guid Transfer, int Offset, IReadOnlyList<ConfigurationEvent>? Events) : IFabricMessage;

/// <summary>A bulk command's parts were lost before the commit (the configuration moved or restarted): nothing was written; send it again.</summary>
public sealed record BulkInterrupted(string Detail) : IFabricMessage;
