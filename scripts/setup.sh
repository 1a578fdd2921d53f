#!/usr/bin/env bash
# Installs what weft needs on a Debian machine (as root) and builds it, doing nothing that is
# already done: Debian packages only when a tool is missing, `npm ci` only when the lockfile
# changed, the build only when a source is newer than the last build.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
have() { command -v "$1" >/dev/null 2>&1; }
have node || need_pkgs+=(nodejs npm)
have nft || need_pkgs+=(nftables)
have iptables-restore || need_pkgs+=(iptables)
have ipset || need_pkgs+=(ipset)
# The agent deletes stale UDP conntrack entries of services with it (--proxy).
have conntrack || need_pkgs+=(conntrack)
# Not used by weft itself (it speaks netlink); operators and tests debug with ip and bridge.
have ip || need_pkgs+=(iproute2)
have iperf3 || need_pkgs+=(iperf3)
have ping || need_pkgs+=(iputils-ping)
have make || need_pkgs+=(make)
have g++ || need_pkgs+=(g++)
have cc || need_pkgs+=(gcc)
have python3 || need_pkgs+=(python3)
[ -x /usr/lib/cni/bridge ] || need_pkgs+=(containernetworking-plugins)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "setup: installing ${need_pkgs[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

stamp=dist/.build-stamp
if [ ! -f "$stamp" ] || [ -n "$(find kernel cni ipam lab bench test cli agent overlay policy proto package.json tsconfig.json \
     -newer "$stamp" -type f -not -path '*/build/*' 2>/dev/null | head -1)" ]; then
  echo "setup: building" >&2
  npm run --silent build
  touch "$stamp"
fi
