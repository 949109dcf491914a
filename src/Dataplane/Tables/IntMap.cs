using System.Collections;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Fabric.Dataplane.Tables;

/// <summary>
/// A persistent map from non-negative int keys (VNIs, port ids) to objects: a 32-way radix trie whose depth follows
/// the largest key (one level per 5 bits: ids below 32,768 take three). Readers need no lock: a map never changes
/// once built. A change copies only the path to its key (depth × 280 bytes) and shares everything else with the map
/// it came from, so setting k keys costs O(k × depth), not O(size). A lookup is depth dependent array reads, no hashing.
/// Enumeration is in key order. Build changes with a <see cref="Builder"/>: nodes it made itself are changed in place,
/// so a burst of changes to neighbouring keys copies each path once.
/// </summary>
public sealed class IntMap<T> : IReadOnlyDictionary<int, T> where T : class
{
    private const int Bits = 5;
    private const int Width = 1 << Bits;
    private const int Mask = Width - 1;

    public static readonly IntMap<T> Empty = new(null, 0, 0);

    // A node is a bare array, so a level costs one dependent read: Width slots (child nodes, or values at the last
    // level), then the builder that made it and may still change it in place.
    private const int EditSlot = Width;

    private static object?[] NewNode(object edit)
    {
        var n = new object?[Width + 1];
        n[EditSlot] = edit;
        return n;
    }

    private readonly object?[]? _root;
    // The root's slots are indexed by key >> _shift; keys must be below 1 << (_shift + Bits).
    private readonly int _shift;

    private IntMap(object?[]? root, int shift, int count)
    {
        _root = root; _shift = shift; Count = count;
    }

    public int Count { get; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryGetValue(int key, [MaybeNullWhen(false)] out T value)
    {
        value = Lookup(_root, _shift, key);
        return value is not null;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T? Lookup(object?[]? node, int shift, int key)
    {
        if (node is null || (uint)key >> shift >= Width) return null;
        for (; shift > 0; shift -= Bits)
        {
            node = Unsafe.As<object?[]?>(Slot(node, (key >> shift) & Mask));
            if (node is null) return null;
        }
        return Unsafe.As<T?>(Slot(node, key & Mask));
    }

    // Every node has exactly Width slots and the index is masked below Width: no bounds check needed per level.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static object? Slot(object?[] node, int index)
        => Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(node), index);

    /// <summary>The value at <paramref name="key"/>, or null.</summary>
    public T? Find(int key) => TryGetValue(key, out var v) ? v : null;

    public T this[int key] => TryGetValue(key, out var v) ? v : throw new KeyNotFoundException($"no entry {key}");
    public bool ContainsKey(int key) => TryGetValue(key, out _);
    public IEnumerable<int> Keys { get { foreach (var (k, _) in this) yield return k; } }
    public IEnumerable<T> Values { get { foreach (var (_, v) in this) yield return v; } }

    public IntMap<T> SetItem(int key, T value)
    {
        var b = ToBuilder();
        b[key] = value;
        return b.ToImmutable();
    }

    public IntMap<T> Remove(int key)
    {
        var b = ToBuilder();
        b.Remove(key);
        return b.ToImmutable();
    }

    public Builder ToBuilder() => new(this);

    public static IntMap<T> Create(IEnumerable<KeyValuePair<int, T>> items)
    {
        var b = Empty.ToBuilder();
        foreach (var (k, v) in items) b[k] = v;
        return b.ToImmutable();
    }

    public IEnumerator<KeyValuePair<int, T>> GetEnumerator()
    {
        if (_root is null) yield break;
        // Depth-first over the trie; an explicit stack, since nested iterators would cost a frame per level per item.
        var stack = new Stack<(object?[] Node, int Shift, int Base, int Next)>();
        stack.Push((_root, _shift, 0, 0));
        while (stack.Count > 0)
        {
            var (node, shift, @base, next) = stack.Pop();
            for (int i = next; i < Width; i++)
            {
                var slot = node[i];
                if (slot is null) continue;
                var key = @base | (i << shift);
                if (shift == 0) { yield return KeyValuePair.Create(key, Unsafe.As<T>(slot)); continue; }
                stack.Push((node, shift, @base, i + 1));
                stack.Push((Unsafe.As<object?[]>(slot), shift - Bits, key, 0));
                break;
            }
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Changes a map in place of copying it per change; <see cref="ToImmutable"/> hands out the result.</summary>
    public sealed class Builder
    {
        private object _edit = new();
        private object?[]? _root;
        private int _shift;

        internal Builder(IntMap<T> from)
        {
            _root = from._root; _shift = from._shift; Count = from.Count;
        }

        public int Count { get; private set; }

        public T? Find(int key) => Lookup(_root, _shift, key);

        public T this[int key]
        {
            set
            {
                ArgumentOutOfRangeException.ThrowIfNegative(key);
                ArgumentNullException.ThrowIfNull(value);
                // Grow upwards until the key fits under the root.
                if (_root is null) { _root = NewNode(_edit); _shift = 0; }
                while ((uint)key >> _shift >= Width)
                {
                    var up = NewNode(_edit);
                    up[0] = _root;
                    _root = up;
                    _shift += Bits;
                }
                _root = Editable(_root);
                var node = _root;
                for (var s = _shift; s > 0; s -= Bits)
                {
                    var i = (key >> s) & Mask;
                    var child = node[i] is object?[] c ? Editable(c) : NewNode(_edit);
                    node[i] = child;
                    node = child;
                }
                if (node[key & Mask] is null) Count++;
                node[key & Mask] = value;
            }
        }

        public bool Remove(int key)
        {
            if (Lookup(_root, _shift, key) is null) return false;
            _root = RemoveFrom(_root!, _shift, key);
            Count--;
            return true;
        }

        // Copies the path (unless this builder owns it), clears the key, and drops nodes left empty.
        private object?[]? RemoveFrom(object?[] node, int shift, int key)
        {
            node = Editable(node);
            var i = (key >> shift) & Mask;
            node[i] = shift == 0 ? null : RemoveFrom(Unsafe.As<object?[]>(node[i]!), shift - Bits, key);
            for (int k = 0; k < Width; k++) if (node[k] is not null) return node;
            return null;
        }

        private object?[] Editable(object?[] node)
        {
            if (ReferenceEquals(node[EditSlot], _edit)) return node;
            var copy = NewNode(_edit);
            Array.Copy(node, copy, Width);
            return copy;
        }

        /// <summary>The map as it is now. Later changes through this builder copy again, so the map never changes.</summary>
        public IntMap<T> ToImmutable()
        {
            _edit = new object();
            return new IntMap<T>(_root, _shift, Count);
        }
    }
}
