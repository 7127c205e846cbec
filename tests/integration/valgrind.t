#!/usr/bin/env bash
# valgrind.t: `certgate serve` under valgrind memcheck through a tour of its paths —
# directory allow and deny, no certificate, unknown CA, a silent client timing out, the
# admin API (health, events, stats, metrics, check, reload), SIGHUP and SIGTERM — must end
# with no memory error and nothing definitely or indirectly lost.
#
# valgrind cannot run a sanitizer build: ./quickstart check builds a plain one and points
# CG_VALGRIND_BIN at it. Without it (or without valgrind) the test is skipped, not passed.
. "$(dirname "$0")/lib.sh"

if [ -z "${CG_VALGRIND_BIN:-}" ] || [ ! -x "${CG_VALGRIND_BIN:-}" ] || ! command -v valgrind >/dev/null; then
	echo "1..0 # SKIP no CG_VALGRIND_BIN (a build without sanitizers) or no valgrind"
	exit 0
fi
. "$top_srcdir/tests/fixtures/slapd.sh"

pki=$CG_TMP/pki
other=$CG_TMP/other
cg_pki init "$pki" >/dev/null || bail_out "certgate pki init failed"
cg_pki init "$other" >/dev/null || bail_out "certgate pki init (second PKI) failed"
cg_issue "$pki" alice --uid alice
cg_issue "$pki" bob --uid bob
cg_issue "$other" outsider --uid alice
cg_slapd_start
cg_store "$pki" alice uid=alice,ou=people,dc=example,dc=org

port=$(cg_free_port)
api=$(cg_free_port)
conf=$CG_TMP/certgate.conf
{
	cg_conf_gate "$port" "$pki" 'handshake_timeout = 2s'
	cg_conf_directory
	printf '[events]\naudit_log = %s\nfsync = always\n\n[admin]\nlisten = 127.0.0.1:%s\n' \
		"$CG_TMP/audit.jsonl" "$api"
} >"$conf"

vglog=$CG_TMP/valgrind.log
valgrind --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
	--error-exitcode=99 --log-file="$vglog" \
	"$CG_VALGRIND_BIN" serve -c "$conf" --pidfile "$CG_TMP/vg.pid" 2>"$CG_TMP/vg.log" &
vgpid=$!
CG_OTHER_PIDS+=("$vgpid")
for ((i = 0; i < 300; i++)); do
	[ -s "$CG_TMP/vg.pid" ] && _cg_listening "$port" && _cg_listening "$api" && break
	sleep 0.1
done
ok "certgate under valgrind listens" _cg_listening "$port"

body=$(cg_curl "$port" "$pki" alice 2>/dev/null)
is "$(jqr "$body" .outcome)" allowed "alice is allowed"
body=$(cg_curl "$port" "$pki" bob 2>/dev/null)
is "$body" "" "bob is denied"
cg_curl "$port" "$pki" - >/dev/null 2>&1
cg_curl "$port" "$pki" "$other/outsider" >/dev/null 2>&1
timeout 15 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; cat <&3" >/dev/null 2>&1  # silent: closed at 2 s
for path in /v1/health /v1/events /v1/events/1 /v1/stats /metrics /v1/connections /v1/identities \
	/v1/config '/v1/events?limit=-1' /nope; do
	curl -s --max-time 10 "http://127.0.0.1:$api$path" >/dev/null
done
curl -s --max-time 10 --data-binary @"$pki/alice.pem" "http://127.0.0.1:$api/v1/check" >/dev/null
curl -s --max-time 10 -X POST "http://127.0.0.1:$api/v1/reload" >/dev/null
kill -HUP "$vgpid"
sleep 1
body=$(cg_curl "$port" "$pki" alice 2>/dev/null)
is "$(jqr "$body" .outcome)" allowed "alice is allowed after two reloads"
is "$(grep -c '^{' "$CG_TMP/vg.log")" 6 "six events were logged"

kill -TERM "$vgpid"
wait "$vgpid"
rc=$?
is "$rc" 0 "certgate exits 0 on SIGTERM with no valgrind error (status 99 means errors)"
like "$(cat "$vglog")" "ERROR SUMMARY: 0 errors" "valgrind: 0 errors"
unlike "$(cat "$vglog")" "definitely lost: [1-9]|indirectly lost: [1-9]" "valgrind: nothing definitely or indirectly lost"
[ "$rc" = 0 ] || diag "$(grep -A12 -E 'Invalid|uninitialised|definitely lost in' "$vglog" | head -60)"

done_testing
