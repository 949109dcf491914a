using Fabric.Dataplane.Tables;

namespace Fabric.Dataplane.Pipeline;

public enum TxKind : byte { LocalPort, Underlay }

/// <summary>
/// One transmission the pipeline decided: a view into a slot of the batch (the frame for a local port; VXLAN header
/// plus frame for the underlay) and where it goes. Several entries may share one slot: that is head-end replication.
/// </summary>
public readonly record struct TxEntry(TxKind Kind, int PortId, VtepEndpoint Destination, int Slot, int Offset, int Length);

/// <summary>The transmit list of one batch, fixed capacity, reused batch after batch.</summary>
public sealed class TxBatch
{
    private readonly TxEntry[] _entries;
    public TxBatch(int capacity = 4096) => _entries = new TxEntry[capacity];
    public int Count { get; private set; }
    public int Capacity => _entries.Length;
    public ref readonly TxEntry this[int i] => ref _entries[i];
    public ReadOnlySpan<TxEntry> Entries => _entries.AsSpan(0, Count);

    public bool TryAdd(in TxEntry entry)
    {
        if (Count == _entries.Length) return false;
        _entries[Count++] = entry;
        return true;
    }

    public void Clear() => Count = 0;
}
