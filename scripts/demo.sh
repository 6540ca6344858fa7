#!/usr/bin/env bash
# The main job on the embedded default: demo data -> dbt build -> loader push to the bundled
# Klaviyo emulator -> delivery summary -> check the lists -> push again (nothing to send).
# Needs no credentials and no network. Run through `make demo`, which puts .venv/bin on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

export DUCKDB_PATH="${DUCKDB_PATH:-warehouse.duckdb}"
customers="${DEMO_CUSTOMERS:-5000}"
workdir=".demo"
mkdir -p "$workdir"
# one stable emulated account, so `loader status` keeps one account across demo runs
account="DemoAcct"

step() { printf '\n== %s\n' "$*"; }

step "Demo data: $customers customers into $DUCKDB_PATH"
loader demo-data --customers "$customers"
# The emulator below starts empty, like a new Klaviyo account: so does the loader's state (a
# second demo in this folder would otherwise find every campaign delivered already).
python - <<'PY'
import os, duckdb
con = duckdb.connect(os.environ["DUCKDB_PATH"])
con.execute("drop schema if exists klaviyo_loader cascade")
con.close()
PY

step "dbt build"
dbt build --profiles-dir . --project-dir .

port=$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export KLAVIYO_BASE_URL="http://127.0.0.1:$port"
export KLAVIYO_API_KEY="pk_demo_emulator_key"

step "Klaviyo emulator on $KLAVIYO_BASE_URL"
loader emulator --port "$port" --job-delay 0.2 --account-id "$account" \
    >"$workdir/emulator.log" 2>&1 &
emulator_pid=$!
trap 'kill "$emulator_pid" 2>/dev/null || true; wait "$emulator_pid" 2>/dev/null || true' EXIT
python scripts/wait_for_http.py "$KLAVIYO_BASE_URL/_emulator/stats" 30

step "loader push (all campaigns due now)"
loader push

step "Check: every Klaviyo list holds exactly its audience's non-control members"
python scripts/verify_demo.py

step "loader push --all again: an unchanged audience sends nothing (and is no new delivery)"
loader push --all
python scripts/verify_demo.py --expect-no-new-imports

step "Demo orders: what the recipients bought over the next weeks (planted effects, docs/results.md)"
loader demo-orders

step "dbt build --select results: lift against each control group"
dbt build --profiles-dir . --project-dir . --select path:models/results --quiet

step "loader report: one self-contained HTML page per campaign"
loader report --output "$workdir/report"
echo "Open $workdir/report/index.html in a browser (it needs no network)."

step "loader status"
loader status

step "Next steps"
cat <<NEXT
1. Run the tools yourself: activate the environment with \`source .venv/bin/activate\`
   (or call .venv/bin/loader and .venv/bin/dbt directly), then e.g. \`loader status\`.
2. Push to the emulator again: it has stopped with this demo; start one with
   \`loader emulator --port 8765 --account-id $account\` in another terminal, then
     export KLAVIYO_BASE_URL=http://127.0.0.1:8765 KLAVIYO_API_KEY=pk_demo DUCKDB_PATH=$DUCKDB_PATH
     loader push --all --dry-run     # what a push would send
     loader push --all               # send it (the new emulator is empty: everything is sent)
3. Write your own campaign: copy one in models/campaigns/ (docs/campaigns.md), add its name
   to klaviyo_campaigns in dbt_project.yml, \`dbt build --profiles-dir . --project-dir .\`,
   then \`loader push YOUR_CAMPAIGN\`.
4. Then try: change a segment and push again (only the changes are sent; \`loader push
   --sample 100\` first), \`loader export CAMPAIGN --list LIST\` for a CSV, \`loader lists\`,
   and docs/sync.md, docs/scheduling.md for what a push does and how to schedule it.
5. Did it work? Open $workdir/report/index.html: each campaign's lift against its control
   group, with confidence intervals (docs/results.md; \`loader report --output DIR\`).
NEXT
