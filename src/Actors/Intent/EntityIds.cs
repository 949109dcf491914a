namespace Fabric.Actors.Intent;

/// <summary>
/// Ids are short, stable strings: a kind prefix and a number from a counter in the configuration
/// (<c>net-1</c>, <c>sub-3</c>, <c>ep-12</c>). Numbers are never reused, so replaying the journal hands out
/// exactly the same ids.
/// </summary>
public static class EntityIds
{
    public const string NetworkPrefix = "net-";
    public const string SubnetPrefix = "sub-";
    public const string EndpointPrefix = "ep-";

    public static string Network(long n) => NetworkPrefix + n.ToString(System.Globalization.CultureInfo.InvariantCulture);
    public static string Subnet(long n) => SubnetPrefix + n.ToString(System.Globalization.CultureInfo.InvariantCulture);
    public static string Endpoint(long n) => EndpointPrefix + n.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Orders ids by prefix, then numerically (net-2 before net-10); anything else ordinally.</summary>
    public static readonly IComparer<string> Order = Comparer<string>.Create(Compare);

    private static int Compare(string? a, string? b)
    {
        if (a is null || b is null) return string.CompareOrdinal(a, b);
        var (pa, na) = Split(a);
        var (pb, nb) = Split(b);
        var c = string.CompareOrdinal(pa, pb);
        if (c != 0) return c;
        if (na is { } x && nb is { } y && x != y) return x.CompareTo(y);
        return string.CompareOrdinal(a, b);
    }

    private static (string Prefix, long? Number) Split(string id)
    {
        var dash = id.LastIndexOf('-');
        return dash >= 0 && long.TryParse(id.AsSpan(dash + 1), System.Globalization.NumberStyles.None, null, out var n)
            ? (id[..(dash + 1)], n)
            : (id, null);
    }
}
