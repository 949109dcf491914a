using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.RegularExpressions;
using Xunit.Sdk;

[assembly: Fabric.Tests.Shared.ReliabilityLog.WatchAttribute]

namespace Fabric.Tests.Shared;

/// <summary>
/// docs/reliability.md is written by the suite itself: every fault or bad-input case that runs replaces its own
/// row of the matrix with what it measured (time to detect, time to recover, packets lost, writes lost). Linked into
/// each test project that contributes rows.
/// </summary>
/// <remarks>
/// <para>A row never keeps figures the last run did not confirm. A row is found by the test method(s) its test
/// column names; what a run does to it:</para>
/// <list type="bullet">
/// <item>the case passed: <see cref="Record"/> rewrites the row with this run's figures;</item>
/// <item>the case started (<see cref="WatchAttribute"/>, before every test) but never recorded, because it failed
/// or was killed: the row says so and its figures are withdrawn;</item>
/// <item>the case was skipped (not root, a tool missing): the row says "not run in the last run" with the reason
/// and its figures are withdrawn; the date they were last measured stays in the outcome.</item>
/// </list>
/// <para>The measured column is the run's date: <c>FABRIC_RUN_DATE</c> when set (scripts/test.sh sets it once, so
/// every row one CI run writes carries the same date), else today (UTC).</para>
/// </remarks>
public static partial class ReliabilityLog
{
    public const string Begin = "<!-- rows: written by the test suite, one per case -->";
    public const string End = "<!-- end of rows -->";
    public const string RunDateVariable = "FABRIC_RUN_DATE";
    public const string NotRun = "not run in the last run";
    public const string Unfinished = "FAILED or did not finish in the last run";
    private const string Withdrawn = "—";
    private static readonly object Gate = new();

    /// <summary>One row. Durations and counts are text so a case can say "n/a" or "≤ 1 s" where that is the truth.</summary>
    public sealed record Row(string Id, string Case, string Outcome, string Detect, string Recover, string PacketsLost, string WritesLost, string Test);

    /// <summary>The matrix this suite writes.</summary>
    public static string MatrixPath => Path.Combine(FabricBinary.RepositoryRoot(), "docs", "reliability.md");

    /// <summary>The date every row written by this run carries.</summary>
    public static string RunDate => RunDateFrom(Environment.GetEnvironmentVariable, DateTime.UtcNow);

    public static string RunDateFrom(Func<string, string?> environment, DateTime utcNow)
        => environment(RunDateVariable) is { Length: > 0 } d && !string.IsNullOrWhiteSpace(d) ? d.Trim() : utcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    /// <summary>The case passed: its row becomes what it measured.</summary>
    public static void Record(Row row) => Update(MatrixPath, lines => WithRow(lines, row, RunDate));

    /// <summary>Seconds with one decimal, e.g. "6.8 s".</summary>
    public static string Seconds(TimeSpan t) => string.Create(CultureInfo.InvariantCulture, $"{t.TotalSeconds:0.0} s");

    /// <summary>Reads the file at <paramref name="path"/> (or a skeleton), applies <paramref name="change"/>, writes it back whole.</summary>
    /// <remarks>Serialised in this process and, through a lock file, with other test processes writing the same file.</remarks>
    public static void Update(string path, Func<IReadOnlyList<string>, IReadOnlyList<string>> change)
    {
        lock (Gate)
        {
            using var _ = CrossProcessLock(path);
            var lines = File.Exists(path) ? File.ReadAllLines(path) : [];
            var result = change(lines);
            if (File.Exists(path) && result.SequenceEqual(lines)) return;
            File.WriteAllText(path, string.Join('\n', result) + "\n", new UTF8Encoding(false));
        }
    }

    /// <summary>The file with <paramref name="row"/> in place of the row of the same id (or added), sorted by id.</summary>
    public static IReadOnlyList<string> WithRow(IReadOnlyList<string> file, Row row, string date)
        => Rewrite(file, body =>
        {
            body.RemoveAll(cells => cells[0] == row.Id);
            body.Add([row.Id, row.Case, row.Outcome, row.Detect, row.Recover, row.PacketsLost, row.WritesLost, $"`{row.Test}`", date]);
        });

