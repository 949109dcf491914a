using System.Globalization;
using System.Text;

namespace Fabric.Tests.Shared;

/// <summary>
/// docs/reliability.md is written by the suite itself: every fault or bad-input case that runs replaces its own
/// row of the matrix with what it measured (time to detect, time to recover, packets lost, writes lost). A
/// case that did not run keeps the row of its last run, with that run's date. Linked into each test project
/// that contributes rows.
/// </summary>
public static class ReliabilityLog
{
    private const string Begin = "<!-- rows: written by the test suite, one per case -->";
    private const string End = "<!-- end of rows -->";
    private static readonly object Gate = new();

    /// <summary>One row. Durations and counts are text so a case can say "n/a" or "≤ 1 s" where that is the truth.</summary>
    public sealed record Row(string Id, string Case, string Outcome, string Detect, string Recover, string PacketsLost, string WritesLost, string Test);

    public static void Record(Row row)
    {
        lock (Gate)
        {
            var path = Path.Combine(FabricBinary.RepositoryRoot(), "docs", "reliability.md");
            var lines = File.Exists(path) ? File.ReadAllLines(path).ToList() : Skeleton();
            var begin = lines.IndexOf(Begin);
            var end = lines.IndexOf(End);
            if (begin < 0 || end < begin) { lines = Skeleton(); begin = lines.IndexOf(Begin); end = lines.IndexOf(End); }
            var rows = lines.Skip(begin + 1).Take(end - begin - 1).Where(l => l.StartsWith('|')).ToList();
            var header = rows.Take(2).ToList();
            var body = rows.Skip(2).Where(l => !l.StartsWith($"| {row.Id} |", StringComparison.Ordinal)).ToList();
            var date = DateTime.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
            body.Add("| " + string.Join(" | ", new[] { row.Id, row.Case, row.Outcome, row.Detect, row.Recover, row.PacketsLost, row.WritesLost, $"`{row.Test}`", date }
                .Select(Escape)) + " |");
            body.Sort(CompareIds);
            var result = lines.Take(begin + 1).Concat(header).Concat(body).Concat(lines.Skip(end)).ToList();
            File.WriteAllText(path, string.Join('\n', result) + "\n", new UTF8Encoding(false));
        }
    }

    /// <summary>Seconds with one decimal, e.g. "6.8 s".</summary>
    public static string Seconds(TimeSpan t) => string.Create(CultureInfo.InvariantCulture, $"{t.TotalSeconds:0.0} s");

    private static int CompareIds(string a, string b)
    {
        static (string Letter, int Number) Key(string row)
        {
            var id = row.Split('|', StringSplitOptions.TrimEntries)[1];
            var digits = new string(id.SkipWhile(c => !char.IsDigit(c)).TakeWhile(char.IsDigit).ToArray());
            return (new string(id.TakeWhile(char.IsLetter).ToArray()), int.TryParse(digits, CultureInfo.InvariantCulture, out var n) ? n : 0);
        }
        var (la, na) = Key(a);
        var (lb, nb) = Key(b);
        var c = string.CompareOrdinal(la, lb);
        return c != 0 ? c : na.CompareTo(nb);
    }

    private static string Escape(string cell) => cell.Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);

    private static List<string> Skeleton() =>
    [
        "# Reliability matrix",
        "",
        "Every row is written by the test that ran the case (F: faults, tests/Fabric.Chaos.Tests, process-level clusters",
        "from `fabric up --netns`; B: bad input; M: live moves). A run of `bash scripts/test.sh` as root rewrites the rows of the cases",
        "it ran; the date column says when a row was last measured. Times are wall-clock on the 2-core CI machine.",
        "",
        Begin,
        "| id | case | outcome | time to detect | time to recover | packets lost | writes lost | test | measured |",
        "|---|---|---|---|---|---|---|---|---|",
        End,
        "",
    ];
}
