#!/usr/bin/env bash
# The write path in one run (docs/performance.md, "The write path without a global lock"):
# a fresh instance of the real binary on its embedded PostgreSQL and NATS, then
# raw-insert@16 (the yardstick), rotate@16, create@16, resolve@32 and mixed@16 through one
# serve, then rotate@16 and resolve@32 through two serve processes on the one database
# (each process driven by its own bench with half the clients, at the same time).
# PostgreSQL of this instance loads pg_stat_statements (ALTER SYSTEM, then a restart;
# track = all, so statements inside functions count), which gives, on the server's clock,
# the time appends waited for a lock: in `SELECT pg_advisory_xact_lock(...)` (the global
# append lock of binaries before the lock-free log) or in the stream locks of
# ledger_lock_stream (`SELECT pg_advisory_xact_lock(k)` / `..._shared(k)`, after it).
# The sealer's lag (recorded → chained) is read from serve's /metrics histogram around each
# scenario (binaries with a sealer only). serve's CPU profile is taken during rotate@16.
# Run it with two binaries (before, after) for a before/after table.
#
#   docs/bench/write-path.sh [BIN [OUT]]    # BIN: the secretsledger binary; OUT: a new dir
#
# DURATION and WARMUP (default 10s, 2s) set each scenario's length; PORT_BASE (default
# 18400) the first of the five loopback ports it uses. No secret is put on a command line:
# the bench processes read the instance's board.token file, psql a 0600 passfile.
set -euo pipefail

BIN=$(command -v "${1:-secretsledger}")
OUT=${2:-$(mktemp -d /tmp/write-path.XXXXXX)}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
PORT_BASE=${PORT_BASE:-18400}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

export LEDGER_HOME=$OUT/home
export LEDGER_HTTP_ADDR=127.0.0.1:$PORT_BASE
export LEDGER_NATS_ADDR=127.0.0.1:$((PORT_BASE + 1))
HTTP2=127.0.0.1:$((PORT_BASE + 2))
PPROF=127.0.0.1:$((PORT_BASE + 3))
unset DATABASE_URL NATS_URL LEDGER_TOKEN LEDGER_URL

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

log() { echo "== $*" >&2; }

# wait_ready ADDR PID: /readyz answers 200, or the process died.
wait_ready() {
	for _ in $(seq 1 600); do
		curl -fs -o /dev/null "http://$1/readyz" && return 0
		kill -0 "$2" 2>/dev/null || { echo "serve at $1 exited; see $OUT/serve*.log" >&2; exit 1; }
		sleep 0.2
	done
	echo "serve at $1 not ready after 120 s" >&2
	exit 1
}

# serve1: the owner of the embedded PostgreSQL and NATS, with the profiling endpoint.
serve1() {
	LEDGER_PPROF_ADDR=$PPROF "$BIN" serve >>"$OUT/serve1.log" 2>&1 &
	S1=$!
	pids+=("$S1")
	wait_ready "$LEDGER_HTTP_ADDR" "$S1"
}

stop() { kill -TERM "$1" && wait "$1" 2>/dev/null || true; }

log "fresh instance in $LEDGER_HOME"
serve1
INST=$(dirname "$(find "$LEDGER_HOME/instances" -name board.token | head -1)")
PGPORT=$(cat "$INST/db/port")
export PGPASSFILE=$OUT/pgpass
( umask 077; printf '127.0.0.1:*:*:secretsledger:%s\n' "$(cat "$INST/db/password")" >"$PGPASSFILE" )
sql() { psql -X -qAt -h 127.0.0.1 -p "$PGPORT" -U secretsledger -d postgres -v ON_ERROR_STOP=1 -c "$1"; }
sql "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"
log "restart to load pg_stat_statements"
stop "$S1"
serve1
PGPORT=$(cat "$INST/db/port")
sql "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" # in the postgres database, not the ledger's
sql "ALTER SYSTEM SET pg_stat_statements.track = 'all'" # known once the library is loaded
sql "SELECT pg_reload_conf()" >/dev/null

# lockstats: the append lock's takers (calls: one per batch before, one per stream lock
# after), the summed and the longest wait in it (ms), the appends (transactions that
# wrote events: batches before, ledger_reserve calls after) and the events inserted, since
# the last reset.
lockstats() {
	sql "WITH s AS (SELECT query, calls, total_exec_time, max_exec_time, rows,
			query LIKE 'SELECT pg_advisory_xact_lock%' AS lock,
			query = 'SELECT pg_advisory_xact_lock(\$1)' OR query LIKE '%FROM ledger_reserve(%' AS txn,
			(query LIKE 'INSERT INTO ledger_events%' AND query NOT LIKE '%\$10::timestamptz[]%') OR query LIKE 'INSERT INTO ledger_appends%' AS ins
			FROM pg_stat_statements)
		SELECT coalesce(sum(calls) FILTER (WHERE lock), 0), round(coalesce(sum(total_exec_time) FILTER (WHERE lock), 0)::numeric, 1),
			round(coalesce(max(max_exec_time) FILTER (WHERE lock), 0)::numeric, 2), coalesce(sum(calls) FILTER (WHERE txn), 0),
			coalesce(sum(rows) FILTER (WHERE ins), 0) FROM s"
}

