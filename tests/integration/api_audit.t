#!/usr/bin/env bash
# api_audit.t: the audit log ([events] audit_log, DESIGN §5, §7; issue 4 item 1) holds
# exactly one JSON line per event after a burst of 5,000 mutual-TLS connections (cgload,
# concurrency 50, each sending a request), once with fsync = always and once with
# fsync = interval: line count == events recorded (/v1/stats) == 5,000 + the few events
# the test caused itself; every line is JSON; ids strictly increasing and unique; the
# lines are the events of the log. With fsync = always every event is on disk before its
# client is let through, so the file is complete the moment the last client has its
# answer. SIGUSR1 after renaming the file starts a new file that receives the next events
# and the two files together still hold every event once. No [directory] in the burst
# configuration: slapd would be the bottleneck, and the journal is what is tested here.
. "$(dirname "$0")/lib.sh"

CGLOAD=$top_builddir/tests/tools/cgload
BURST=${CG_AUDIT_BURST:-5000}
[ -x "$CGLOAD" ] || bail_out "no load client at $CGLOAD (make tests/tools/cgload)"

pki=$CG_TMP/pki
cg_pki init "$pki" >/dev/null || bail_out "certgate pki init failed"
cg_pki issue "$pki" alice --uid alice >/dev/null || bail_out "pki issue alice failed"

api_stats() {  # api_stats NAME: /v1/stats of gate NAME
	timeout 20 curl -sS --max-time 15 "http://127.0.0.1:${APORT[$1]}/v1/stats"
}
declare -A APORT=()

