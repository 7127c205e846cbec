#!/usr/bin/env bash
# api_reload.t: POST /v1/reload and SIGHUP (one code path, DESIGN §4, §8). A good file →
# 200 with a new generation, and the new configuration decides (a CRL added by the reload
# denies bob). A broken file (missing cert, INI syntax error, unknown key) → 400 with
# errors naming FILE:LINE, the generation does not move and the old runtime keeps serving
# (alice still allowed); SIGHUP with the broken file behaves the same and the log says
# why; once fixed, both reload again.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/fixtures/slapd.sh"

SPEC=$top_srcdir/schema/openapi.yaml
have_schema_tools=true
"$CG_PYTHON" -c 'import yaml, jsonschema' 2>/dev/null || have_schema_tools=false

pki=$CG_TMP/pki
cg_pki init "$pki" >/dev/null || bail_out "certgate pki init failed"
cg_issue "$pki" alice --uid alice
cg_issue "$pki" bob --uid bob
cp "$pki/crl.pem" "$CG_TMP/crl-empty.pem"
cg_pki revoke "$pki" bob >/dev/null || bail_out "pki revoke bob failed"

cg_slapd_start
base=ou=people,dc=example,dc=org
for u in alice bob; do
	cg_store "$pki" "$u" "uid=$u,$base"
done

port=$(cg_free_port)
aport=$(cg_free_port)
conf=$CG_TMP/gate.conf
# write_conf CERT CRL [EXTRA_SERVER_LINE]: the configuration file, written in place.
write_conf() {
	cat >"$conf.new" <<EOF
[server]
listen = 127.0.0.1:$port
cert = $1
key = $pki/server.key
workers = 2
handshake_timeout = 15s
${3:-}

[pki]
ca = $pki/ca.pem
crl = $2

EOF
	cg_conf_directory 'pool_size = 2' >>"$conf.new"
	printf '[admin]\nlisten = 127.0.0.1:%s\n' "$aport" >>"$conf.new"
	mv -f "$conf.new" "$conf"
}
write_conf "$pki/server.pem" "$CG_TMP/crl-empty.pem"
cg_start gate "$conf" || bail_out "certgate did not start"
pid=$(cg_pid gate)
A="http://127.0.0.1:$aport"

api() {  # api METHOD PATH: prints the status; body in $CG_TMP/api.body
	: >"$CG_TMP/api.body"
	timeout 20 curl -sS --max-time 15 -o "$CG_TMP/api.body" -w '%{http_code}' -X "$1" "$A$2" \
		2>>"$CG_TMP/curl-api.err"
}
schema_ok() {  # schema_ok DESC STATUS
	if ! $have_schema_tools; then pass "$1 # SKIP python3-yaml/python3-jsonschema missing"; return; fi
	local err
	if err=$("$CG_PYTHON" "$top_srcdir/tests/tools/openapi_check.py" "$SPEC" /v1/reload post "$2" \
		"$CG_TMP/api.body" 2>&1); then
		pass "$1"
	else
		fail "$1"; diag "$err" "body: $(head -c 1500 "$CG_TMP/api.body")"
	fi
}
generation() { api GET /v1/config >/dev/null; jq -r '.generation // empty' "$CG_TMP/api.body" 2>/dev/null; }
# decide NAME: the reason of NAME's next connection
decide() {
	cg_mark gate
	cg_curl "$port" "$pki" "$1" >/dev/null 2>&1
	jqr "$(cg_next_event gate 15)" .reason
}
line_of() { grep -n -- "$1" "$conf" | head -n 1 | cut -d: -f1; }

is "$(generation)" 1 "generation 1 after start"
is "$(decide alice)/$(decide bob)" ok/ok "before any reload: alice and bob allowed"

# ---------------------------------------------------------------- a good reload

write_conf "$pki/server.pem" "$pki/crl.pem"         # now with bob's revocation
st=$(api POST /v1/reload)
is "$st" 200 "POST /v1/reload with a good file is 200"
is "$(jq -c . "$CG_TMP/api.body")" '{"generation":2}' "the answer names the new generation 2"
schema_ok "schema: the 200 answer matches" 200
is "$(generation)" 2 "/v1/config shows generation 2"
is "$(decide bob)" cert_revoked "the reloaded CRL denies bob (cert_revoked)"
is "$(decide alice)" ok "alice still allowed"

