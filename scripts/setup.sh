#!/usr/bin/env bash
# Installs everything Fabric needs on a fresh Debian machine. Idempotent: skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
if [ "$(id -u)" = 0 ]; then
  # Tools the root-only tests drive for real; a fresh machine has none of them. postgresql: the throw-away store of
  # the PostgreSQL tests and of the hosts guide's chaos test; openssl: its s_client knocks on the TLS remoting port.
  # chromium: the headless browser the topology page tests (tests/Fabric.Nodes.Tests/Ui) drive with Playwright.
  for pkg in iproute2:ip util-linux:nsenter iputils-ping:ping arping:arping iperf3:iperf3 tshark:tshark tcpdump:tcpdump iptables:iptables openssl:openssl postgresql:/usr/lib/postgresql chromium:chromium; do
    name=${pkg%%:*}; bin=${pkg##*:}
    if [ "${bin#/}" != "$bin" ]; then [ -e "$bin" ] || need+=("$name"); continue; fi
    command -v "$bin" >/dev/null 2>&1 || need+=("$name")
  done
  if [ ${#need[@]} -gt 0 ]; then
    echo "setup: installing ${need[*]}"
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
else
  echo "setup: not root; skipping Debian packages (root-only tests will skip and say why)"
fi

command -v dotnet >/dev/null 2>&1 || { echo "setup: the .NET 10 SDK is required (dotnet not on PATH)" >&2; exit 1; }
dotnet restore Fabric.sln --nologo -v quiet
