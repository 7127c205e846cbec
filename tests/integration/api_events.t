#!/usr/bin/env bash
# api_events.t: the admin API (DESIGN §7, §8) of a running `certgate serve` with a real
# slapd, read with curl. Every scenario of the earlier issues (allowed, cert_not_in_entry,
# no_entry, untrusted_issuer, no_client_cert, cert_expired) is an event with the right
# reason and an ordered transcript, and GET /v1/events/ID returns exactly the event line of
# the log; filters and pagination; bad query strings are 400 with a JSON error and never
# crash; 404/405/413; /v1/health, /v1/stats (counts match the events caused),
# /v1/connections (a client holding its connection open), /v1/identities and ?expiring=,
# /v1/config (no secret anywhere), /v1/cache. Responses are validated against
# schema/openapi.yaml with tests/tools/openapi_check.py.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/fixtures/slapd.sh"

SPEC=$top_srcdir/schema/openapi.yaml
CHECK="$CG_PYTHON $top_srcdir/tests/tools/openapi_check.py"
have_schema_tools=true
"$CG_PYTHON" -c 'import yaml, jsonschema' 2>/dev/null || have_schema_tools=false

pki=$CG_TMP/pki
other=$CG_TMP/other
cg_pki init "$pki" >/dev/null || bail_out "certgate pki init failed"
cg_pki init "$other" >/dev/null || bail_out "certgate pki init (second PKI) failed"
cg_issue "$pki" alice --uid alice
cg_issue "$pki" forged-alice --uid alice        # alice's names, not in her entry
cg_issue "$pki" zed --uid zed                   # no entry at all
cg_issue "$pki" expired --uid alice --not-before -2d --not-after -1d
cg_issue "$pki" soon --uid bob --not-after +10d # expires within 30 days
cg_issue "$other" mallory --uid alice           # another PKI

cg_slapd_start
base=ou=people,dc=example,dc=org
cg_store "$pki" alice "uid=alice,$base"
cg_store "$pki" soon "uid=bob,$base"

token=$(head -c 24 /dev/urandom | base64 | tr -d '/+=\n')
printf '%s\n' "$token" >"$CG_TMP/admin.token"
chmod 600 "$CG_TMP/admin.token"
bind_pw=$(tr -d '\n' <"$SLAPD_BIND_PW_FILE")

port=$(cg_free_port)
aport=$(cg_free_port)
{
	cg_conf_gate "$port" "$pki" $'handshake_timeout = 15s\nidle_timeout = 60s'
	cg_conf_directory 'pool_size = 2'
	printf '[admin]\nlisten = 127.0.0.1:%s\ntoken_file = %s\n' "$aport" "$CG_TMP/admin.token"
} >"$CG_TMP/gate.conf"
cg_start gate "$CG_TMP/gate.conf" || bail_out "certgate did not start"
A="http://127.0.0.1:$aport"

# api METHOD PATH [CURL_ARGS...]: prints the HTTP status; body in $CG_TMP/api.body,
# headers in $CG_TMP/api.hdr.
api() {
	local method=$1 path=$2; shift 2
	: >"$CG_TMP/api.body"
	: >"$CG_TMP/api.hdr"
	timeout 20 curl -sS --max-time 15 -o "$CG_TMP/api.body" -D "$CG_TMP/api.hdr" -w '%{http_code}' \
		-X "$method" -H "Authorization: Bearer $token" "$@" "$A$path" 2>>"$CG_TMP/curl-api.err"
}
body() { cat "$CG_TMP/api.body"; }
jqe() { jq -e "$@" >/dev/null 2>&1; }   # jq -e, quiet: for ok
# status_error GOT WANT...: GOT is one of WANT and the body is a JSON error
status_error() { local st=$1 w; shift; for w; do [ "$st" = "$w" ] && is_error_body && return 0; done; return 1; }
# schema_ok DESC PATH METHOD STATUS: the last body matches the spec.
schema_ok() {
	if ! $have_schema_tools; then pass "$1 # SKIP python3-yaml/python3-jsonschema missing"; return; fi
	local err
	if err=$($CHECK "$SPEC" "$2" "$3" "$4" "$CG_TMP/api.body" 2>&1); then
		pass "$1"
	else
		fail "$1"; diag "$err" "body: $(head -c 1500 "$CG_TMP/api.body")"
	fi
}
is_error_body() {  # the last body is {"error": {"code": STRING, "message": STRING}}
	jq -e '(keys == ["error"]) and (.error.code | type == "string")
		and (.error.message | type == "string")' "$CG_TMP/api.body" >/dev/null 2>&1
}

