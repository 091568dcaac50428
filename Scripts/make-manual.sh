#!/usr/bin/env bash
# Regenerates docs/edfs.1, the man page, from the argument parser's own description of every command
# (swift-argument-parser's generate-manual plugin, on a debug build). Run it after changing any command's options or
# help, and commit docs/edfs.1; `swift test` fails while the page misses a command or an option (ManualPageTests).
# Read it with `man -l docs/edfs.1`; install it with `install -m 644 docs/edfs.1 /usr/local/share/man/man1/`.
set -euo pipefail
cd "$(dirname "$0")/.."
swift package generate-manual --configuration debug --date "${EDFS_MANUAL_DATE:-$(git log -1 --format=%cs 2>/dev/null || date +%F)}" \
  --authors "the edfs developers"
cp .build/plugins/GenerateManual/outputs/edfs/edfs.1 docs/edfs.1
echo "wrote docs/edfs.1"