# check_file_lines FILE LABEL: every line JSON, ids strictly increasing (so unique); prints
# "LINES FIRST_ID LAST_ID" on stdout, assertions on the way.
check_lines() {
	local f=$1 label=$2 n bad
	n=$(wc -l <"$f")
	bad=$(jq -cR 'fromjson? // "BAD"' "$f" 2>/dev/null | grep -c '^"BAD"$')
	[ -n "$bad" ] || bad=0
	is "$bad/$(jq -cR 'fromjson?' "$f" 2>/dev/null | wc -l)" "0/$n" "$label: every line of $(basename "$f") parses as JSON"
	bad=$(jq -r '.id' "$f" 2>/dev/null | awk 'NR > 1 && $1 + 0 <= prev + 0 { print NR ": " prev " then " $1; exit }
		{ prev = $1 }')
	is "$bad" "" "$label: ids in $(basename "$f") strictly increasing (hence unique)"
}

# burst MODE: one certgate with fsync = MODE; a few events by hand, the burst, the checks.
burst() {
	local mode=$1 name=gate_$1 port aport audit st out rec pre n events_log
	port=$(cg_free_port)
	aport=$(cg_free_port)
	APORT[$name]=$aport
	audit=$CG_TMP/audit-$mode.jsonl
	cat >"$CG_TMP/$name.conf" <<EOF
[server]
listen = 127.0.0.1:$port
cert = $pki/server.pem
key = $pki/server.key
workers = 2
max_connections = 1000
handshake_timeout = 30s

[pki]
ca = $pki/ca.pem

[events]
buffer = 1000
audit_log = $audit
fsync = $mode

[admin]
listen = 127.0.0.1:$aport
EOF
	cg_start "$name" "$CG_TMP/$name.conf" || bail_out "certgate ($mode) did not start"

	# two events by hand: an allowed one and a denial
	cg_mark "$name"
	cg_curl "$port" "$pki" alice >/dev/null 2>&1
	cg_next_event "$name" 15 >/dev/null
	cg_curl "$port" "$pki" - >/dev/null 2>&1
	cg_next_event "$name" 15 >/dev/null
	pre=2

	timeout 300 "$CGLOAD" --host 127.0.0.1 --port "$port" --ca "$pki/ca.pem" --cert "$pki/alice.pem" \
		--key "$pki/alice.key" --connections "$BURST" --concurrency 50 --request --json \
		>"$CG_TMP/cgload-$mode.json" 2>"$CG_TMP/cgload-$mode.err"
	st=$?
	# with fsync = always, nothing may be missing the moment the last client is answered
	n=$(wc -l <"$audit")
	out=$(cat "$CG_TMP/cgload-$mode.json")
	is "$st" 0 "$mode: cgload finished without errors"
	is "$(jqr "$out" '"\(.connections)/\(.allowed)/\(.errors)"')" "$BURST/$BURST/0" \
		"$mode: $BURST connections, all allowed (each got its 200), no errors" ||
		diag "cgload: $out $(head -c 500 "$CG_TMP/cgload-$mode.err")"
	diag "$mode: $(jqr "$out" '"\(.elapsed_s) s, \(.allowed_per_s)/s, p99 \(.p99_ms) ms"')"
	if [ "$mode" = always ]; then
		is "$n" "$((BURST + pre))" "always: the audit file is complete as soon as the last client has its answer"
	fi

	rec=$(jqr "$(api_stats "$name")" .events.recorded)
	is "$rec" "$((BURST + pre))" "$mode: /v1/stats events recorded == $BURST + $pre"
	is "$(jqr "$(api_stats "$name")" .events.dropped)" 0 "$mode: no event dropped"

	# graceful stop: the writer flushes what is left
	cg_stop "$name" 30
	is "$?" 0 "$mode: certgate exits 0 on SIGTERM"
	cg_sanitizer_clean "$name" "$mode: certgate: no sanitizer report"

	n=$(wc -l <"$audit")
	is "$n" "$rec" "$mode: audit lines == events recorded ($rec)"
	check_lines "$audit" "$mode"
	is "$(jq -r .id "$audit" | head -n 1)/$(jq -r .id "$audit" | tail -n 1)" "1/$rec" "$mode: ids run from 1 to $rec"
	events_log=$(cg_events "$name" | jq -cS . 2>/dev/null | sort | sha256sum)
	is "$(jq -cS . "$audit" 2>/dev/null | sort | sha256sum)" "$events_log" \
		"$mode: the audit lines are exactly the event lines of the log"
	is "$(jq -r 'select(.outcome == "allowed") | .id' "$audit" | wc -l)" "$((BURST + 1))" \
		"$mode: $((BURST + 1)) allowed events (the burst and alice)"
	ok "$mode: the file is not world-readable" [ "$(( $(stat -c '%a' "$audit") % 10 ))" = 0 ]
}

burst always
burst interval

# ---------------------------------------------------------------- SIGUSR1 reopen

port=$(cg_free_port)
aport=$(cg_free_port)
APORT[rot]=$aport
audit=$CG_TMP/audit-rot.jsonl
cat >"$CG_TMP/rot.conf" <<EOF
[server]
listen = 127.0.0.1:$port
cert = $pki/server.pem
key = $pki/server.key
workers = 2

[pki]
ca = $pki/ca.pem

[events]
audit_log = $audit
fsync = always

[admin]
listen = 127.0.0.1:$aport
EOF
cg_start rot "$CG_TMP/rot.conf" || bail_out "certgate (rotation) did not start"
one() {  # one: an allowed connection, waits for its event; prints its id
	cg_mark rot
	cg_curl "$port" "$pki" alice >/dev/null 2>&1
	jqr "$(cg_next_event rot 15)" .id
}
for i in 1 2 3; do one >/dev/null; done
is "$(wc -l <"$audit")" 3 "rotation: 3 events in the audit file"
mv "$audit" "$audit.1"
id4=$(one)
is "$(jq -r .id "$audit.1" | tail -n 1)" "$id4" "rotation: before SIGUSR1, the renamed file still receives events"
ok "rotation: no new file before SIGUSR1" [ ! -e "$audit" ]
kill -USR1 "$(cg_pid rot)"
for ((i = 0; i < 100; i++)); do [ -e "$audit" ] && break; sleep 0.1; done
ok "rotation: SIGUSR1 creates a new file at the configured path" [ -e "$audit" ]
like "$(grep -av '^{' "$(cg_log rot)")" 'reopen' "rotation: the log says the audit log was reopened"
id5=$(one)
id6=$(one)
is "$(jq -r .id "$audit" 2>/dev/null | paste -sd' ')" "$id5 $id6" "rotation: the next events go to the new file"
is "$(wc -l <"$audit.1")" 4 "rotation: the renamed file keeps its 4 events and gets no more"
check_lines "$audit" "rotation (new file)"
rec=$(jqr "$(api_stats rot)" .events.recorded)
is "$(( $(wc -l <"$audit.1") + $(wc -l <"$audit") ))" "$rec" "rotation: both files together hold every event once"
# SIGUSR1 without renaming: same file, appended
kill -USR1 "$(cg_pid rot)"
for ((i = 0; i < 100; i++)); do
	[ "$(grep -ac 'reopen' "$(cg_log rot)")" -ge 4 ] && break
	sleep 0.1
done
id7=$(one)
is "$(jq -r .id "$audit" | paste -sd' ')" "$id5 $id6 $id7" "rotation: a second SIGUSR1 without renaming appends to the same file"

cg_finish