# ---------------------------------------------------------------- the scenarios

# scenario LABEL CLIENT REASON STEPS: connect as CLIENT (cg_curl's NAME), wait for its
# event, check the reason and that STEPS (space separated) occur in this order in the
# transcript; then GET /v1/events/ID must equal the log line.
declare -A EV_OF=()
scenario() {
	local label=$1 client=$2 reason=$3 steps=$4 ev id st
	cg_mark gate
	cg_curl "$port" "$pki" "$client" >"$CG_TMP/client.out" 2>&1
	ev=$(cg_next_event gate 15) || ev=
	EV_OF[$label]=$ev
	is "$(jqr "$ev" '.outcome + "/" + .reason')" \
		"$([ "$reason" = ok ] && echo allowed || echo denied)/$reason" "$label: event outcome/reason"
	ok "$label: transcript starts at client_hello, offsets never go back" \
		jqe '(.steps[0].step == "client_hello") and ([.steps[].t_us] == ([.steps[].t_us] | sort))' \
		<<<"$ev"
	ok "$label: transcript holds $steps in this order" jqe --arg want "$steps" '
		[.steps[].step] as $n | ($want | split(" ")) as $w
		| [$w[] as $s | $n | index($s)] as $ix
		| ($ix | all(. != null)) and ($ix == ($ix | sort))' <<<"$ev" ||
		diag "steps: $(jqr "$ev" '[.steps[].step] | join(" ")')"
	id=$(jqr "$ev" .id)
	st=$(api GET "/v1/events/$id")
	is "$st" 200 "$label: GET /v1/events/$id is 200"
	is "$(jq -S . "$CG_TMP/api.body" 2>&1)" "$(jq -S . <<<"$ev" 2>&1)" \
		"$label: the event read through the API equals the log line"
}

full="client_hello server_hello certificate_request client_certificate client_certificate_verify client_finished chain_verified"
scenario allowed alice ok "$full directory_checked"
is "$(jqr "${EV_OF[allowed]}" .directory.entry)" "uid=alice,$base" "allowed: the event names alice's entry"
like "$(cat "$CG_TMP/client.out")" '"outcome": ?"allowed"' "allowed: alice gets her identity JSON"
scenario cert_not_in_entry forged-alice cert_not_in_entry "$full directory_checked"
scenario no_entry zed no_entry "$full directory_checked"
scenario untrusted_issuer "$other/mallory" untrusted_issuer "client_hello server_hello certificate_request client_certificate"
scenario no_client_cert - no_client_cert "client_hello server_hello certificate_request"
scenario cert_expired expired cert_expired "client_hello server_hello certificate_request client_certificate"
for l in untrusted_issuer no_client_cert cert_expired; do
	is "$(jqr "${EV_OF[$l]}" '.directory // "none"')" none "$l: denied before the directory (no directory part)"
done
# one more of each kind, so that filters and pages have something to skip
scenario no_entry2 zed no_entry "$full directory_checked"
scenario allowed2 alice ok "$full directory_checked"
scenario soon soon ok "$full directory_checked"

# with SNI (the name resolved to 127.0.0.1 by curl itself: no other address is used)
cg_mark gate
timeout 20 curl -sS --max-time 15 --resolve "localhost:$port:127.0.0.1" --cacert "$pki/ca.pem" \
	--cert "$pki/alice.pem" --key "$pki/alice.key" "https://localhost:$port/" >/dev/null 2>&1