# ---------------------------------------------------------------- broken files

# broken LABEL PATTERN_OF_BAD_LINE ERE_IN_MESSAGE: the file is already broken; POST → 400
# with an error "FILE:LINE: ..." for that line, nothing changes, alice is still allowed.
broken() {
	local label=$1 pat=$2 msg=$3 line st errs
	line=$(line_of "$pat")
	st=$(api POST /v1/reload)
	is "$st" 400 "$label: POST /v1/reload is 400"
	schema_ok "$label: schema: the 400 answer matches" 400
	errs=$(jq -r '.errors[]?' "$CG_TMP/api.body" 2>/dev/null)
	like "$errs" "^$conf:$line: .*$msg" "$label: an error names $(basename "$conf"):$line" ||
		diag "body: $(cat "$CG_TMP/api.body")"
	ok "$label: certgate still runs" kill -0 "$pid"
	is "$(generation)" 2 "$label: the generation stays 2"
	is "$(decide alice)" ok "$label: the old runtime keeps serving: alice allowed"
	is "$(decide bob)" cert_revoked "$label: ... and still denies bob"
	st=$(api GET /v1/health)
	is "$st/$(jq -r .message "$CG_TMP/api.body")" 200/listening "$label: health 200, listening (not stuck reloading)"
}

write_conf "$CG_TMP/missing-server.pem" "$pki/crl.pem"
broken "cert = a missing file" "^cert = " 'missing-server\.pem'

write_conf "$pki/server.pem" "$pki/crl.pem" "this line is not ini"
broken "INI syntax error" "^this line is not ini" ''

write_conf "$pki/server.pem" "$pki/crl.pem" "no_such_key = 1"
broken "unknown key" "^no_such_key" 'no_such_key'

# ---------------------------------------------------------------- SIGHUP, broken

write_conf "$CG_TMP/missing-server.pem" "$pki/crl.pem"
bad_line=$(line_of "^cert = ")
lines_before=$(wc -l <"$(cg_log gate)")
kill -HUP "$pid"
why=""
for ((i = 0; i < 100; i++)); do
	why=$(tail -n +"$((lines_before + 1))" "$(cg_log gate)" | grep -av '^{' | grep -aF "$conf:$bad_line:")
	[ -n "$why" ] && break
	sleep 0.1
done
like "$why" "missing-server\.pem" "SIGHUP with a missing cert: the log names $(basename "$conf"):$bad_line and the file" ||
	diag "log after SIGHUP: $(tail -n +"$((lines_before + 1))" "$(cg_log gate)" | grep -av '^{')"
like "$(tail -n +"$((lines_before + 1))" "$(cg_log gate)" | grep -av '^{')" 'error' \
	"SIGHUP with a broken file: an error line"
ok "SIGHUP with a broken file: certgate still runs" kill -0 "$pid"
is "$(generation)" 2 "SIGHUP with a broken file: the generation stays 2"
is "$(decide alice)" ok "SIGHUP with a broken file: alice still allowed"

# ---------------------------------------------------------------- fixed

write_conf "$pki/server.pem" "$CG_TMP/crl-empty.pem"   # bob's revocation dropped again
st=$(api POST /v1/reload)
is "$st/$(jq -r .generation "$CG_TMP/api.body" 2>/dev/null)" 200/3 "fixed: POST /v1/reload is 200 with generation 3"
is "$(decide bob)" ok "fixed: the new CRL lets bob in again"
write_conf "$pki/server.pem" "$pki/crl.pem"
kill -HUP "$pid"
gen=""
for ((i = 0; i < 100; i++)); do
	gen=$(generation)
	[ "$gen" = 4 ] && break
	sleep 0.1
done
is "$gen" 4 "fixed: SIGHUP reloads too (generation 4)"
is "$(decide bob)" cert_revoked "after SIGHUP: bob revoked again"
is "$(decide alice)" ok "after SIGHUP: alice allowed"

# reload takes no parameters and no other method
st=$(api POST "/v1/reload?x=1")
is "$st" 400 "POST /v1/reload?x=1 is 400"
st=$(api GET /v1/reload)
is "$st" 405 "GET /v1/reload is 405"
is "$(generation)" 4 "neither moved the generation"

cg_finish
