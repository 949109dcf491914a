#!/usr/bin/env bash
# The test command: every test project in the solution, Release build, one console line per failure.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build Fabric.sln -c Release --nologo -v quiet
# The store tests run against SQLite always and against a throw-away PostgreSQL when one can be started.
source scripts/postgres.sh
if [ -z "${FABRIC_TEST_POSTGRES:-}" ]; then pg_start; trap pg_stop EXIT; fi
# Every row of docs/reliability.md this run writes (measured, failed or skipped) carries the run's date.
export FABRIC_RUN_DATE="${FABRIC_RUN_DATE:-$(date -u +%Y-%m-%d)}"
results=$(mktemp -d)
status=0
# One test project at a time: the cluster tests run several ActorSystems and node processes with real
# failure detectors, and on a 2-core machine three suites at once starve their heartbeats.
for proj in tests/*/*.csproj; do
  dotnet test "$proj" -c Release --no-build --nologo --logger "console;verbosity=normal" \
    --logger "trx" --results-directory "$results" "$@" || status=$?
done
# One closing line over every test project: 'N passed, N failed, N skipped'.
passed=0; failed=0; total=0
for f in "$results"/*.trx; do
  [ -e "$f" ] || continue
  c=$(grep -o '<Counters [^>]*' "$f" | head -1)
  p=$(echo "$c" | sed -n 's/.* passed="\([0-9]*\)".*/\1/p'); fl=$(echo "$c" | sed -n 's/.* failed="\([0-9]*\)".*/\1/p')
  t=$(echo "$c" | sed -n 's/.* total="\([0-9]*\)".*/\1/p')
  passed=$((passed + ${p:-0})); failed=$((failed + ${fl:-0})); total=$((total + ${t:-0}))
done
# The failures again, by name, at the very end: CI keeps only the tail of a long log.
# Each with the head of its message and stack (perl-base is on every Debian): the log above it is cut.
failures=$(cat "$results"/*.trx 2>/dev/null | perl -0777 -ne '
  while (/<UnitTestResult [^>]*testName="([^"]*)"[^>]*outcome="Failed".*?<\/UnitTestResult>/gs) {
    my ($name, $body) = ($1, $&);
    my ($msg) = $body =~ /<Message>(.*?)<\/Message>/s; my ($st) = $body =~ /<StackTrace>(.*?)<\/StackTrace>/s;
    my ($out) = $body =~ /<StdOut>(.*?)<\/StdOut>/s;
    # From the test output, the lines that tell the story of a cluster case (exits, restarts, downing, reachability).
    my @story = grep { /exited|restart|SBR|downing|UNREACHABLE|quarantin|timed out|rejoin|majority|link / } split(/\n/, $out // "");
    @story = @story[-25..-1] if @story > 25;
    my $text = join("\n", grep { defined && length } (split(/\n/, $msg // ""))[0..11], (split(/\n/, $st // ""))[0..5],
      (@story ? ("output, the story of the cluster:", map { substr($_, 0, 220) } @story) : ()));
    $text =~ s/&lt;/</g; $text =~ s/&gt;/>/g; $text =~ s/&quot;/"/g; $text =~ s/&apos;/\x27/g; $text =~ s/&amp;/&/g;
    $text =~ s/^/      /mg; print "$name\n$text\n";
  }' || true)
rm -rf "$results"
if [ -n "$failures" ]; then echo "failed tests:"; echo "$failures" | sed 's/^/  /'; fi
echo "tests: $passed passed, $failed failed, $((total - passed - failed)) skipped"
exit $status