# seal_lag ADDR...: the sealer-lag histogram's buckets summed over the serve processes at
# ADDR (le=count lines), empty for a binary without a sealer.
seal_lag() {
	for a in "$@"; do curl -fs "http://$a/metrics" || true; done |
		awk '/^secretsledger_eventstore_seal_lag_seconds_bucket/ { match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5); n[le] += $2 }
			END { for (le in n) print le, n[le] }' | sort -g
}

# lag_p NAME: p50 and p99 of the sealer's lag over a scenario (ms, the upper bound of
# the bucket holding it), from $OUT/NAME.lag0 and .lag1.
lag_p() {
	[ -s "$OUT/$1.lag1" ] || { echo "— | —"; return; }
	join "$OUT/$1.lag0" "$OUT/$1.lag1" 2>/dev/null | awk '{ le[NR] = $1; d[NR] = $3 - $2 } END {
		total = d[NR]; if (total <= 0) { print "— | —"; exit }
		for (i = 1; i <= NR; i++) { if (!p50 && d[i] >= 0.5 * total) p50 = le[i]; if (!p99 && d[i] >= 0.99 * total) p99 = le[i] }
		printf "≤ %g | ≤ %g\n", p50 * 1000, p99 * 1000 }'
}

# bench NAME SCENARIO CLIENTS [URL]: one bench run, its JSON in $OUT/NAME.json.
bench() {
	local url=()
	[ -n "${4:-}" ] && url=(--url "http://$4")
	"$BIN" bench --scenario "$2" --concurrency "$3" --duration "$DURATION" --warmup "$WARMUP" --json "${url[@]}" >"$OUT/$1.json"
}

# scenario NAME SCENARIO CLIENTS: one bench through serve 1, with its lock and lag figures.
scenario() {
	log "$1"
	sql "SELECT pg_stat_statements_reset()" >/dev/null
	seal_lag "$LEDGER_HTTP_ADDR" >"$OUT/$1.lag0"
	local t0=$SECONDS
	bench "$@"
	echo "$(lockstats)|$((SECONDS - t0))" >"$OUT/$1.lock"
	seal_lag "$LEDGER_HTTP_ADDR" >"$OUT/$1.lag1"
}

scenario raw-insert raw-insert 16
log "rotate@16 with serve's CPU profile"
sql "SELECT pg_stat_statements_reset()" >/dev/null
seal_lag "$LEDGER_HTTP_ADDR" >"$OUT/rotate.lag0"
t0=$SECONDS
bench rotate rotate 16 &
b=$!
sleep "$(( ${WARMUP%s} + 1 ))"
curl -fs -o "$OUT/rotate.cpu.pprof" "http://$PPROF/debug/pprof/profile?seconds=$(( ${DURATION%s} - 2 ))"
wait "$b"
echo "$(lockstats)|$((SECONDS - t0))" >"$OUT/rotate.lock"
seal_lag "$LEDGER_HTTP_ADDR" >"$OUT/rotate.lag1"
# The statements that took the most of PostgreSQL's time during rotate@16.
sql "SELECT calls, round(total_exec_time::numeric, 0) AS total_ms, round(mean_exec_time::numeric, 3) AS mean_ms,
		left(regexp_replace(query, '\s+', ' ', 'g'), 90) FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 15" >"$OUT/rotate.statements"
scenario create create 16
scenario resolve resolve 32
scenario mixed mixed 16

log "second serve on the same instance (its PostgreSQL, serve 1's NATS)"
AUTH=$INST/nats/auth
ACCOUNT=$(python3 -c 'import base64,json,sys; p=open(sys.argv[1]).read().split(".")[1]; print(json.loads(base64.urlsafe_b64decode(p+"="*(-len(p)%4)))["sub"])' "$AUTH/account.jwt")
LEDGER_HTTP_ADDR=$HTTP2 NATS_URL=nats://$LEDGER_NATS_ADDR LEDGER_NATS_CREDS_FILE=$AUTH/ledger.creds \
	LEDGER_NATS_ACCOUNT=$ACCOUNT LEDGER_NATS_ACCOUNT_SEED_FILE=$AUTH/account-signing.seed \
	LEDGER_NATS_OPERATOR_SEED_FILE=$AUTH/operator-signing.seed LEDGER_NATS_SYSTEM_CREDS_FILE=$AUTH/system.creds \
	"$BIN" serve >>"$OUT/serve2.log" 2>&1 &
