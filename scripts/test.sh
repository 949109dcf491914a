#!/usr/bin/env bash
# The test command: every test project in the solution, Release build, one console line per failure.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build Fabric.sln -c Release --nologo -v quiet
# The store tests run against SQLite always and against a throw-away PostgreSQL when one can be started.
source scripts/postgres.sh
if [ -z "${FABRIC_TEST_POSTGRES:-}" ]; then pg_start; trap pg_stop EXIT; fi
dotnet test Fabric.sln -c Release --no-build --nologo --logger "console;verbosity=normal" "$@"