    /// <summary>The rows of <paramref name="test"/> marked skipped in the run of <paramref name="date"/>, their figures withdrawn.</summary>
    public static IReadOnlyList<string> MarkNotRun(IReadOnlyList<string> file, string test, string reason, string date)
        => Mark(file, test, date, last => $"{NotRun} ({date}): {reason.ReplaceLineEndings(" ").Trim()}; {last}");

    /// <summary>The rows of <paramref name="test"/> marked started-and-not-recorded, their figures withdrawn.</summary>
    public static IReadOnlyList<string> MarkUnfinished(IReadOnlyList<string> file, string test, string date)
        => Mark(file, test, date, last => $"{Unfinished} ({date}): it started and recorded nothing, so it failed or was stopped; {last}");

    /// <summary>The ids of the rows whose test column names <paramref name="test"/>.</summary>
    public static IReadOnlyList<string> RowsOf(IReadOnlyList<string> file, string test)
        => Body(file) is { } b ? b.Rows.Where(cells => Names(cells[7]).Contains(test)).Select(cells => cells[0]).ToArray() : [];

    private static IReadOnlyList<string> Mark(IReadOnlyList<string> file, string test, string date, Func<string, string> outcome)
        => Rewrite(file, body =>
        {
            for (var i = 0; i < body.Count; i++)
            {
                var cells = body[i];
                if (!Names(cells[7]).Contains(test)) continue;
                // Keep when the figures were last confirmed: a row already marked carries it in its outcome.
                var last = LastMeasured().Match(cells[2]) is { Success: true } m ? m.Value
                    : cells[2].StartsWith(NotRun, StringComparison.Ordinal) || cells[2].StartsWith(Unfinished, StringComparison.Ordinal) ? "never measured"
                    : $"last measured {cells[8]}";
                body[i] = [cells[0], cells[1], outcome(last), Withdrawn, Withdrawn, Withdrawn, Withdrawn, cells[7], date];
            }
        });

