#!/usr/bin/env bash
# Build the stand-in for python:3.11-slim-bookworm and import it into podman
# under that tag. There is no container registry here, so the official base
# cannot be pulled; this one is Debian bookworm's own Python 3.11 on a
# debootstrap minbase, from the Debian mirror apt already uses. What differs
# from the official image is listed in docs/operations.md ("The image").
#
# Cached: the image carries a label with the hash of this script, and a
# second run with the same recipe does nothing.
set -euo pipefail
cd "$(dirname "$0")"
TAG=python:3.11-slim-bookworm
RECIPE=$(sha256sum base.sh | cut -c1-16)

have=$(podman image inspect --format '{{ index .Labels "org.quire.standin" }}' "$TAG" 2>/dev/null || true)
if [ "$have" = "$RECIPE" ]; then
  echo "stand-in base $TAG is current ($RECIPE)"
  exit 0
fi

# The mirror apt uses (deb822 .sources or one-line .list), deb.debian.org if none.
# Options such as [signed-by=...] may sit between "deb" and the URL.
mirror=$(grep -hE '^(deb |URIs:)' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null \
  | grep -oE 'https?://[^] ]+/debian/?( |$)' | tr -d ' ' | head -n1 || true)
mirror=${mirror:-http://deb.debian.org/debian}

root=$(mktemp -d /var/tmp/quire-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "debootstrap bookworm from $mirror"
debootstrap --variant=minbase \
  --include=python3.11,python3.11-venv,python3-pip,ca-certificates \
  bookworm "$root" "$mirror" >"$root.log" 2>&1 || { tail -n 40 "$root.log"; exit 1; }
rm -f "$root.log"
# Where the official image has its interpreter.
for name in python python3; do ln -sf /usr/bin/python3.11 "$root/usr/local/bin/$name"; done
for name in pip pip3; do ln -sf /usr/bin/pip3 "$root/usr/local/bin/$name"; done
# Slim like the official image: no apt lists, caches, docs or man pages.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
  "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/*
tar --numeric-owner -C "$root" -c . | podman import \
  --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change "LABEL org.quire.standin=$RECIPE" \
  --change 'CMD ["python3"]' \
  - "$TAG" >/dev/null
podman tag "$TAG" "docker.io/library/$TAG"
echo "stand-in base $TAG imported ($RECIPE)"