EV_OF[sni]=$(cg_next_event gate 15) || EV_OF[sni]=
is "$(jqr "${EV_OF[sni]}" '.reason + "/" + .tls.sni')" ok/localhost "sni: the event names the SNI localhost"
api GET "/v1/events/$(jqr "${EV_OF[sni]}" .id)" >/dev/null
is "$(jq -S . "$CG_TMP/api.body" 2>&1)" "$(jq -S . <<<"${EV_OF[sni]}" 2>&1)" \
	"sni: the event read through the API equals the log line"

if $have_schema_tools; then
	api GET "/v1/events/$(jqr "${EV_OF[allowed]}" .id)" >/dev/null
	schema_ok "schema: an allowed event (GET /v1/events/ID) matches Event" "/v1/events/{id}" get 200
	api GET "/v1/events/$(jqr "${EV_OF[no_client_cert]}" .id)" >/dev/null
	schema_ok "schema: a no_client_cert event matches Event" "/v1/events/{id}" get 200
	api GET "/v1/events/$(jqr "${EV_OF[sni]}" .id)" >/dev/null
	schema_ok "schema: an event with tls.sni matches Event" "/v1/events/{id}" get 200
fi

all_log=$(cg_events gate)
n_events=$(printf '%s\n' "$all_log" | grep -c '^{')
log_ids_desc=$(printf '%s\n' "$all_log" | jq -r .id | sort -rn | paste -sd' ')

# ---------------------------------------------------------------- list, filters

st=$(api GET "/v1/events")
is "$st" 200 "GET /v1/events is 200"
schema_ok "schema: the /v1/events list matches EventList" /v1/events get 200
is "$(jq -r '[.events[].id] | join(" ")' "$CG_TMP/api.body")" "$log_ids_desc" \
	"GET /v1/events lists every event of the log, newest first"
is "$(jq -r 'has("next")' "$CG_TMP/api.body")" false "GET /v1/events: no next when everything fits"

want=$(printf '%s\n' "$all_log" | jq -r 'select(.outcome == "denied") | .id' | sort -rn | paste -sd' ')
st=$(api GET "/v1/events?outcome=denied")
is "$st/$(jq -r '[.events[].id] | join(" ")' "$CG_TMP/api.body")" "200/$want" "outcome=denied: exactly the denied events"
want=$(printf '%s\n' "$all_log" | jq -r 'select(.outcome == "allowed") | .id' | sort -rn | paste -sd' ')
st=$(api GET "/v1/events?outcome=allowed")
is "$st/$(jq -r '[.events[].id] | join(" ")' "$CG_TMP/api.body")" "200/$want" "outcome=allowed: exactly the allowed events"
want="$(jqr "${EV_OF[no_entry2]}" .id) $(jqr "${EV_OF[no_entry]}" .id)"
st=$(api GET "/v1/events?reason=no_entry")
is "$st/$(jq -r '[.events[].id] | join(" ")' "$CG_TMP/api.body")" "200/$want" "reason=no_entry: exactly the two no_entry events"
want="$(jqr "${EV_OF[no_entry2]}" .id) $(jqr "${EV_OF[no_entry]}" .id)"
st=$(api GET "/v1/events" -G --data-urlencode "subject=CN=zed")
is "$st/$(jq -r '[.events[].id] | join(" ")' "$CG_TMP/api.body")" "200/$want" "subject=CN=zed: exactly zed's events"
want=$(printf '%s\n' "$all_log" | jq -r 'select((.cert.subject // "") | contains("alice")) | .id' |
	sort -rn | paste -sd' ')
st=$(api GET "/v1/events?subject=alice")
is "$st/$(jq -r '[.events[].id] | join(" ")' "$CG_TMP/api.body")" "200/$want" \
	"subject=alice: every event whose subject contains alice (alice, forged-alice, expired, mallory)"
