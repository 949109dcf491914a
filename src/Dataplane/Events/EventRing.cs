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
    // The consumer's wake-up: called by the producer on the first write after Arm (issue 10: the actors no longer poll an
    // idle ring on a timer). _armed is 1 between Arm and that write.
    private Action? _wake;
    private int _armed;

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
        // Full fence: the tail must be visible before _armed is read, or a consumer arming at this moment could read the
        // old tail while this reads the old _armed, and both would sleep (Arm fences the other way). Events are
        // rate-limited reports, not packets, so the fence is cheap where it is.
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref _armed) != 0 && Interlocked.Exchange(ref _armed, 0) != 0) _wake?.Invoke();
        return true;
    }

    /// <summary>Sets what <see cref="Arm"/> calls back (null: nothing). Called from the producer's thread, so it must be cheap and never block.</summary>
    public void OnWrite(Action? wake) => Volatile.Write(ref _wake, wake);

    /// <summary>
    /// Consumer side, after a read found the ring empty: asks for one call of the <see cref="OnWrite"/> callback at the
    /// next write. False when an event arrived meanwhile (read again; no call will come for it); true when the call
    /// will come (it may already be on its way).
    /// </summary>
    public bool Arm()
    {
        Interlocked.Exchange(ref _armed, 1);
        // Disarm only if the producer has not taken the flag: if it has, its call is coming and must be waited for.
        return Count == 0 || Interlocked.Exchange(ref _armed, 0) == 0;
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
