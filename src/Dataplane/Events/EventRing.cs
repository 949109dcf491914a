namespace Fabric.Dataplane.Events;

/// <summary>
/// Bounded single-producer single-consumer queue from the dataplane thread to the actor side. The producer never
/// blocks: when the ring is full the event is lost and counted (learned state is soft; the next frame reports again).
/// </summary>
public sealed class EventRing
{
    private readonly DataplaneEvent[] _items;
    private readonly int _mask;
    private long _head; // next slot the consumer reads
    private long _tail; // next slot the producer writes
    private long _lost;

    public EventRing(int capacityPowerOfTwo = 4096)
    {
        if (capacityPowerOfTwo < 2 || (capacityPowerOfTwo & (capacityPowerOfTwo - 1)) != 0)
            throw new ArgumentException("capacity must be a power of two", nameof(capacityPowerOfTwo));
        _items = new DataplaneEvent[capacityPowerOfTwo];
        _mask = capacityPowerOfTwo - 1;
    }

    public int Capacity => _items.Length;
    public long Lost => Volatile.Read(ref _lost);
    public int Count => (int)(Volatile.Read(ref _tail) - Volatile.Read(ref _head));

    /// <summary>Producer side (dataplane thread only).</summary>
    public bool TryWrite(in DataplaneEvent e)
    {
        var tail = _tail;
        if (tail - Volatile.Read(ref _head) >= _items.Length)
        {
            _lost++;
            return false;
        }
        _items[tail & _mask] = e;
        Volatile.Write(ref _tail, tail + 1); // publish after the slot is written
        return true;
    }

    /// <summary>Consumer side (one reader at a time).</summary>
    public bool TryRead(out DataplaneEvent e)
    {
        var head = _head;
        if (head >= Volatile.Read(ref _tail))
        {
            e = default;
            return false;
        }
        e = _items[head & _mask];
        Volatile.Write(ref _head, head + 1);
        return true;
    }
}
