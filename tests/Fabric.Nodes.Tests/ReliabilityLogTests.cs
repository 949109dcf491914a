using Fabric.Tests.Shared;

namespace Fabric.Nodes.Tests;

/// <summary>How the suite rewrites docs/reliability.md: on a temporary copy, never the real file.</summary>
public sealed class ReliabilityLogTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"reliability-{Guid.NewGuid():N}.md");

    public void Dispose() { if (File.Exists(_path)) File.Delete(_path); }

    private static ReliabilityLog.Row Row(string id, string test, string figure = "1.0 s")
        => new(id, $"case {id}", $"outcome {id}", figure, figure, "0 of 10", "0", test);

    private static string[] Cells(IReadOnlyList<string> file, string id)
        => file.Single(l => l.StartsWith($"| {id} |", StringComparison.Ordinal)).Trim('|', ' ').Split(" | ");

    private static IReadOnlyList<string> Matrix(params ReliabilityLog.Row[] rows)
    {
        IReadOnlyList<string> file = ReliabilityLog.Skeleton();
        foreach (var r in rows) file = ReliabilityLog.WithRow(file, r, "2026-11-27");
        return file;
    }

    [Fact]
    public void Recording_replaces_the_row_of_its_id_keeps_the_others_and_sorts_by_letter_then_number()
    {
        var file = Matrix(Row("F10", "T10"), Row("B2", "T2"), Row("F2", "TF2"), Row("B10", "T10b"));
        file = ReliabilityLog.WithRow(file, Row("B2", "T2", "9.9 s") with { Case = "a | b" }, "2026-12-01");

        var ids = file.Where(l => l.StartsWith("| ", StringComparison.Ordinal) && !l.StartsWith("| id ", StringComparison.Ordinal)).Select(l => l.Split(" | ")[0][2..]).ToArray();
        Assert.Equal(["B2", "B10", "F2", "F10"], ids);
        Assert.Contains(@"| B2 | a \| b | outcome B2 | 9.9 s | 9.9 s | 0 of 10 | 0 | `T2` | 2026-12-01 |", file);
        Assert.Equal("2026-11-27", Cells(file, "F10")[8]);
        Assert.Single(file, l => l.StartsWith("| B2 |", StringComparison.Ordinal));
        // The text around the rows is kept.
        Assert.Equal(ReliabilityLog.Skeleton()[0], file[0]);
        Assert.Equal(ReliabilityLog.End, file[^2]);
    }

    [Fact]
    public void A_skipped_case_withdraws_its_figures_says_why_and_when_they_were_last_measured()
    {
        var file = Matrix(Row("F1", "Kill_test"), Row("F2", "Other_test"));
        var once = ReliabilityLog.MarkNotRun(file, "Kill_test", "skipped: needs root", "2026-12-01");
        var f1 = Cells(once, "F1");
        Assert.Equal("not run in the last run (2026-12-01): skipped: needs root; last measured 2026-11-27", f1[2]);
        Assert.Equal(["—", "—", "—", "—"], f1[3..7]);
        Assert.Equal("`Kill_test`", f1[7]);
        Assert.Equal("2026-12-01", f1[8]);
        Assert.Equal(Cells(file, "F2"), Cells(once, "F2"));

        // Skipped again in a later run: still says when the figures were measured, not when it was last skipped.
        var twice = ReliabilityLog.MarkNotRun(once, "Kill_test", "skipped: needs root", "2026-12-05");
        Assert.Equal("not run in the last run (2026-12-05): skipped: needs root; last measured 2026-11-27", Cells(twice, "F1")[2]);

        // Run and passed: the row is the new measurement again.
        var back = ReliabilityLog.WithRow(twice, Row("F1", "Kill_test", "5.0 s"), "2026-12-06");
        Assert.Equal(["F1", "case F1", "outcome F1", "5.0 s", "5.0 s", "0 of 10", "0", "`Kill_test`", "2026-12-06"], Cells(back, "F1"));
    }

    [Fact]
    public void A_case_that_started_and_did_not_record_keeps_no_old_passing_figure()
    {
        var file = Matrix(Row("B7", "Gen_a, Gen_b"), Row("B8", "Other"));
        // Either test of a row that names two marks it.
        var started = ReliabilityLog.MarkUnfinished(file, "Gen_b", "2026-12-01");
        var b7 = Cells(started, "B7");
        Assert.StartsWith("FAILED or did not finish in the last run (2026-12-01)", b7[2]);
        Assert.EndsWith("last measured 2026-11-27", b7[2]);
        Assert.DoesNotContain("1.0 s", string.Join("|", b7));
        Assert.Equal("2026-12-01", b7[8]);
        Assert.Equal(Cells(file, "B8"), Cells(started, "B8"));
        Assert.Equal(["B7"], ReliabilityLog.RowsOf(started, "Gen_a"));
        Assert.Empty(ReliabilityLog.RowsOf(started, "Gen"));

        // Skipped after a failure: the figures were never confirmed since the failure either.
        var skipped = ReliabilityLog.MarkNotRun(started, "Gen_a", "skipped: no tool", "2026-12-02");
        Assert.EndsWith("last measured 2026-11-27", Cells(skipped, "B7")[2]);
    }

    [Fact]
    public void Update_writes_the_file_and_the_skip_scan_marks_only_rows_of_skipped_facts()
    {
        ReliabilityLog.Update(_path, lines => lines.Count == 0 ? ReliabilityLog.WithRow(lines, Row("F5", nameof(Fixture.Skipped_case)), "2026-11-27") : lines);
        ReliabilityLog.Update(_path, lines => ReliabilityLog.WithRow(lines, Row("F6", nameof(Fixture.Running_case)), "2026-11-27"));
        Assert.Contains(ReliabilityLog.Begin, File.ReadAllLines(_path)); // a missing file starts from the skeleton

        ReliabilityLog.WatchAttribute.MarkSkipped(_path, [typeof(Fixture)], "2026-12-01");

        var file = File.ReadAllLines(_path);
        Assert.Equal("not run in the last run (2026-12-01): skipped: needs a machine we do not have; last measured 2026-11-27", Cells(file, "F5")[2]);
        Assert.Equal("outcome F6", Cells(file, "F6")[2]);
    }

    [Fact]
    public void The_run_date_comes_from_FABRIC_RUN_DATE_else_today()
    {
        var now = new DateTime(2026, 12, 1, 23, 59, 0, DateTimeKind.Utc);
        Assert.Equal("2026-11-30", ReliabilityLog.RunDateFrom(v => v == ReliabilityLog.RunDateVariable ? "2026-11-30" : null, now));
        Assert.Equal("2026-12-01", ReliabilityLog.RunDateFrom(_ => null, now));
        Assert.Equal("2026-12-01", ReliabilityLog.RunDateFrom(_ => " ", now));
    }

    [Fact]
    public void The_hook_that_marks_started_cases_runs_before_every_test()
        => Assert.True(ReliabilityLog.WatchAttribute.Calls > 0, "the assembly-level BeforeAfterTestAttribute did not run before this test");

    /// <summary>Abstract so that xunit does not run it; the scan reads its facts.</summary>
    public abstract class Fixture
    {
        [Fact(Skip = "needs a machine we do not have")]
        public void Skipped_case() { }

        [Fact]
        public void Running_case() { }
    }
}
