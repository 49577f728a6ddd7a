#!/usr/bin/env bash
# Exit 0 when podman can build and run containers on this machine: the tools
# install, the stand-in base builds, and a container of it starts. Otherwise
# print why and exit 1 (.ci/run then says the image was not tested).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/containers.conf}
bash "$here/tools.sh" || { echo "podman cannot be installed here"; exit 1; }
bash "$here/base.sh" || { echo "the stand-in base image cannot be built here"; exit 1; }
if ! out=$(timeout 60 podman run --rm --network=host python:3.11-slim-bookworm true 2>&1); then
  echo "podman cannot run a container here: $out"
  exit 1
fi
