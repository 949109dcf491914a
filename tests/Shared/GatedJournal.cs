using System.Collections.Concurrent;
using System.Collections.Immutable;
using Akka.Persistence;
using Akka.Persistence.Journal;

namespace Fabric.Tests.Shared;

/// <summary>
/// An in-memory journal whose writes a test controls: held until the gate opens, or failed. One gate
/// per ActorSystem (by name), so tests running in parallel do not share one.
/// </summary>
public sealed class GatedJournal : MemoryJournal
{
    public sealed class Gate
    {
        private volatile TaskCompletionSource _open = NewOpen(opened: true);
        public volatile bool FailWrites;
        /// <summary>Recovery fails too: the store is down, not just refusing one write.</summary>
        public volatile bool FailReads;
        public int WritesCompleted;

        public void Close() => _open = NewOpen(opened: false);
        public void Open() => _open.TrySetResult();
        internal Task WhenOpen => _open.Task;

        private static TaskCompletionSource NewOpen(bool opened)
        {
            var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (opened) tcs.SetResult();
            return tcs;
        }
    }

    private static readonly ConcurrentDictionary<string, Gate> Gates = new();

    public static Gate For(string systemName) => Gates.GetOrAdd(systemName, _ => new Gate());

    public override Task<long> ReadHighestSequenceNrAsync(string persistenceId, long fromSequenceNr, CancellationToken cancellationToken)
        => For(Context.System.Name).FailReads
            ? Task.FromException<long>(new IOException("injected journal failure (reads)"))
            : base.ReadHighestSequenceNrAsync(persistenceId, fromSequenceNr, cancellationToken);

    protected override async Task<IImmutableList<Exception>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken)
    {
        var gate = For(Context.System.Name);
        var batch = messages.ToList();
        await gate.WhenOpen.ConfigureAwait(false);
        if (gate.FailWrites) throw new IOException("injected journal failure");
        var result = await base.WriteMessagesAsync(batch, cancellationToken).ConfigureAwait(false);
        Interlocked.Increment(ref gate.WritesCompleted);
        return result;
    }
}
