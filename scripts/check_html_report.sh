#!/usr/bin/env bash
# Renders HTML reports in headless Chromium and checks that each is self-contained:
#   - no console message of level error (script errors, CSP violations);
#   - no network request: in Chromium's NetLog, no request made for the page (file:// in its
#     network isolation key) goes anywhere but file:// (a request the page's CSP blocks shows up
#     as a console error instead);
# then takes a screenshot to look at.
#
# Usage: scripts/check_html_report.sh [REPORT.html [SCREENSHOT.png]]
# Without REPORT.html, builds segbridge, runs both simulators (small workspace), exports, plans
# with --report, applies, changes the target behind segbridge's back (one destination setting,
# one source made by hand) and audits with --report, then checks both reports, saving
# plan-screenshot.png and audit-screenshot.png. SHOT_HEIGHT (default 2000) sets the height of
# the 1280-pixel-wide screenshots. Installs Debian's `chromium` when missing (needs root).
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
sim_pid=""
cleanup() {
  if [ -n "$sim_pid" ]; then kill "$sim_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

if ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium…" >&2
  apt-get install -y chromium >/dev/null
fi

report="${1:-}"
if [ -n "$report" ]; then
  reports=("$report"); shots=("${2:-report-screenshot.png}")
else
  (cd "$here" && cargo build --quiet)
  bin="${CARGO_TARGET_DIR:-$here/target}/debug/segbridge"
  "$bin" sim --size small --seed 11 --time-scale 60 >"$work/sim.env" 2>"$work/sim.log" &
  sim_pid=$!
  for _ in $(seq 50); do grep -q SEGMENT_PUBLIC_API_TOKEN "$work/sim.env" && break; sleep 0.2; done
  set -a; . "$work/sim.env"; set +a
  "$bin" export -q --config-url "$SEGMENT_CONFIG_API_URL" --ledger "$work/r.ledger" --time-scale 60
  "$bin" plan -q --public-url "$SEGMENT_PUBLIC_API_URL" --ledger "$work/r.ledger" --time-scale 60 \
    --report "$work/plan.html"
  "$bin" apply -q --public-url "$SEGMENT_PUBLIC_API_URL" --config-url "$SEGMENT_CONFIG_API_URL" \
    --ledger "$work/r.ledger" --time-scale 60 --allow-missing-secrets
  # Behind segbridge's back, as another tool would: so the audit report has problems to show.
  api() {
    curl -sf -X "$1" -H "Authorization: Bearer $SEGMENT_PUBLIC_API_TOKEN" \
      -H "content-type: application/json" "$SEGMENT_PUBLIC_API_URL$2" ${3:+-d "$3"}
  }
  api GET /destinations >"$work/destinations.json"
  api GET /sources >"$work/sources.json"
  read -r destination setting metadata < <(python3 -c '
import json, sys
destinations = json.load(open(sys.argv[1]))["data"]["destinations"]
sources = json.load(open(sys.argv[2]))["data"]["sources"]
for d in destinations:
    plain = [k for k, v in d["settings"].items() if isinstance(v, str) and v and "\u2022" not in v]
    if plain:
        print(d["id"], plain[0], sources[0]["metadata"]["id"])
        break
' "$work/destinations.json" "$work/sources.json")
  api PATCH "/destinations/$destination" "{\"settings\": {\"$setting\": \"changed <by> | hand\"}}" >/dev/null
  api POST /sources "{\"slug\": \"made-by-hand\", \"enabled\": false, \"metadataId\": \"$metadata\", \"settings\": {}}" >/dev/null
  # Exit 1: the audit finds the differences; the report is written all the same.
  "$bin" audit -q --public-url "$SEGMENT_PUBLIC_API_URL" --config-url "$SEGMENT_CONFIG_API_URL" \
    --ledger "$work/r.ledger" --time-scale 60 --report "$work/audit.html" || [ $? -eq 1 ]
  reports=("$work/plan.html" "$work/audit.html"); shots=(plan-screenshot.png audit-screenshot.png)
fi

flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
  --disable-background-networking --disable-component-update --disable-sync
  --disable-default-apps --disable-extensions)

status=0
check() {
  local report shot out
  report="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
  shot="$2"
  out="$(mktemp -d -p "$work")"
  local start; start=$(date +%s)
  chromium "${flags[@]}" --user-data-dir="$(mktemp -d -p "$work")" \
    --enable-logging=stderr --v=0 --log-net-log="$out/netlog.json" \
    --virtual-time-budget=3000 --dump-dom "file://$report" >"$out/dom.html" 2>"$out/console.log"
  chromium "${flags[@]}" --user-data-dir="$(mktemp -d -p "$work")" --hide-scrollbars \
    --window-size="1280,${SHOT_HEIGHT:-2000}" --screenshot="$out/shot.png" "file://$report" >/dev/null 2>&1
  cp "$out/shot.png" "$shot"

  if ! grep -qE "(Compatibility|Audit) report" "$out/dom.html"; then
    echo "FAIL: the page did not render (no title in the DOM)" >&2; status=1
  fi
  # Console messages are logged as `CONSOLE(line)] "message", source: …` or with a level.
  if grep -E 'CONSOLE|Uncaught|Refused to|Content Security Policy' "$out/console.log" \
     | grep -viE 'level.?[:=] ?(0|info|verbose)' >"$out/errors.txt"; then
    echo "FAIL: console errors:" >&2; cat "$out/errors.txt" >&2; status=1
  fi
  python3 - "$out/netlog.json" "file://$report" <<'PY' || status=1
import json, sys
path, own = sys.argv[1], sys.argv[2]
text = open(path).read()
try:
    log = json.loads(text)
except json.JSONDecodeError:
    # A NetLog cut short when Chromium exits lacks its closing brackets.
    log = json.loads(text.rstrip().rstrip(",") + "]}")
# Chromium itself talks to Google services (time, accounts) whatever the flags say; those
# requests are not the page's. A request made for the page carries the page's site, file://, in
# its network isolation key: that is what must never name another URL.
page, browser = set(), set()
for event in log.get("events", []):
    params = event.get("params") or {}
    url = params.get("url")
    if not isinstance(url, str):
        continue
    if "file://" in str(params.get("network_isolation_key", "")) or params.get("initiator") == "null":
        page.add(url)
    else:
        browser.add(url)
outside = sorted(u for u in page if not u.startswith(("file://", "data:", "about:")))
if outside:
    print("FAIL: the page made network requests:", *outside, sep="\n  ", file=sys.stderr)
    sys.exit(1)
print(f"network: no request made for the page ({len(browser)} of Chromium's own ignored)", file=sys.stderr)
PY
  echo "rendered in $(( $(date +%s) - start )) s; screenshot: $shot" >&2
}

for i in "${!reports[@]}"; do
  before=$status
  check "${reports[$i]}" "${shots[$i]}"
  if [ "$status" -eq "$before" ]; then
    echo "OK: $(basename "${reports[$i]}"): no console error, no network request" >&2
  fi
done
exit "$status"
