#!/usr/bin/env bash
# Builds and starts the server (127.0.0.1:6379, data in ./data), installing the Debian
# packages the build needs first when they are missing. Arguments go to the server.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
source scripts/deps.sh
exec swift run -c release -Xswiftc -enforce-exclusivity=unchecked larder-server "$@"