want=$(jqr "${EV_OF[allowed]}" .id)
st=$(api GET "/v1/events?outcome=allowed&reason=ok&subject=alice&limit=1&before=$(jqr "${EV_OF[allowed2]}" .id)")
is "$st/$(jq -r '[.events[].id] | join(" ")' "$CG_TMP/api.body")" "200/$want" "filters combine with limit and before"

# ---------------------------------------------------------------- pagination

declare -A SEEN=()
seen_order=()
dups=0
before=""
pages=0
page_status_ok=true
while :; do
	pages=$((pages + 1))
	[ "$pages" -le 100 ] || { fail "pagination ends within 100 pages"; break; }
	st=$(api GET "/v1/events?limit=2${before:+&before=$before}")
	[ "$st" = 200 ] || { page_status_ok=false; break; }
	n=$(jq '.events | length' "$CG_TMP/api.body")
	[ "$n" -le 2 ] || { page_status_ok=false; diag "page with $n events for limit=2"; }
	for id in $(jq -r '.events[].id' "$CG_TMP/api.body"); do
		[ -n "${SEEN[$id]:-}" ] && dups=$((dups + 1))
		SEEN[$id]=1
		seen_order+=("$id")
	done
	before=$(jq -r '.next // empty' "$CG_TMP/api.body")
	[ -n "$before" ] || break
done
ok "pagination: every page is 200 with at most 2 events" $page_status_ok
is "$dups" 0 "pagination: no id seen twice"
is "${#seen_order[@]}" "$n_events" "pagination: every event seen ($n_events)"
is "${seen_order[*]}" "$log_ids_desc" "pagination: newest first across pages"
is "$pages" "$(((n_events + 1) / 2))" "pagination: limit=2 takes ceil(n/2) pages, the last without next"

# ---------------------------------------------------------------- bad requests

long_subject=$(printf 'a%.0s' $(seq 1 300))
for q in "limit=-1" "limit=0" "limit=1001" "limit=99999999999999999999" "limit=abc" "limit=" \
	"before=xyz" "before=0" "before=-5" "after=abc" "reason=nope" "outcome=maybe" "foo=1" \
	"limit=2&limit=3" "subject=$long_subject" "limit=1%00" "reason=ok%20"; do
	st=$(api GET "/v1/events?$q")
	if [ "$st" = 400 ] && is_error_body; then
		pass "GET /v1/events?${q:0:40}: 400 with a JSON error"
	else
		fail "GET /v1/events?${q:0:40}: 400 with a JSON error"; diag "status $st, body: $(head -c 300 "$CG_TMP/api.body")"
	fi
done
schema_ok "schema: the 400 error body matches Error" /v1/events get 400
st=$(api GET "/v1/events/abc")
is "$st" 400 "GET /v1/events/abc is 400"
ok "GET /v1/events/abc: JSON error body" is_error_body
st=$(api GET "/v1/events/999999")
is "$st" 404 "GET /v1/events/999999 is 404"
ok "GET /v1/events/999999: JSON error body" is_error_body
schema_ok "schema: the 404 error body matches Error" "/v1/events/{id}" get 404
for p in "/v1/events/0" "/v1/events/-1" "/v1/events/1x" "/v1/events/99999999999999999999999"; do
	st=$(api GET "$p")
	ok "GET $p: 400 or 404 with a JSON error (got $st)" status_error "$st" 400 404
done
st=$(api GET "/v1/nope")
is "$st" 404 "unknown path /v1/nope is 404"
ok "unknown path: JSON error body" is_error_body
st=$(api DELETE "/v1/events")
is "$st" 405 "DELETE /v1/events is 405"
like "$(tr -d '\r' <"$CG_TMP/api.hdr")" '^Allow: .*GET' "DELETE /v1/events: Allow header names GET"
ok "DELETE /v1/events: JSON error body" is_error_body
head -c $((70 * 1024)) /dev/zero | tr '\0' 'A' >"$CG_TMP/big.body"
st=$(api POST "/v1/check" -H 'Content-Type: application/x-pem-file' --data-binary "@$CG_TMP/big.body")
is "$st" 413 "POST /v1/check with a 70 KiB body is 413"
ok "413: JSON error body" is_error_body

