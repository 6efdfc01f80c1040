#!/usr/bin/env bash
# `npm run down`: stop the TrackOps services, then Kafka Connect and Kafka.
# PostgreSQL and Redis are the machine's own services and keep running; data stays (see stack.sh reset).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

if [[ -f scripts/services.sh ]]; then
  bash scripts/services.sh stop
else
  echo "  – skipped: scripts/services.sh does not exist yet"
fi
bash infra/stack.sh down
