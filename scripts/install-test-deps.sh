#!/usr/bin/env bash
# Installs the real peers the tests talk to (SIPp, tcpdump/tshark, sox, Chromium), once:
# it does nothing when they are already there. Debian/Ubuntu; needs root or sudo.
set -euo pipefail

need=()
command -v sipp >/dev/null 2>&1    || need+=(sip-tester)
command -v tcpdump >/dev/null 2>&1 || need+=(tcpdump)
command -v tshark >/dev/null 2>&1  || need+=(tshark)
command -v sox >/dev/null 2>&1     || need+=(sox)
command -v chromium >/dev/null 2>&1 || need+=(chromium)      # browser softphone tests (headless)
command -v ip >/dev/null 2>&1      || need+=(iproute2)      # loopback inside the tests' network namespace
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
[ -e /usr/share/sip-tester/g711a.pcap ] || need+=(sip-tester)

if [ ${#need[@]} -eq 0 ]; then
  echo "test tools present: sipp $(sipp -v 2>/dev/null | grep -o 'v[0-9.]*' | head -1 || true), tshark, sox, $(chromium --version 2>/dev/null || echo chromium)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-test-deps: need root to install: ${need[*]}" >&2; exit 1
  fi
fi
echo "installing test tools: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no, quietly.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections || true
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "installed: ${need[*]}"
