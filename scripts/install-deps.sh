#!/usr/bin/env bash
# Installs the Debian packages the tests and benchmarks use (HAProxy 2.6 for differential tests,
# php-cli for the reference experiment, rsyslog as a real syslog receiver, hatop, wrk, nginx).
# Idempotent: packages already present are skipped. Package services are kept from starting
# (policy-rc.d exits 101): the tests start their own copies on loopback.
# Usage: scripts/install-deps.sh [package...]   (default: everything below)
set -euo pipefail
pkgs=("$@")
if [ ${#pkgs[@]} -eq 0 ]; then
  pkgs=(haproxy php-cli rsyslog hatop wrk nginx-light tmux curl)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ ! -x /usr/sbin/policy-rc.d ] || ! grep -q 'exit 101' /usr/sbin/policy-rc.d; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod 755 /usr/sbin/policy-rc.d
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
