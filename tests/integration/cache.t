#!/usr/bin/env bash
# cache.t: the decision cache with RFC 4533 sync invalidation, on_unavailable = stale, and
# re-checks of open connections (revoked_live) — against a real slapd with syncprov.
#   - a second connection is answered from the cache ("cache": "hit")
#   - a certificate removed from its entry: sync drops the decision, the next connection
#     is denied, and an open connection of that certificate is closed with a "recheck"
#     event (revoked_live) naming its first event
#   - a revoked certificate + SIGHUP closes its open connection (reload re-check)
#   - recheck_interval closes an open connection without any cache
#   - slapd down: fail closed by default; with on_unavailable = stale the cached decision
#   - /v1/cache figures, DELETE /v1/cache and DELETE /v1/cache/SHA256
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/fixtures/slapd.sh"

pki=$CG_TMP/pki
cg_pki init "$pki" >/dev/null || bail_out "certgate pki init failed"
for n in alice alice2 alice3 bob carol; do
	u=${n%[0-9]}
	cg_issue "$pki" "$n" --uid "$u"
done
cg_slapd_start
base=ou=people,dc=example,dc=org
del_cert() {
	slapd_modify >/dev/null <<EOF
dn: uid=$2,$base
changetype: modify
delete: userCertificate;binary
userCertificate;binary:: $(openssl x509 -in "$pki/$1.pem" -outform DER | base64 -w0)
EOF
}
for n in alice alice2 alice3; do cg_store "$pki" "$n" "uid=alice,$base"; done
cg_store "$pki" bob "uid=bob,$base"
cg_store "$pki" carol "uid=carol,$base"

gate_conf() {  # gate_conf NAME [EXTRA_DIRECTORY_LINES] [CACHE_LINES]
	local port api
	port=$(cg_free_port)
	api=$(cg_free_port)
	{
		cg_conf_gate "$port" "$pki" 'idle_timeout = 60s'
		cg_conf_directory "${2:-}"
		printf '[cache]\n%s\n\n[admin]\nlisten = 127.0.0.1:%s\n' "${3:-}" "$api"
	} >"$CG_TMP/$1.conf"
	printf '%s %s\n' "$port" "$api"
}
api() { curl -s --max-time 10 "$@"; }
try() {  # try GATE PORT NAME: sets EV (the event) and BODY
	cg_mark "$1"
	BODY=$(cg_curl "$2" "$pki" "$3" 2>/dev/null)
	EV=$(cg_next_event "$1" 15)
}
# hold GATE PORT NAME: an allowed client that keeps its connection open; sets HELD_PID, HELD_EV
hold() {
	cg_mark "$1"
	mkfifo "$CG_TMP/held-$3.in"
	timeout 90 openssl s_client -connect "127.0.0.1:$2" -CAfile "$pki/ca.pem" \
		-cert "$pki/$3.pem" -key "$pki/$3.key" -quiet <"$CG_TMP/held-$3.in" >"$CG_TMP/held-$3.out" 2>&1 &
	HELD_PID=$!
	exec {held_fd}>"$CG_TMP/held-$3.in"  # its stdin stays open (and silent) while the test runs
	CG_OTHER_PIDS+=("$HELD_PID")
	HELD_EV=$(cg_wait_event "$1" '.outcome == "allowed"' 15)
}
gone() { for ((i = 0; i < 150; i++)); do _cg_proc_gone "$1" && return 0; sleep 0.1; done; return 1; }
wait_json() {  # wait_json URL JQ_TRUE_FILTER: bounded poll of the admin API
	for ((i = 0; i < 100; i++)); do
		[ "$(api "$1" | jq -r "$2" 2>/dev/null)" = true ] && return 0
		sleep 0.1
	done
	return 1
}

# ---- the cache with sync (the defaults: ttl 60s, sync on)
read -r p1 a1 < <(gate_conf main)
cg_start main "$CG_TMP/main.conf" || bail_out "certgate did not start"
ok "sync reports healthy after its refresh" wait_json "http://127.0.0.1:$a1/v1/cache" '.sync.healthy'
try main "$p1" alice
is "$(jqr "$EV" '.reason + "/" + .directory.cache')" "ok/miss" "alice, first connection: from the directory"
try main "$p1" alice
is "$(jqr "$EV" '.reason + "/" + .directory.cache')" "ok/hit" "alice, second connection: from the cache"
is "$(jqr "$EV" '[.steps[].step] | index("directory_checked") != null')" true "a cached decision still records directory_checked"
is "$(api "http://127.0.0.1:$a1/v1/cache" | jq -r '.enabled and .entries >= 1 and .hits >= 1')" true \
	"/v1/cache shows the entry and the hit"
is "$(api "http://127.0.0.1:$a1/metrics" | grep -c '^certgate_cache_lookups_total{result="hit"} [1-9]')" 1 \
	"metrics count the cache hit"

