#!/usr/bin/env bash
# Installs the system packages edfs builds against, and nothing when they are all present.
# Debian/Ubuntu: libssl-dev (libcrypto for every at-rest primitive), pkg-config, libisal-dev (node checksums),
# libfuse3-dev (libfuse3 for `edfs mount`) and fuse3 (fusermount3, to mount and unmount as a user).
set -euo pipefail
need=()
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
if command -v pkg-config >/dev/null 2>&1; then
  pkg-config --exists openssl || need+=(libssl-dev)
  pkg-config --exists libisal || need+=(libisal-dev)
  pkg-config --exists fuse3 || need+=(libfuse3-dev)
else
  need+=(libssl-dev libisal-dev libfuse3-dev)
fi
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v fusermount3 >/dev/null 2>&1 || need+=(fuse3)
[ ${#need[@]} -eq 0 ] && exit 0
echo "installing: ${need[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${need[@]}"
