#!/usr/bin/env bash
# The test command: every test project in the solution, Release build, one console line per failure.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build Fabric.sln -c Release --nologo -v quiet
dotnet test Fabric.sln -c Release --no-build --nologo --logger "console;verbosity=normal" "$@"