# alice2 keeps a connection open; then her certificate leaves the entry
hold main "$p1" alice2
ok "alice2 holds an open connection" [ -n "$HELD_EV" ]
inv0=$(api "http://127.0.0.1:$a1/v1/cache" | jq -r .invalidations)
del_cert alice2 alice
ok "sync hears the change (invalidations go up)" \
	wait_json "http://127.0.0.1:$a1/v1/cache" ".invalidations > $inv0"
ev=$(cg_wait_event main '.kind == "recheck"' 15)
is "$(jqr "$ev" '.outcome + "/" + .reason')" denied/revoked_live "the open connection is closed: revoked_live"
is "$(jqr "$ev" .connection)" "$(jqr "$HELD_EV" .id)" "the recheck event names the connection's first event"
like "$(jqr "$ev" .detail)" "cert_not_in_entry" "the detail says why"
ok "alice2's client sees its connection end" gone "$HELD_PID"
try main "$p1" alice2
is "$(jqr "$EV" '.reason + "/" + .directory.cache')" "cert_not_in_entry/miss" \
	"alice2's next connection is denied: the cached decision was dropped"
try main "$p1" alice
is "$(jqr "$EV" .reason)" ok "alice's other certificate is still allowed"

# a revoked certificate + SIGHUP: the reload re-checks open connections
hold main "$p1" alice3
ok "alice3 holds an open connection" [ -n "$HELD_EV" ]
cg_pki revoke "$pki" alice3 >/dev/null || bail_out "revoke failed"
cg_mark main
kill -HUP "$(cg_pid main)"
ev=$(cg_wait_event main '.kind == "recheck"' 15)
is "$(jqr "$ev" .reason)" revoked_live "after SIGHUP with a new CRL: the open connection is closed"
like "$(jqr "$ev" .detail)" "cert_revoked" "the detail names cert_revoked"
ok "alice3's client sees its connection end" gone "$HELD_PID"

# /v1/cache controls
is "$(api -X DELETE "http://127.0.0.1:$a1/v1/cache/$(printf '0%.0s' {1..64})" -o /dev/null -w '%{http_code}')" 404 \
	"DELETE /v1/cache/SHA256 of nothing cached: 404"
try main "$p1" bob
sha=$(jqr "$EV" .cert.sha256)
is "$(api -X DELETE "http://127.0.0.1:$a1/v1/cache/$sha" -o /dev/null -w '%{http_code}')" 200 \
	"DELETE /v1/cache/SHA256 of bob's decision: 200"
try main "$p1" bob
is "$(jqr "$EV" .directory.cache)" miss "bob's next connection asks the directory again"
is "$(api -X DELETE "http://127.0.0.1:$a1/v1/cache" | jq -r '.flushed >= 1')" true "DELETE /v1/cache flushes"

# ---- recheck_interval without a cache
read -r p2 a2 < <(gate_conf periodic "recheck_interval = 1s" "ttl = 0s")
cg_start periodic "$CG_TMP/periodic.conf" || bail_out "certgate (periodic) did not start"
is "$(api "http://127.0.0.1:$a2/v1/cache" | jq -r .enabled)" false "ttl = 0s: the cache is off"
hold periodic "$p2" carol
ok "carol holds an open connection" [ -n "$HELD_EV" ]
del_cert carol carol
ev=$(cg_wait_event periodic '.kind == "recheck"' 15)
is "$(jqr "$ev" .reason)" revoked_live "recheck_interval = 1s: the open connection is closed once the certificate is gone"
ok "carol's client sees its connection end" gone "$HELD_PID"

# ---- slapd down: fail closed, or the stale decision when the admin chose it
read -r p3 a3 < <(gate_conf stale "on_unavailable = stale")
cg_start stale "$CG_TMP/stale.conf" || bail_out "certgate (stale) did not start"
ok "stale gate: sync healthy" wait_json "http://127.0.0.1:$a3/v1/cache" '.sync.healthy'
try stale "$p3" bob
is "$(jqr "$EV" .reason)" ok "stale gate: bob allowed while slapd runs"
try main "$p1" bob
is "$(jqr "$EV" .reason)" ok "main gate: bob allowed while slapd runs"
slapd_stop >/dev/null 2>&1
ok "sync notices slapd is gone" wait_json "http://127.0.0.1:$a1/v1/cache" '.sync.healthy == false'
try main "$p1" bob
is "$(jqr "$EV" .reason)" directory_unavailable \
	"on_unavailable = deny: with sync down the cached allow is not trusted (fail closed)"
try stale "$p3" bob
is "$(jqr "$EV" '.reason + "/" + .directory.cache')" "ok/stale" "on_unavailable = stale: the cached decision, marked stale"
slapd_restart >"$CG_TMP/slapd-restart.log" 2>&1 || bail_out "slapd did not restart"
ok "sync is healthy again after slapd returns" wait_json "http://127.0.0.1:$a1/v1/cache" '.sync.healthy'
try main "$p1" bob
is "$(jqr "$EV" .reason)" ok "bob is allowed again once slapd is back"

cg_finish