ok "certgate still runs after the bad requests" kill -0 "$(cg_pid gate)"

# ---------------------------------------------------------------- health, stats

st=$(api GET "/v1/health")
is "$st" 200 "GET /v1/health is 200"
is "$(jq -r .status "$CG_TMP/api.body")" ok "health: status ok"
is "$(jq -r .directory.status "$CG_TMP/api.body")" up "health: the directory is up"
schema_ok "schema: /v1/health matches Health" /v1/health get 200

all_log=$(cg_events gate)
n_events=$(printf '%s\n' "$all_log" | grep -c '^{')
st=$(api GET "/v1/stats")
is "$st" 200 "GET /v1/stats is 200"
schema_ok "schema: /v1/stats matches Stats" /v1/stats get 200
stats=$(body)
is "$(jqr "$stats" .events.recorded)" "$n_events" "stats: events recorded == events in the log"
is "$(jqr "$stats" .handshakes.total)" "$n_events" "stats: handshakes total == events in the log"
is "$(jqr "$stats" .handshakes.allowed)" "$(printf '%s\n' "$all_log" | jq -s 'map(select(.outcome == "allowed")) | length')" \
	"stats: allowed == allowed events"
is "$(jqr "$stats" .handshakes.denied)" "$(printf '%s\n' "$all_log" | jq -s 'map(select(.outcome == "denied")) | length')" \
	"stats: denied == denied events"
is "$(jqr "$stats" '.handshakes.by_reason | with_entries(select(.value > 0))' | jq -cS .)" \
	"$(printf '%s\n' "$all_log" | jq -s 'group_by(.reason) | map({(.[0].reason): length}) | add' | jq -cS .)" \
	"stats: by_reason counts == the reasons of the events caused"
is "$(jqr "$stats" .events.dropped)" 0 "stats: no event dropped"

# ---------------------------------------------------------------- connections

# s_client with a stdin that stays open and sends nothing: the built-in responder keeps an
# allowed connection open until a request head (or idle_timeout, 60 s here).
cg_mark gate
mkfifo "$CG_TMP/hold.in" || bail_out "mkfifo failed"
timeout 60 openssl s_client -connect "127.0.0.1:$port" -CAfile "$pki/ca.pem" \
	-cert "$pki/alice.pem" -key "$pki/alice.key" -quiet <"$CG_TMP/hold.in" >"$CG_TMP/hold.out" 2>&1 &
hold_pid=$!
CG_OTHER_PIDS+=("$hold_pid")
exec {hold_fd}>"$CG_TMP/hold.in"   # opened, never written: the client sends nothing
hold_ev=$(cg_wait_event gate '.outcome == "allowed"' 15) || hold_ev=
ok "held connection: alice is allowed" [ -n "$hold_ev" ]
listed=""
for ((i = 0; i < 50; i++)); do
	st=$(api GET "/v1/connections")
	listed=$(jq -c --arg s "$(jqr "$hold_ev" .cert.subject)" \
		'[.connections[] | select(.subject == $s)] | first // empty' "$CG_TMP/api.body" 2>/dev/null)
	[ -n "$listed" ] && break
	sleep 0.1
done
is "$st" 200 "GET /v1/connections is 200"
schema_ok "schema: /v1/connections matches" /v1/connections get 200
ok "the held connection is listed with alice's subject" [ -n "$listed" ] || diag "connections: $(body)"
is "$(jqr "$listed" .entry)" "uid=alice,$base" "the held connection names alice's entry"
is "$(jqr "$listed" .peer)" "$(jqr "$hold_ev" .peer)" "the held connection's peer is the event's peer"
ok "the held connection has a since timestamp" [ "$(jqr "$listed" '.since | type')" = string ]
kill "$hold_pid" 2>/dev/null   # timeout passes SIGTERM on to s_client
wait "$hold_pid" 2>/dev/null
exec {hold_fd}>&-
gone=false
for ((i = 0; i < 50; i++)); do
	api GET "/v1/connections" >/dev/null
	if [ "$(jq --arg p "$(jqr "$hold_ev" .peer)" '[.connections[] | select(.peer == $p)] | length' \
		"$CG_TMP/api.body")" = 0 ]; then gone=true; break; fi
	sleep 0.1
