#!/usr/bin/env bash
# Installs the Debian packages the tests use as real peers (tshark's jmirror dissector, tcpdump,
# FreeRADIUS's radclient and server, iproute2 for network namespaces, systemd-analyze and setpriv
# for the systemd unit, capsh to drop CAP_NET_RAW) when one is missing.
# Needs root for the install; otherwise says what is missing and exits 1.
set -euo pipefail
declare -A pkg=([tshark]=tshark [editcap]=tshark [tcpdump]=tcpdump [radclient]=freeradius-utils [freeradius]=freeradius [ip]=iproute2 [systemd-analyze]=systemd [setpriv]=util-linux [capsh]=libcap2-bin)
missing=()
for cmd in "${!pkg[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${pkg[$cmd]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
if [ "$(id -u)" != 0 ]; then
  echo "setup: missing Debian packages: ${missing[*]} (run as root: apt-get install -y ${missing[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: installed ${missing[*]}"
