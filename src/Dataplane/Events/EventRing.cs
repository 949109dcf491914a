namespace Fabric.Dataplane.Events;

/// <summary>
/// Bounded single-producer single-consumer queue from the dataplane thread to the actor side. The producer never
/// blocks: when the ring is full the event is lost and counted (learned state is soft; the next frame reports again).
/// With several dataplane threads each writes a lane of its own (<see cref="AddLanes"/>): still one producer per ring,
/// and the one consumer reads them all through this ring (<see cref="TryRead"/>, <see cref="Count"/>, <see cref="Arm"/>).
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
    // Lanes 1.. of a multi-threaded dataplane (lane 0 is this ring); the root whose arming and wake-up they share.
    private EventRing[] _lanes = [];
    private EventRing _root;
    private int _next;

    public EventRing(int capacityPowerOfTwo = 4096)
    {
        if (capacityPowerOfTwo < 2 || (capacityPowerOfTwo & (capacityPowerOfTwo - 1)) != 0)
            throw new ArgumentException("capacity must be a power of two", nameof(capacityPowerOfTwo));
        _items = new DataplaneEvent[capacityPowerOfTwo];
        _mask = capacityPowerOfTwo - 1;
        _root = this;
    }

    /// <summary>
    /// Gives this ring <paramref name="count"/> more lanes, one per further dataplane thread, before any of them writes.
    /// Returns every lane, this ring first.
    /// </summary>
    public EventRing[] AddLanes(int count)
    {
        var lanes = new EventRing[count];
        for (int i = 0; i < count; i++) lanes[i] = new EventRing(_items.Length) { _root = this };
        _lanes = lanes;
        return [this, .. lanes];
    }

    public int Capacity => _items.Length;
    public long Lost
    {
        get
        {
            var lost = Volatile.Read(ref _lost);
            foreach (var l in _lanes) lost += l.Lost;
            return lost;
        }
    }

    public int Count
    {
        get
        {
            var n = OwnCount;
            foreach (var l in _lanes) n += l.OwnCount;
            return n;
        }
    }

    private int OwnCount => (int)(Volatile.Read(ref _tail) - Volatile.Read(ref _head));

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
        var root = _root;
        if (Volatile.Read(ref root._armed) != 0 && Interlocked.Exchange(ref root._armed, 0) != 0) root._wake?.Invoke();
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

    /// <summary>Consumer side (one reader at a time): the next event of any lane, taking the lanes in turn.</summary>
    public bool TryRead(out DataplaneEvent e)
    {
        var lanes = _lanes;
        if (lanes.Length == 0) return TryReadOwn(out e);
        for (int k = 0; k <= lanes.Length; k++)
        {
            var i = _next;
            _next = i == lanes.Length ? 0 : i + 1;
            if ((i == 0 ? this : lanes[i - 1]).TryReadOwn(out e)) return true;
        }
        e = default;
        return false;
    }

    private bool TryReadOwn(out DataplaneEvent e)
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