done
ok "once the client is gone, the connection is no longer listed" $gone

# ---------------------------------------------------------------- identities

sha() { openssl x509 -in "$1" -outform DER | sha256sum | cut -d' ' -f1; }
st=$(api GET "/v1/identities")
is "$st" 200 "GET /v1/identities is 200"
schema_ok "schema: /v1/identities matches" /v1/identities get 200
ids_all=$(body)
for c in alice forged-alice zed expired soon; do
	ok "identities: $c's certificate is listed" \
		jqe --arg h "$(sha "$pki/$c.pem")" '[.identities[] | select(.sha256 == $h)] | length == 1' \
		<<<"$ids_all"
done
is "$(jq -r --arg h "$(sha "$pki/alice.pem")" '.identities[] | select(.sha256 == $h) | "\(.allowed)/\(.entry)"' \
	<<<"$ids_all")" "4/uid=alice,$base" "identities: alice allowed 4 times (2, SNI, the held connection), her entry"
is "$(jq -r --arg h "$(sha "$pki/zed.pem")" '.identities[] | select(.sha256 == $h) | "\(.allowed)/\(.denied)"' \
	<<<"$ids_all")" "0/2" "identities: zed denied twice"
st=$(api GET "/v1/identities?expiring=30d")
is "$st" 200 "GET /v1/identities?expiring=30d is 200"
ok "expiring=30d: the +10d certificate is listed" \
	jqe --arg h "$(sha "$pki/soon.pem")" 'any(.identities[]; .sha256 == $h)' "$CG_TMP/api.body"
ok "expiring=30d: alice's +365d certificate is not" \
	jqe --arg h "$(sha "$pki/alice.pem")" 'all(.identities[]; .sha256 != $h)' "$CG_TMP/api.body"
ok "expiring=30d: the already expired certificate is listed" \
	jqe --arg h "$(sha "$pki/expired.pem")" 'any(.identities[]; .sha256 == $h)' "$CG_TMP/api.body"
for q in "expiring=soon" "expiring=" "expiring=-1d" "expiring=30d&x=1"; do
	st=$(api GET "/v1/identities?$q")
	ok "GET /v1/identities?$q: 400 with a JSON error (got $st)" status_error "$st" 400
done

# ---------------------------------------------------------------- config, cache

st=$(api GET "/v1/config")
is "$st" 200 "GET /v1/config is 200"
ok "config: valid JSON" jqe 'type == "object"' "$CG_TMP/api.body"
is "$(jq -r '.server.listen | join(",")' "$CG_TMP/api.body" 2>/dev/null)" "127.0.0.1:$port" "config: shows the listen address"
unlike "$(body)" "$bind_pw" "config: the directory bind password appears nowhere"
unlike "$(body)" "$token" "config: the admin token appears nowhere"
unlike "$(api GET "/v1/events?limit=1000" >/dev/null; body)" "$bind_pw|$token" "events: no secret either"
unlike "$(cat "$(cg_log gate)")" "$bind_pw|$token" "the log holds no secret"
st=$(api GET "/v1/cache")
is "$st" 200 "GET /v1/cache is 200"
is "$(jq -r '.enabled and .hits >= 1 and .entries >= 1' "$CG_TMP/api.body")" true \
	"GET /v1/cache reports the cache on (the defaults), with entries and hits from the repeated clients"
st=$(api GET "/v1/cache?x=1")
is "$st" 400 "GET /v1/cache?x=1 (no parameters taken) is 400"

st=$(api GET "/v1/health")
is "$st" 200 "after everything, /v1/health still answers 200"

cg_finish
