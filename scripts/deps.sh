#!/usr/bin/env bash
# scripts/deps.sh — installs what the tests and benchmarks use beyond Go:
# the Debian packages of scripts/deps.txt (the one list, with the reason for
# each), then the Go modules (go mod download, from the module proxy).
#
# As root with apt-get, it installs what is missing (nothing when nothing
# is): with a policy-rc.d that forbids package scripts to start services
# while apt-get runs, so that installing a tool starts no server on this
# machine; packages marked services=off have their services disabled as
# well, and for packages marked only=PATH just that file is taken out of
# the package (promtool without the Prometheus server). Otherwise it says
# what to install and goes on (tests whose tool is missing fail, or skip
# under go test -short).
#
# DEPS_DRY_RUN=1 prints what it would install and changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
list=scripts/deps.txt

have() { # CHECK: a command, or an absolute path
  case $1 in
    /*) [ -e "$1" ] ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}

install=()   # packages to install
extract=()   # PACKAGE=PATH: take PATH out of PACKAGE
quiet=()     # packages whose services are disabled after the install
while read -r line; do
  line=${line%%#*}
  read -r -a f <<<"$line" || true
  [ ${#f[@]} -gt 0 ] || continue
  pkg=${f[0]} missing=0 only="" services=on
  for w in "${f[@]:1}"; do
    case $w in
      only=*) only=${w#only=} ;;
      services=*) services=${w#services=} ;;
      *) have "$w" || missing=1 ;;
    esac
  done
  [ $missing = 1 ] || continue
  if [ -n "$only" ]; then
    extract+=("$pkg=$only")
  else
    install+=("$pkg")
    [ "$services" = off ] && quiet+=("$pkg")
  fi
done <"$list"

if [ ${#install[@]} -gt 0 ] || [ ${#extract[@]} -gt 0 ]; then
  if [ -n "${DEPS_DRY_RUN:-}" ]; then
    echo "deps: would install: ${install[*]:-}; would extract: ${extract[*]:-}"
  elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    # No service starts while packages install (invoke-rc.d and
    # deb-systemd-invoke ask policy-rc.d; 101: action forbidden). A
    # policy-rc.d that is already there (containers have one) is kept.
    rcd=/usr/sbin/policy-rc.d made_rcd=""
    if [ ! -e $rcd ]; then
      printf '#!/bin/sh\n# scripts/deps.sh: no service starts while it installs packages\nexit 101\n' >$rcd
      chmod 755 $rcd
      made_rcd=1
    fi
    tmp=$(mktemp -d)
    trap '[ -z "$made_rcd" ] || rm -f $rcd; rm -rf "$tmp"' EXIT
    echo "deps: installing ${install[*]:-} ${extract[*]:-} (apt-get)" >&2
    apt-get update -qq
    if [ ${#install[@]} -gt 0 ]; then
      apt-get install -y -qq --no-install-recommends "${install[@]}" >/dev/null
    fi
    for pkg in "${quiet[@]}"; do # services=off: not at the next boot either
      for unit in $(dpkg -L "$pkg" | grep -E '^/(usr/)?lib/systemd/system/[^/]+\.service$' || true); do
        unit=$(basename "$unit")
        # systemctl disable works without a running systemd (a container, a
        # chroot), and disables the SysV script too.
        if command -v systemctl >/dev/null && systemctl disable "$unit" >/dev/null 2>&1; then
          echo "deps: $pkg: service $unit not started, and disabled" >&2
        else
          echo "deps: $pkg: service $unit not started; could not disable it (systemctl disable $unit)" >&2
        fi
      done
    done
    for e in "${extract[@]}"; do # only=PATH: that file, nothing else
      pkg=${e%%=*} path=${e#*=}
      (cd "$tmp" && apt-get download -qq "$pkg" && dpkg-deb -x ./"$pkg"_*.deb "x-$pkg")
      install -m 755 "$tmp/x-$pkg$path" "/usr/local/bin/$(basename "$path")"
      echo "deps: $(basename "$path") from $pkg installed as /usr/local/bin/$(basename "$path") (the package itself is not installed)" >&2
    done
  else
    echo "deps: please install (Debian packages, see scripts/deps.txt): ${install[*]:-} ${extract[*]%%=*}" >&2
  fi
fi

# go test -race needs cgo: a C compiler, and CGO_ENABLED not 0.
if ! command -v go >/dev/null; then
  echo "deps: no go command: install Go (go.dev/dl, the version go.mod names) and put its bin directory in PATH" >&2
  exit 1
fi
if [ "$(go env CGO_ENABLED)" != 1 ]; then
  echo "deps: go env CGO_ENABLED is $(go env CGO_ENABLED): go test -race (make test) needs cgo:" \
    "a C compiler (gcc, libc6-dev) and CGO_ENABLED unset or 1" >&2
fi
[ -n "${DEPS_DRY_RUN:-}" ] || go mod download
