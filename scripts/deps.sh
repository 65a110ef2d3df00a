#!/usr/bin/env bash
# Installs the Debian packages Larder's build needs when they are missing: Lua 5.1 and
# lua-cjson (headers and libraries) and lua-bitop, which Larder's scripting embeds.
# Sourced by scripts/run.sh and scripts/test.sh; `need` may already name other packages.
need=(${need[@]+"${need[@]}"})
for p in liblua5.1-0-dev lua-cjson-dev lua-bitop; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