S2=$!
pids+=("$S2")
wait_ready "$HTTP2" "$S2"

# pair NAME SCENARIO CLIENTS: half the clients through each serve, at the same time.
pair() {
	log "$1 (two processes)"
	sql "SELECT pg_stat_statements_reset()" >/dev/null
	seal_lag "$LEDGER_HTTP_ADDR" "$HTTP2" >"$OUT/$1.lag0"
	local t0=$SECONDS
	bench "$1.a" "$2" "$(($3 / 2))" "$LEDGER_HTTP_ADDR" &
	local a=$!
	bench "$1.b" "$2" "$(($3 / 2))" "$HTTP2"
	wait "$a"
	echo "$(lockstats)|$((SECONDS - t0))" >"$OUT/$1.lock"
	seal_lag "$LEDGER_HTTP_ADDR" "$HTTP2" >"$OUT/$1.lag1"
}
pair rotate2 rotate 16
pair resolve2 resolve 32

go tool pprof -top -nodecount=15 "$BIN" "$OUT/rotate.cpu.pprof" >"$OUT/rotate.cpu.top" 2>/dev/null
go tool pprof -top -cum -nodecount=40 "$BIN" "$OUT/rotate.cpu.pprof" >"$OUT/rotate.cpu.cum" 2>/dev/null

# The table.
ops() { jq -r '.ops_per_sec' "$OUT/$1.json"; }
yard=$(ops raw-insert)
row() { # LABEL NAME [NAME2]: throughput, p50/p99, ratio to the yardstick, lock and sealer figures
	local label=$1 f=$2 s p50 p99 err
	if [ -n "${3:-}" ]; then
		s=$(jq -s '.[0].ops_per_sec + .[1].ops_per_sec' "$OUT/$f.a.json" "$OUT/$f.b.json")
		p50=$(jq -rs '"\(.[0].p50_ms) / \(.[1].p50_ms)"' "$OUT/$f.a.json" "$OUT/$f.b.json")
		p99=$(jq -rs '"\(.[0].p99_ms) / \(.[1].p99_ms)"' "$OUT/$f.a.json" "$OUT/$f.b.json")
		err=$(jq -s '.[0].errors + .[1].errors' "$OUT/$f.a.json" "$OUT/$f.b.json")
	else
		s=$(ops "$f"); p50=$(jq -r .p50_ms "$OUT/$f.json"); p99=$(jq -r .p99_ms "$OUT/$f.json"); err=$(jq -r .errors "$OUT/$f.json")
	fi
	IFS='|' read -r locks wait_ms max_ms txns events secs <"$OUT/$f.lock"
	awk -v l="$label" -v s="$s" -v y="$yard" -v p50="$p50" -v p99="$p99" -v e="$err" -v lag="$(lag_p "$f")" \
		-v k="$locks" -v w="$wait_ms" -v m="$max_ms" -v x="$txns" -v ev="$events" -v t="$secs" 'BEGIN {
		lock = "—"
		if (x > 0) lock = sprintf("%.3f ms per append (max %.1f); %d appends, %.1f events each; summed wait %.1f%% of wall time", w / x, m, x, ev / x, 100 * w / (t * 1000))
		printf "| %s | %.0f | %s | %s | %.3f× | %d | %s | %s |\n", l, s, p50, p99, s / y, e, lag, lock }'
}
{
	echo "| scenario | ops/s | p50 ms | p99 ms | / yardstick | errors | sealer lag p50 ms | sealer lag p99 ms | lock wait (pg_stat_statements) |"
	echo "|---|---:|---|---|---:|---:|---|---|---|"
	row "raw-insert @16 (yardstick)" raw-insert
	row "rotate @16" rotate
	row "create @16" create
	row "resolve @32" resolve
	row "mixed @16" mixed
	row "rotate @16, two processes (8 + 8)" rotate2 pair
	row "resolve @32, two processes (16 + 16)" resolve2 pair
	echo
	awk -v r1="$(ops rotate)" -v q1="$(ops resolve)" \
		-v r2="$(jq -s '.[0].ops_per_sec + .[1].ops_per_sec' "$OUT/rotate2.a.json" "$OUT/rotate2.b.json")" \
		-v q2="$(jq -s '.[0].ops_per_sec + .[1].ops_per_sec' "$OUT/resolve2.a.json" "$OUT/resolve2.b.json")" \
		'BEGIN { printf "two / one process: rotate %.2f×, resolve %.2f×\n", r2 / r1, q2 / q1 }'
	echo
	echo "serve's CPU during rotate@16 (go tool pprof -top, $OUT/rotate.cpu.pprof):"
	cat "$OUT/rotate.cpu.top"
	echo
	echo "PostgreSQL's statements during rotate@16 (pg_stat_statements: calls | total ms | mean ms | query):"
	cat "$OUT/rotate.statements"
} | tee "$OUT/table.md"
