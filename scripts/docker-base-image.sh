#!/usr/bin/env bash
# Build a local stand-in for a Python base image when no image registry can be reached:
# a minimal Debian bookworm root (debootstrap) with python3 and venv, imported with `docker import`.
#
#   scripts/docker-base-image.sh [TAG]      default TAG: fake-llm-base:bookworm
#
# Needs root, debootstrap (apt-get install debootstrap) and a Debian package mirror (the one this
# machine's apt uses). Prints the tag on its last line. The image has Debian's Python 3.11 at
# /usr/bin/python3, not the official image's /usr/local/bin/python; the Dockerfile only needs `python3`
# with the venv module.
set -euo pipefail

TAG=${1:-fake-llm-base:bookworm}
SUITE=${DEBIAN_SUITE:-bookworm}

log() { printf '[docker-base-image] %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    log "debootstrap needs root"
    exit 1
fi
if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null
fi

# The mirror this machine's apt already uses for $SUITE (deb822 .sources or one-line .list), unless
# DEBIAN_MIRROR is set; with neither, debootstrap's own default.
mirror=${DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
    mirror=$(
        cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk -v suite="$SUITE" '
            /^[[:space:]]*$/ { if (uri != "" && ok) { print uri; exit } uri = ""; ok = 0; next }
            /^URIs:/ { uri = $2 }
            /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
            END { if (uri != "" && ok) print uri }' | head -n 1
    )
fi
if [ -z "$mirror" ]; then
    mirror=$(
        cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
            awk -v suite="$SUITE" '$1 == "deb" && $3 == suite { print $2; exit }'
    )
fi

root=$(mktemp -d /tmp/fake-llm-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT

log "debootstrap $SUITE (minbase + python3, python3-venv) from ${mirror:-the default mirror}"
# shellcheck disable=SC2086  # $mirror is empty or one URL
if ! debootstrap --variant=minbase --include=python3,python3-venv "$SUITE" "$root" $mirror \
    >"$root.log" 2>&1; then
    tail -n 20 "$root.log" >&2
    rm -f "$root.log"
    exit 1
fi
rm -f "$root.log"

# Trim what a container never needs.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*.log

log "docker import -> $TAG"
tar --numeric-owner -C "$root" -c . | docker import \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["python3"]' \
    --message "debootstrap $SUITE minbase + python3 (local stand-in for a Python base image)" \
    - "$TAG" >/dev/null
log "$(docker run --rm "$TAG" python3 --version)"
echo "$TAG"
