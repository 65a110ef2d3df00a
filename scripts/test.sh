#!/usr/bin/env bash
# Runs every test: Swift unit tests, then the integration, differential and bad-input tests
# against the real binary and a real redis-server. Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-cli >/dev/null || need+=(redis-tools)
command -v memcached >/dev/null || need+=(memcached)
command -v memccapable >/dev/null || need+=(libmemcached-tools)
command -v ss >/dev/null || need+=(iproute2)
command -v redis-sentinel >/dev/null || need+=(redis-sentinel)
command -v prometheus-redis-exporter >/dev/null || need+=(prometheus-redis-exporter)
command -v prometheus >/dev/null || need+=(prometheus)
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v adduser >/dev/null || need+=(adduser)
source scripts/deps.sh
python3 -m pip install -q --disable-pip-version-check -r Tests/integration/requirements.txt

swift build
swift test
python3 -m pytest -q Tests/integration "$@"