    /// <summary>Test method names in a test cell: "`A, B`" → A, B.</summary>
    private static HashSet<string> Names(string cell)
        => cell.Trim('`', ' ').Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);

    private static IReadOnlyList<string> Rewrite(IReadOnlyList<string> file, Action<List<string[]>> change)
    {
        var (lines, begin, end, header, rows) = Body(file) ?? Body(Skeleton())!.Value;
        var body = rows.ToList();
        change(body);
        body.Sort(CompareIds);
        return lines.Take(begin + 1).Concat(header).Concat(body.Select(Format)).Concat(lines.Skip(end)).ToList();
    }

    /// <summary>The file split around its rows; null when it has no well-formed rows section.</summary>
    private static (IReadOnlyList<string> Lines, int Begin, int End, IReadOnlyList<string> Header, IReadOnlyList<string[]> Rows)? Body(IReadOnlyList<string> lines)
    {
        var list = lines.ToList();
        var begin = list.IndexOf(Begin);
        var end = list.IndexOf(End);
        if (begin < 0 || end < begin) return null;
        var table = list.Skip(begin + 1).Take(end - begin - 1).Where(l => l.StartsWith('|')).ToList();
        if (table.Count < 2) return null;
        var rows = table.Skip(2).Select(Cells).Where(c => c.Length == 9).ToList();
        return (list, begin, end, table.Take(2).ToList(), rows);
    }

    /// <summary>A row's cells, unescaped (a cell may hold "\|").</summary>
    private static string[] Cells(string line)
        => CellSplit().Split(line.Trim().Trim('|')).Select(c => c.Trim().Replace("\\|", "|", StringComparison.Ordinal)).ToArray();

    private static string Format(string[] cells) => "| " + string.Join(" | ", cells.Select(Escape)) + " |";

    private static int CompareIds(string[] a, string[] b)
    {
        static (string Letter, int Number) Key(string id)
        {
            var digits = new string(id.SkipWhile(c => !char.IsDigit(c)).TakeWhile(char.IsDigit).ToArray());
            return (new string(id.TakeWhile(char.IsLetter).ToArray()), int.TryParse(digits, CultureInfo.InvariantCulture, out var n) ? n : 0);
        }
        var (la, na) = Key(a[0]);
        var (lb, nb) = Key(b[0]);
        var c = string.CompareOrdinal(la, lb);
        return c != 0 ? c : na.CompareTo(nb);
    }

    private static string Escape(string cell) => cell.Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);

    private static IDisposable CrossProcessLock(string path)
    {
        var name = Path.Combine(Path.GetTempPath(), $"fabric-reliability-{(uint)StringComparer.Ordinal.GetHashCode(Path.GetFullPath(path)):x8}.lock");
        for (var attempt = 0; ; attempt++)
        {
            // Not deleted on close: a process that opened the old file before the unlink would hold a lock nobody else sees.
            try { return new FileStream(name, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1); }
            catch (IOException) when (attempt < 200) { Thread.Sleep(50); }
        }
    }

    public static IReadOnlyList<string> Skeleton() =>
    [
        "# Reliability matrix",
        "",
        "Every row is written by the test that ran the case (F: faults, tests/Fabric.Chaos.Tests, process-level clusters",
        "from `fabric up --netns`; B: bad input; M: live moves). A run of `bash scripts/test.sh` as root rewrites the rows of the cases",
        "it ran; the measured column is the run's date. A case that failed, or was skipped (not root, a tool missing), has its",
        "figures withdrawn and says so in the outcome, with the date they were last measured. Times are wall-clock on the 2-core CI machine.",
        "",
        Begin,
        "| id | case | outcome | time to detect | time to recover | packets lost | writes lost | test | measured |",
        "|---|---|---|---|---|---|---|---|---|",
        End,
        "",
    ];

    [GeneratedRegex(@"(?<!\\)\|")]
    private static partial Regex CellSplit();

    [GeneratedRegex(@"(last measured \S+?|never measured)(?=\)?$)")]
    private static partial Regex LastMeasured();

    /// <summary>
    /// Before every test of the assembly: the rows of the case are marked unfinished (its <see cref="Record"/> on
    /// success replaces that). Once per test process, before the first test: the rows of every test in the assembly
    /// that this machine skips are marked not run, with the skip's reason.
    /// </summary>
    [AttributeUsage(AttributeTargets.Assembly)]
    public sealed class WatchAttribute : BeforeAfterTestAttribute
    {
        private static int _scanned;
        private static int _calls;

        /// <summary>How many tests this hook has seen start in this process (a test of the hook reads it).</summary>
        public static int Calls => Volatile.Read(ref _calls);

        public override void Before(MethodInfo methodUnderTest)
        {
            Interlocked.Increment(ref _calls);
            if (Interlocked.Exchange(ref _scanned, 1) == 0) MarkSkipped(MatrixPath, methodUnderTest.DeclaringType!.Assembly.GetTypes(), RunDate);
            var path = MatrixPath;
            if (!File.Exists(path)) return;
            Update(path, lines => RowsOf(lines, methodUnderTest.Name).Count == 0 ? lines : MarkUnfinished(lines, methodUnderTest.Name, RunDate));
        }

        /// <summary>Marks the rows of every test method of <paramref name="types"/> whose fact says Skip here.</summary>
        public static void MarkSkipped(string path, IEnumerable<Type> types, string date)
        {
            if (!File.Exists(path)) return;
            var skipped = types
                .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly))
                .Select(m => (m.Name, Skip: m.GetCustomAttributes<FactAttribute>(inherit: true).Select(f => f.Skip).FirstOrDefault(s => !string.IsNullOrEmpty(s))))
                .Where(m => m.Skip is not null).ToArray();
            if (skipped.Length == 0) return;
            Update(path, lines =>
            {
                foreach (var (name, skip) in skipped)
                    if (RowsOf(lines, name).Count > 0) lines = MarkNotRun(lines, name, $"skipped: {skip}", date);
                return lines;
            });
        }
    }
}
