#!/usr/bin/env bash
# Side-by-side throughput of SetActivityStatus servers on this machine, in one run.
#
# Peers (each one process; all but wiremock do one SQLite UPDATE + commit per call that really changes the row):
#   raw     lxml parse + sqlite3 + canned answer under granian (WSGI): roughly the least Python can do per call
#   raw-rsgi  the same on granian's RSGI interface
#   spyne   the plain spyne service a user would write in an afternoon, under granian
#   node    a node-soap server from the same WSDL, better-sqlite3
#   wiremock  WireMock standalone (npm package wiremock, Java) with one stub: the WCF success reply, no state
# The server under test joins with:
#   EMULATOR_CMD  command that serves on port $PORT (the script exports PORT), one process
#   EMULATOR2_CMD, EMULATOR2_NAME  optionally a second configuration of it, measured in the same run
#   EMULATOR_URL  endpoint path, default /Remote/Services86/Appointment.svc
#   EMULATOR_REQ  request file, default req11.xml here (ticket 7T:1234abcxyzExample==, appointment_id=17);
#                 a .json file is sent with the REST twin's headers (post.lua)
# Options (env): ROUNDS (3), DUR seconds per round (4), CONNS (4), ONLY (space-separated names).
# Prints one line per server: median requests/s, median p99 latency, the ratio to the first server, and the
# median start-up time (launch to the first answered SetActivityStatus, in seconds).
# Needs wrk, python3 with venv, and node with npm (java for wiremock, optional); the peers' packages
# are installed once into $BENCH_WORK (/tmp/so-bench). `python -m benchmarks compare` (make bench)
# runs this script with the emulator as EMULATOR_CMD.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ROUNDS=${ROUNDS:-3}; DUR=${DUR:-4}; CONNS=${CONNS:-4}
work=${BENCH_WORK:-/tmp/so-bench}; mkdir -p "$work"
command -v wrk >/dev/null || { echo "compare.sh needs wrk (apt-get install wrk, brew install wrk)" >&2; exit 1; }
if [ ! -x "$work/venv/bin/granian" ]; then
  python3 -m venv "$work/venv"
  "$work/venv/bin/pip" install -q spyne lxml granian six 'legacy-cgi; python_version>="3.13"' >/dev/null
fi
if [ ! -d "$work/node/node_modules/soap" ]; then
  mkdir -p "$work/node" && (cd "$work/node" && npm init -y >/dev/null && npm install -q soap@1 better-sqlite3 >/dev/null 2>&1)
fi
if [ ! -f "$work/wiremock/node_modules/wiremock/package.json" ] && command -v java >/dev/null; then
  mkdir -p "$work/wiremock" && (cd "$work/wiremock" && npm init -y >/dev/null && npm install -q wiremock@3.13.2 >/dev/null 2>&1)
fi
"$work/venv/bin/python" "$here/mkdb.py" "$work/peer.db" 10000

port=18711
names=(); cmds=(); urls=(); reqs=()
add() { names+=("$1"); cmds+=("$2"); urls+=("$3"); reqs+=("$4"); }
if [ -n "${EMULATOR_CMD:-}" ]; then
  add emulator "$EMULATOR_CMD" "${EMULATOR_URL:-/Remote/Services86/Appointment.svc}" "${EMULATOR_REQ:-$here/req11.xml}"
fi
if [ -n "${EMULATOR2_CMD:-}" ]; then  # a second configuration of the server under test, same run
  add "${EMULATOR2_NAME:-emulator2}" "$EMULATOR2_CMD" "${EMULATOR_URL:-/Remote/Services86/Appointment.svc}" "${EMULATOR_REQ:-$here/req11.xml}"
fi
gr="$work/venv/bin/granian --interface wsgi --workers 1 --host 127.0.0.1 --port \$PORT --log-level warning"
add raw "cd $here && PEER_DB=$work/peer.db $gr peer_raw:app" / "$here/req11.xml"
add raw-rsgi "cd $here && PEER_DB=$work/peer.db ${gr/--interface wsgi/--interface rsgi} peer_raw:rsgi" / "$here/req11.xml"
add spyne "cd $here && PEER_DB=$work/peer.db $gr peer_spyne:app" / "$here/req11.xml"
add node "PEER_DB=$work/peer.db NODESOAP=$work/node node $here/peer_node.js" /Remote/Services86/Appointment.svc "$here/req11.xml"
wmjar=$(ls "$work"/wiremock/node_modules/wiremock/build/wiremock-standalone-*.jar 2>/dev/null | head -1)
if [ -n "$wmjar" ]; then
  add wiremock "exec java -jar $wmjar --port \$PORT --bind-address 127.0.0.1 --root-dir $here/wiremock --disable-banner" \
    /Remote/Services86/Appointment.svc "$here/req11.xml"
fi

declare -A rps p99 start
for ((r = 0; r < ROUNDS; r++)); do
  for i in "${!names[@]}"; do
    n=${names[$i]}
    if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $n "* ]]; then continue; fi
    export PORT=$port
    t0=$(date +%s.%N)
    setsid bash -c "${cmds[$i]}" >"$work/$n.log" 2>&1 & pid=$!
    url="http://127.0.0.1:$port${urls[$i]}"
    for _ in $(seq 300); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.05; done
    code=$(curl -s -o "$work/$n.answer" -w '%{http_code}' -X POST -H 'Content-Type: text/xml; charset=utf-8' \
      -H 'SOAPAction: "http://www.superoffice.net/ws/crm/NetServer/Services86/Appointment/SetActivityStatus"' \
      --data-binary @"${reqs[$i]}" "$url" || true)
    start[$n]+="$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}') "
    if [ "$code" != 200 ]; then echo "$n: first call answered HTTP $code (see $work/$n.answer, $work/$n.log)" >&2; fi
    REQ=${reqs[$i]} wrk -t1 -c1 -d1s -s "$here/post.lua" "$url" >/dev/null
    out=$(REQ=${reqs[$i]} wrk -t1 -c"$CONNS" -d"${DUR}s" --latency -s "$here/post.lua" "$url")
    bad=$(grep -oE 'Non-2xx or 3xx responses: [0-9]+' <<<"$out" | grep -oE '[0-9]+$' || echo 0)
    [ "$bad" = 0 ] || echo "$n: $bad answers were not HTTP 2xx" >&2
    rps[$n]+="$(awk '/Requests\/sec/ {print $2}' <<<"$out") "
    p99[$n]+="$(awk '$1=="99%" {v=$2; u=v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
      printf "%.2f", v * (u=="us" ? 0.001 : u=="s" ? 1000 : u=="m" ? 60000 : 1)}' <<<"$out") "
    kill -- -"$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
    sleep 0.3
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
first=""
printf '%-12s %12s %10s %8s %8s\n' server 'req/s' 'p99' ratio 'start s'
for n in "${names[@]}"; do
  [ -n "${rps[$n]:-}" ] || continue
  m=$(median <<<"${rps[$n]}"); l=$(median <<<"${p99[$n]}")ms
  [ -n "$first" ] || first=$m
  st=$(median <<<"${start[$n]}")
  printf '%-12s %12.0f %10s %8.2f %8s\n' "$n" "$m" "$l" "$(awk -v a="$m" -v b="$first" 'BEGIN {print a / b}')" "$st"
done
