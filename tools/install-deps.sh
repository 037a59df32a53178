#!/bin/sh
# Install the Debian packages named as arguments that are missing. Quiet when
# everything is present; needs root (or sudo) only when something is missing.
missing=""
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "kiln: installing missing packages:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null || { echo "kiln: apt-get update failed"; exit 1; }
$SUDO apt-get install -y -q --no-install-recommends $missing || { echo "kiln: apt-get install failed for:$missing"; exit 1; }
