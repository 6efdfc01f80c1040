#!/usr/bin/env bash
# Validates the observability kit with promtool:
#   1. promtool check config prometheus.yml   (also loads alerts.yml)
#   2. promtool check rules  alerts.yml
#   3. promtool test rules   alerts.test.yml   (alert unit tests)
#   4. every PromQL expression of grafana-dashboard.json parses (via promtool check rules on a generated file)
# Installs Debian's `prometheus` package (which ships promtool) when promtool is missing.
# Exit status: 0 when everything passes, 1 otherwise.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$HERE" || exit 1

step() { printf '==> %s\n' "$*"; }
info() { printf '  %s\n' "$*"; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else echo "  need root for: $*" >&2; return 1
  fi
}

find_promtool() {
  PROMTOOL=$(command -v promtool || true)
  [[ -z $PROMTOOL && -x /usr/bin/promtool ]] && PROMTOOL=/usr/bin/promtool
  [[ -n $PROMTOOL ]]
}

if ! find_promtool; then
  step "promtool not found: installing the Debian 'prometheus' package"
  export DEBIAN_FRONTEND=noninteractive
  if ! as_root apt-get install -y --no-install-recommends prometheus; then
    info "install failed; refreshing package lists (apt-get update) and retrying"
    as_root apt-get update && as_root apt-get install -y --no-install-recommends prometheus
  fi
  find_promtool || { echo "✗ promtool is still missing after installing 'prometheus'" >&2; exit 1; }
fi
info "using $PROMTOOL ($("$PROMTOOL" --version 2>&1 | head -1))"

failed=()
run() { # run "label" cmd...
  local label=$1; shift
  step "$label"
  if "$@"; then return 0; fi
  failed+=("$label")
}

run "promtool check config prometheus.yml" "$PROMTOOL" check config prometheus.yml
run "promtool check rules alerts.yml" "$PROMTOOL" check rules alerts.yml
run "promtool test rules alerts.test.yml" "$PROMTOOL" test rules alerts.test.yml

# Dashboard queries: substitute Grafana's variables, wrap each expression in a recording rule and let promtool
# parse them. Needs node (the repo's own, via node_modules) or jq.
dashboard_rules() {
  local out=$1
  local node_bin="$ROOT/node_modules/.bin/node"
  [[ -x $node_bin ]] || node_bin=$(command -v node || true)
  if [[ -n $node_bin ]]; then
    # shellcheck disable=SC2016 # JavaScript, not shell
    "$node_bin" -e '
      const fs = require("node:fs")
      const d = JSON.parse(fs.readFileSync(process.argv[1], "utf8"))
      const panels = d.panels.flatMap((p) => [p, ...(p.panels ?? [])])
      const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ title: p.title, expr: t.expr })))
      const sub = (e) => e.replaceAll("$__rate_interval", "1m").replaceAll("$__interval", "1m").replaceAll("$__range", "1h")
        .replace(/\$\{?(\w+)\}?/g, ".*")
      const slug = (t) => t.replace(/[^A-Za-z0-9]+/g, "_").replace(/^_|_$/g, "").toLowerCase()
      const rules = exprs.map((x, i) => ({ record: `dashboard:${slug(x.title)}:q${i}`, expr: sub(x.expr) }))
      fs.writeFileSync(process.argv[2], JSON.stringify({ groups: [{ name: "dashboard", rules }] }, null, 1))
      console.log(`  ${rules.length} expressions from ${panels.filter((p) => p.type !== "row").length} panels`)
    ' grafana-dashboard.json "$out"
  elif command -v jq >/dev/null; then
    jq '{groups: [{name: "dashboard", rules: [[.panels[], (.panels[].panels // [])[]] | .[] | .title as $t | (.targets // [])[]
          | {expr: (.expr | gsub("\\$__rate_interval|\\$__interval"; "1m") | gsub("\\$__range"; "1h") | gsub("\\$\\{?[A-Za-z_]+\\}?"; ".*")),
             slug: ($t | gsub("[^A-Za-z0-9]+"; "_") | ascii_downcase | ltrimstr("_") | rtrimstr("_"))}]
          | to_entries | map({record: "dashboard:\(.value.slug):q\(.key)", expr: .value.expr})}]}' grafana-dashboard.json >"$out"
  else
    echo "  neither node nor jq found: cannot extract the dashboard queries" >&2
    return 1
  fi
}
check_dashboard() {
  local tmp rc=0
  tmp=$(mktemp --suffix=.json) || return 1
  if dashboard_rules "$tmp"; then
    "$PROMTOOL" check rules "$tmp" 2>&1 | sed "s#$tmp#grafana-dashboard.json (queries)#"
    rc=${PIPESTATUS[0]}
  else
    rc=1
  fi
  rm -f "$tmp"
  return "$rc"
}
run "grafana-dashboard.json queries parse as PromQL" check_dashboard

echo
if ((${#failed[@]})); then
  printf '✗ failed: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "✓ observability checks passed"
