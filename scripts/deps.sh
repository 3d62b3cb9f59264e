#!/bin/sh
# Installs the Debian packages kmm needs to build, test and benchmark, if
# any is missing. Quiet when everything is there; uses sudo when not root.
set -eu

packages="cmake ninja-build gcc make pkg-config libcmocka-dev liblua5.4-dev
binutils libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4 zlib1g-dev valgrind python3"

missing=""
for p in $packages; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing"
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 || {
		echo "deps: missing packages:$missing; run as root or install them" >&2
		exit 1
	}
	SUDO=sudo
else
	SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || true
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
