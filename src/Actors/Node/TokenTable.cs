using System.Collections.Frozen;
using Fabric.Actors.Intent;

namespace Fabric.Actors.Node;

/// <summary>
/// This node's view of the cluster's tokens, for the management endpoint to check every request against: an immutable
/// <see cref="Snapshot"/> swapped in whole (one volatile write) when the replica's tokens change, so a request costs
/// one volatile read and one dictionary lookup by digest, with no lock. Written by <see cref="TokenTableActor"/>.
/// </summary>
public sealed class TokenTable
{
    /// <summary>
    /// The tokens by digest (lowercase hex SHA-256). <see cref="Loaded"/>: the replica has had a whole snapshot of the
    /// configuration (before that only the node's configured token can be checked).
    /// </summary>
    public sealed record Snapshot(bool Loaded, long Revision, FrozenDictionary<string, AccessToken> Valid,
        FrozenDictionary<string, AccessToken> Revoked, bool BootstrapRevoked)
    {
        public static readonly Snapshot Empty = new(false, -1, FrozenDictionary<string, AccessToken>.Empty, FrozenDictionary<string, AccessToken>.Empty, false);

        private readonly FrozenDictionary<string, AccessToken>.AlternateLookup<ReadOnlySpan<char>> _valid = Valid.GetAlternateLookup<ReadOnlySpan<char>>();
        private readonly FrozenDictionary<string, AccessToken>.AlternateLookup<ReadOnlySpan<char>> _revoked = Revoked.GetAlternateLookup<ReadOnlySpan<char>>();

        /// <summary>A valid token by the hex digest of its secret, without allocating a string.</summary>
        public AccessToken? FindValid(ReadOnlySpan<char> digest) => _valid.TryGetValue(digest, out var t) ? t : null;

        public AccessToken? FindRevoked(ReadOnlySpan<char> digest) => _revoked.TryGetValue(digest, out var t) ? t : null;
    }

    private volatile Snapshot _current = Snapshot.Empty;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Snapshot Current => _current;

    /// <summary>Builds the table from a state (the replica's) and swaps it in. O(tokens, valid and revoked): on a token change only.</summary>
    public void Publish(FabricConfiguration state, long revision)
    {
        _current = new Snapshot(true, revision,
            state.Tokens.Values.ToFrozenDictionary(t => t.Digest, StringComparer.Ordinal),
            state.RevokedTokens.ToFrozenDictionary(StringComparer.Ordinal),
            state.BootstrapRevoked);
        Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    /// <summary>
    /// Waits until <paramref name="condition"/> holds for the current table, at most <paramref name="timeout"/>: a node
    /// that took a token write answers only once it checks requests with it (read your own writes). False on timeout.
    /// </summary>
    public async Task<bool> WaitUntilAsync(Func<Snapshot, bool> condition, TimeSpan timeout, CancellationToken ct = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var changed = Volatile.Read(ref _changed).Task;
            if (condition(_current)) return true;
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero) return false;
            try { await changed.WaitAsync(left, ct); }
            catch (TimeoutException) { return condition(_current); }
        }
    }
}
