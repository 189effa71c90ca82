#!/usr/bin/env bash
# Installs what the build and tests need on a fresh Debian 12 machine that
# has Go: a C compiler for the cgo CPU kernels, and Node.js + npm for the
# OpenAI SDK tests. Already-present tools are left alone; nothing is
# installed when everything is there.
set -euo pipefail

need=()
command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
command -v make >/dev/null 2>&1 || need+=(make)
if [ "${1:-}" = "test" ]; then
	command -v node >/dev/null 2>&1 || need+=(nodejs)
	command -v npm >/dev/null 2>&1 || need+=(npm)
fi
[ ${#need[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "deps: installing ${need[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
