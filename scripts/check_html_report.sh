#!/usr/bin/env bash
# Renders an HTML report in headless Chromium and checks that it is self-contained:
#   - no console message of level error (script errors, CSP violations);
#   - no network request: in Chromium's NetLog, no request made for the page (file:// in its
#     network isolation key) goes anywhere but file:// (a request the page's CSP blocks shows up
#     as a console error instead);
# then takes a screenshot to look at.
#
# Usage: scripts/check_html_report.sh [REPORT.html] [SCREENSHOT.png]
# Without REPORT.html, builds segbridge, runs both simulators (small workspace), exports, plans
# with --report and checks that report. Installs Debian's `chromium` when missing (needs root).
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
shot="${2:-report-screenshot.png}"
if [ -z "$report" ]; then
  (cd "$here" && cargo build --quiet)
  bin="${CARGO_TARGET_DIR:-$here/target}/debug/segbridge"
  "$bin" sim --size small --seed 11 --time-scale 60 >"$work/sim.env" 2>"$work/sim.log" &
  sim_pid=$!
  for _ in $(seq 50); do grep -q SEGMENT_PUBLIC_API_TOKEN "$work/sim.env" && break; sleep 0.2; done
  set -a; . "$work/sim.env"; set +a
  "$bin" export -q --config-url "$SEGMENT_CONFIG_API_URL" --ledger "$work/r.ledger" --time-scale 60
  "$bin" plan -q --public-url "$SEGMENT_PUBLIC_API_URL" --ledger "$work/r.ledger" --time-scale 60 \
    --report "$work/report.html"
  report="$work/report.html"
fi
report="$(cd "$(dirname "$report")" && pwd)/$(basename "$report")"

flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
  --disable-background-networking --disable-component-update --disable-sync
  --disable-default-apps --disable-extensions)

start=$(date +%s)
chromium "${flags[@]}" --user-data-dir="$(mktemp -d -p "$work")" \
  --enable-logging=stderr --v=0 --log-net-log="$work/netlog.json" \
  --virtual-time-budget=3000 --dump-dom "file://$report" >"$work/dom.html" 2>"$work/console.log"
chromium "${flags[@]}" --user-data-dir="$(mktemp -d -p "$work")" --hide-scrollbars \
  --window-size=1280,2000 --screenshot="$work/shot.png" "file://$report" >/dev/null 2>&1
cp "$work/shot.png" "$shot"

status=0
if ! grep -q "Compatibility report" "$work/dom.html"; then
  echo "FAIL: the page did not render (no title in the DOM)" >&2; status=1
fi
# Console messages are logged as `CONSOLE(line)] "message", source: …` or with a level.
if grep -E 'CONSOLE|Uncaught|Refused to|Content Security Policy' "$work/console.log" \
   | grep -viE 'level.?[:=] ?(0|info|verbose)' >"$work/errors.txt"; then
  echo "FAIL: console errors:" >&2; cat "$work/errors.txt" >&2; status=1
fi
python3 - "$work/netlog.json" "file://$report" <<'PY' || status=1
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
[ "$status" -eq 0 ] && echo "OK: no console error, no network request" >&2
exit "$status"
