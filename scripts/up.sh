#!/usr/bin/env bash
# `npm run up`: everything TrackOps needs, from a fresh clone to running services with demo data.
# Safe to run again at any time: every step skips what is already done.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
source infra/lib/common.sh

START=$SECONDS
TOTAL=8
n=0
stage() { n=$((n + 1)); printf '\n%s[%d/%d] %s%s\n' "$B" "$n" "$TOTAL" "$*" "$N"; }
skip() { printf '  %s–%s skipped: %s\n' "$Y" "$N" "$*"; }

# Node 24 comes from the `node` devDependency (node_modules/.bin/node), not from the machine.
run_node() { npx --no-install node "$@"; }

stage "prerequisites"
require_java
ok "Java $("$JAVA" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.version = //p')"
require_cmd mvn "install Maven 3.8+ (Debian: apt-get install maven); it fetches Kafka and Debezium once"
ok "$(mvn -v 2>/dev/null | head -1 | sed 's/\x1b\[[0-9;]*m//g')"
require_cmd psql "install the PostgreSQL client (Debian: apt-get install postgresql-client)"
ok "$(psql --version)"
require_cmd curl "install curl (Debian: apt-get install curl)"
require_cmd npm "install Node.js with npm (any version: the project brings its own Node 24)"
# The console's browser tests drive Debian's Chromium (no browser is downloaded by any tool here).
if ! command -v chromium >/dev/null 2>&1; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    info "installing Debian's chromium for the browser tests (once; log: .stack/logs/apt-chromium.log)"
    mkdir -p "$LOG_DIR"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >"$LOG_DIR/apt-chromium.log" 2>&1 ||
      die "installing chromium failed" "see .stack/logs/apt-chromium.log; or install it yourself: apt-get install chromium"
  else
    warn "chromium is not installed: the browser tests (tests/console) need it — apt-get install chromium"
  fi
fi
command -v chromium >/dev/null 2>&1 && ok "$(chromium --version 2>/dev/null | head -1)"

# Settings: .env (read by every service and script). A fresh clone gets the local-development defaults.
if [[ ! -f .env ]]; then
  cp .env.example .env
  info "created .env from .env.example: local development mode (TRACKOPS_DEV_MODE=true, development JWT secret)"
  info "for anything but a laptop, set JWT_SECRET (or JWT_JWKS_URL) in .env and remove TRACKOPS_DEV_MODE"
fi
# The stack scripts follow the same settings as the services (e.g. which connectors EVENT_PUBLISHING_STRATEGY needs).
set -a
# shellcheck disable=SC1091
source .env
set +a

stage "npm dependencies"
# npm ci wipes node_modules: only when package-lock.json changed since the last install.
stamp="$STACK_DIR/npm-ci.stamp"
mkdir -p "$STACK_DIR" "$LOG_DIR"
if [[ -f package-lock.json ]]; then
  sum=$(sha256sum package-lock.json | cut -c1-32)
  if [[ -d node_modules && -f $stamp && $(<"$stamp") == "$sum" && ${FORCE_NPM_CI:-0} != 1 ]]; then
    ok "node_modules matches package-lock.json (FORCE_NPM_CI=1 reinstalls)"
  else
    npm ci --no-audit --no-fund >"$LOG_DIR/npm-ci.log" 2>&1 || {
      { grep -E '^npm (error|ERR)' "$LOG_DIR/npm-ci.log" | head -12 || true; } >&2
      if grep -q 'in sync' "$LOG_DIR/npm-ci.log"; then
        die "npm ci: package-lock.json is out of sync with the package.json files" \
            "run npm install (it updates package-lock.json), commit the lock file, then re-run npm run up"
      fi
      die "npm ci failed" "full log: .stack/logs/npm-ci.log; the npm registry must be reachable"
    }
    echo "$sum" >"$stamp"
    ok "npm ci done (log: .stack/logs/npm-ci.log)"
  fi
else
  npm install --no-audit --no-fund || die "npm install failed" "read the npm error above"
  ok "npm install done (no package-lock.json yet)"
fi
ok "Node $(run_node --version) (from the node devDependency)"

stage "infrastructure: PostgreSQL, Redis, Kafka, Kafka Connect"
bash infra/stack.sh up

migrated=0
stage "database migrations"
if [[ -f scripts/migrate.ts ]]; then
  run_node scripts/migrate.ts || die "migrations failed" "read the error above; fix it and re-run npm run up"
  migrated=1
else
  skip "scripts/migrate.ts does not exist yet"
fi

stage "Debezium connectors"
if ((migrated)); then
  bash infra/stack.sh connectors
else
  skip "the connectors need the publications the migrations create"
fi

stage "services"
if [[ -f scripts/services.sh ]]; then
  info "building the console (log: .stack/logs/console-build.log)"
  npm run --silent console:build >"$LOG_DIR/console-build.log" 2>&1 || die "console build failed" "see .stack/logs/console-build.log"
  bash scripts/services.sh start
else
  skip "scripts/services.sh does not exist yet"
fi

stage "demo data"
if [[ -f scripts/seed.ts ]]; then
  run_node scripts/seed.ts || die "seeding failed" "read the error above; the seed is idempotent, re-run npm run up"
else
  skip "scripts/seed.ts does not exist yet"
fi

stage "status"
bash infra/stack.sh status

cat <<EOF

${G}${B}TrackOps is up in $((SECONDS - START))s.${N}
  orders      http://127.0.0.1:8081/docs
  inventory   http://127.0.0.1:8082/docs
  relay       http://127.0.0.1:8084/docs
  payments    http://127.0.0.1:8085/docs
  console     http://127.0.0.1:8080
  Kafka       127.0.0.1:9092      Kafka Connect  http://127.0.0.1:8083/connectors?expand=status
  logs        .stack/logs/        stop with: npm run down

  get a token: npm run token -- --role admin
EOF
