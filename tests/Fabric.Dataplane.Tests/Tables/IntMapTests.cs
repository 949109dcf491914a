using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Fabric.Dataplane.Tables;

namespace Fabric.Dataplane.Tests.Tables;

public class IntMapTests
{
    private sealed record Box(int Value);

    /// <summary>
    /// Random sets and removes, some through a builder in bursts and some one at a time, over keys from a small
    /// cluster (shared paths) and from anywhere (the trie grows upwards): the map always equals a Dictionary given the
    /// same operations, enumerates in key order, and every map handed out earlier is unchanged by what came after.
    /// </summary>
    [Property(MaxTest = 300)]
    public bool Behaves_as_a_dictionary_and_never_changes_once_built(int[] ops, bool[] burst)
    {
        var expected = new Dictionary<int, Box>();
        var map = IntMap<Box>.Empty;
        var history = new List<(IntMap<Box> Map, Dictionary<int, Box> Expected)>();
        IntMap<Box>.Builder? b = null;
        for (int i = 0; i < ops.Length; i++)
        {
            var op = ops[i];
            var key = (op & 1) == 0 ? (op >> 2 & 0x7F) : op >> 2 & 0x3FFFFFFF;
            var remove = (op & 2) != 0;
            if (i < burst.Length && burst[i])
            {
                b ??= map.ToBuilder();
                if (remove) b.Remove(key); else b[key] = new Box(op);
            }
            else
            {
                if (b is not null) { map = b.ToImmutable(); b = null; }
                map = remove ? map.Remove(key) : map.SetItem(key, new Box(op));
            }
            if (remove) expected.Remove(key); else expected[key] = new Box(op);
            if (b is null) history.Add((map, new Dictionary<int, Box>(expected)));
        }
        if (b is not null) { map = b.ToImmutable(); history.Add((map, new Dictionary<int, Box>(expected))); }
        foreach (var (m, e) in history)
        {
            if (m.Count != e.Count) return false;
            foreach (var (k, v) in e)
                if (!m.TryGetValue(k, out var got) || got != v) return false;
            if (!m.Keys.SequenceEqual(e.Keys.Order())) return false;
            if (m.ContainsKey(-1) || m.Find(int.MaxValue) is not null && !e.ContainsKey(int.MaxValue)) return false;
        }
        return true;
    }

    [Fact]
    public void A_change_copies_only_the_path_to_its_key()
    {
        var b = IntMap<Box>.Empty.ToBuilder();
        for (int k = 0; k < 30_000; k++) b[k] = new Box(k);
        var big = b.ToImmutable();
        var before = GC.GetAllocatedBytesForCurrentThread();
        var changed = big.SetItem(12_345, new Box(-1));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // Three levels of 33 slots (~290 bytes each) plus the map and the builder: O(depth), not O(30,000).
        Assert.True(allocated < 2_000, $"one change allocated {allocated} bytes");
        Assert.Equal(12_345, big[12_345].Value);
        Assert.Equal(-1, changed[12_345].Value);
        Assert.Same(big[7], changed[7]);
    }

    [Fact]
    public void Lookups_allocate_nothing()
    {
        var map = IntMap<Box>.Create(Enumerable.Range(0, 1000).Select(k => KeyValuePair.Create(k * 37, new Box(k))));
        var before = GC.GetAllocatedBytesForCurrentThread();
        var found = 0;
        for (int k = 0; k < 100_000; k++) if (map.TryGetValue(k, out _)) found++;
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(Enumerable.Range(0, 100_000).Count(k => k % 37 == 0 && k / 37 < 1000), found);
    }
}
