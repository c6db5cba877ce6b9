#!/usr/bin/env bash
# Quick start: installs what this machine lacks, brings the farm up (API, a worker, embedded
# database and Redis under .malan/), and runs a sample transcode you can watch.
#   bash scripts/up.sh              # a clip it makes itself
#   bash scripts/up.sh my-clip.mp4  # your own clip
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "Malan needs Node.js 20 or newer (https://nodejs.org, or your distribution's nodejs package)." >&2
  exit 1
fi

missing=()
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
if [ -z "${REDIS_URL:-}" ] && ! command -v redis-server >/dev/null; then missing+=(redis-server); fi
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "==> installing ${missing[*]} (Debian packages)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> installing Node packages and building (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
else
  npm run build --silent
fi

exec node scripts/quickstart.mjs "$@"
