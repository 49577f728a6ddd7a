#!/usr/bin/env bash
# Build the Quire image with podman: `make image`. Usage: build.sh [TAG]
#
# The Dockerfile is the one for any builder (docker build works too); what is
# particular to these machines is here, outside it:
#   --format docker   OCI images have no HEALTHCHECK; podman drops it silently
#   --network=host    the build steps reach the package index as the host does
#   pip.conf + CA     the host's CA bundle, read-only, so pip trusts its TLS
#   --pull=never      no registry: the base is the stand-in from base.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
TAG=${1:-quire:latest}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/containers.conf}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

bash "$here/tools.sh"
# The stand-in base (cached), unless a real python:3.11-slim-bookworm is there.
if ! podman image exists python:3.11-slim-bookworm \
  || podman image inspect --format '{{ index .Labels "org.quire.standin" }}' \
    python:3.11-slim-bookworm | grep -qE '^[0-9a-f]{16}$'; then
  bash "$here/base.sh"
  echo "building $TAG on the stand-in python:3.11-slim-bookworm (docs/operations.md, \"The image\")"
fi
start=$(date +%s)
podman build --format docker --network=host --pull=never \
  --volume "$CA_BUNDLE:/etc/ssl/certs/quire-host-ca.crt:ro" \
  --volume "$here/pip.conf:/etc/pip.conf:ro" \
  --tag "$TAG" .
size=$(podman image inspect --format '{{.Size}}' "$TAG")
echo "built $TAG in $(($(date +%s) - start)) s: $((size / 1000000)) MB"
