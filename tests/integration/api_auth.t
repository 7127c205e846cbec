#!/usr/bin/env bash
# api_auth.t: the admin API's bearer token (DESIGN §5 [admin], §8). An admin listen on a
# non-loopback address (0.0.0.0) without token_file → certgate refuses to start, exit
# status non-zero, the message names [admin]. With token_file on 0.0.0.0:PORT — requests
# are only ever sent to 127.0.0.1:PORT — no token → 401 with WWW-Authenticate (also for
# unknown paths), wrong token → 401, right token → 200. No traffic to other addresses.
. "$(dirname "$0")/lib.sh"

SPEC=$top_srcdir/schema/openapi.yaml
have_schema_tools=true
"$CG_PYTHON" -c 'import yaml, jsonschema' 2>/dev/null || have_schema_tools=false

pki=$CG_TMP/pki
cg_pki init "$pki" >/dev/null || bail_out "certgate pki init failed"
cg_pki issue "$pki" alice --uid alice >/dev/null || bail_out "pki issue alice failed"

port=$(cg_free_port)
aport=$(cg_free_port)
# conf NAME [TOKEN_FILE]: a configuration with [admin] listen = 0.0.0.0:aport
conf() {
	cat >"$CG_TMP/$1.conf" <<EOF
[server]
listen = 127.0.0.1:$port
cert = $pki/server.pem
key = $pki/server.key
workers = 1

[pki]
ca = $pki/ca.pem

[admin]
listen = 0.0.0.0:$aport
${2:+token_file = $2}
EOF
}

# ---------------------------------------------------------------- no token: refused

conf open
timeout 20 "$CG_BIN" serve -c "$CG_TMP/open.conf" --pidfile "$CG_TMP/open.pid" \
	>"$CG_TMP/open.out" 2>"$CG_TMP/open.log" </dev/null
rc=$?
ok "0.0.0.0 without token_file: certgate refuses to start (exit $rc)" [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]
like "$(cat "$CG_TMP/open.log")" '\[admin\]' "the message names [admin]"
like "$(cat "$CG_TMP/open.log")" 'token_file' "the message names token_file"
not_listening() { ! _cg_listening "$1"; }
ok "nothing listens on the server port afterwards" not_listening "$port"
ok "nothing listens on the admin port afterwards" not_listening "$aport"
like "$(cat "$CG_TMP/open.log")" 'open\.conf:[0-9]+: \[admin\] listen' "the message names FILE:LINE of [admin] listen"
# config-test refuses what serve refuses (DESIGN §4: configuration errors exit 1)
timeout 20 "$CG_BIN" config-test -c "$CG_TMP/open.conf" >"$CG_TMP/open-ct.log" 2>&1
is "$?" 1 "config-test also rejects a non-loopback admin listen without token_file"
like "$(cat "$CG_TMP/open-ct.log")" 'open\.conf:[0-9]+: \[admin\] listen.*token_file' "config-test names FILE:LINE, [admin] listen and token_file"

# ---------------------------------------------------------------- token too short

printf 'short\n' >"$CG_TMP/short.token"
conf short "$CG_TMP/short.token"
timeout 20 "$CG_BIN" serve -c "$CG_TMP/short.conf" >"$CG_TMP/short.out" 2>"$CG_TMP/short.log" </dev/null
rc=$?
ok "a token shorter than 16 characters: certgate refuses to start (exit $rc)" [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]
like "$(cat "$CG_TMP/short.log")" 'short\.conf:[0-9]+: .*\[admin\] token_file' "the message names FILE:LINE and [admin] token_file"

# ---------------------------------------------------------------- with a token

token=$(head -c 24 /dev/urandom | base64 | tr -d '/+=\n')
printf '%s\n' "$token" >"$CG_TMP/admin.token"
chmod 600 "$CG_TMP/admin.token"
conf gate "$CG_TMP/admin.token"
cg_start gate "$CG_TMP/gate.conf" || bail_out "certgate with token_file did not start"
ok "the admin API listens on port $aport" _cg_listening "$aport"
A="http://127.0.0.1:$aport"

# req [CURL_ARGS...] PATH: status of a request to 127.0.0.1 only
req() {
	local path=${*: -1}
	: >"$CG_TMP/api.body"; : >"$CG_TMP/api.hdr"
	timeout 20 curl -sS --max-time 15 -o "$CG_TMP/api.body" -D "$CG_TMP/api.hdr" -w '%{http_code}' \
		"${@:1:$#-1}" "$A$path" 2>>"$CG_TMP/curl-api.err"
}
hdr() { tr -d '\r' <"$CG_TMP/api.hdr"; }
is_error_body() {
	jq -e '(keys == ["error"]) and (.error.code == "unauthorized")
		and (.error.message | type == "string")' "$CG_TMP/api.body" >/dev/null 2>&1
}

for p in /v1/health /v1/events /v1/config /metrics /v1/nope /v1/events/1; do
	st=$(req "$p")
	is "$st" 401 "no token: GET $p is 401"
done
like "$(hdr)" '^WWW-Authenticate: Bearer' "no token: WWW-Authenticate: Bearer"
ok "no token: {\"error\": {\"code\": \"unauthorized\", ...}}" is_error_body
if $have_schema_tools; then
	ok "schema: the 401 body matches Error" \
		"$CG_PYTHON" "$top_srcdir/tests/tools/openapi_check.py" "$SPEC" /v1/health get 401 "$CG_TMP/api.body"
fi
st=$(req -X POST /v1/reload)
is "$st" 401 "no token: POST /v1/reload is 401"
st=$(req -X DELETE /v1/events)
is "$st" 401 "no token: DELETE /v1/events is 401 (not 405: nothing is revealed)"

wrong=${token%?}x
[ "$wrong" != "$token" ] || wrong=${token%?}y
for t in "Bearer $wrong" "Bearer ${token}x" "Bearer ${token%?}" "Bearer " "Basic $(printf 'admin:%s' "$token" | base64 -w0)" \
	"$token" "Bearer  $token" "Bearer $token$token"; do
	st=$(req -H "Authorization: $t" /v1/health)
	is "$st" 401 "wrong token ('${t:0:12}…', ${#t} bytes): 401"
done
like "$(hdr)" '^WWW-Authenticate: Bearer' "wrong token: WWW-Authenticate: Bearer"

st=$(req -H "Authorization: Bearer $token" /v1/health)
is "$st" 200 "right token: GET /v1/health is 200"
is "$(jq -r .status "$CG_TMP/api.body")" ok "right token: health ok"
st=$(req -H "Authorization: bearer $token" /v1/health)
is "$st" 200 "right token, scheme in lower case: 200 (RFC 7235: the scheme is case-insensitive)"
st=$(req -H "Authorization: Bearer $token" /v1/nope)
is "$st" 404 "right token: unknown path is 404"
st=$(req -H "Authorization: Bearer $token" /v1/config)
is "$st" 200 "right token: GET /v1/config is 200"
unlike "$(cat "$CG_TMP/api.body")" "$token" "the token is not in /v1/config"
st=$(req -H "Authorization: Bearer $token" /metrics)
is "$st" 200 "right token: GET /metrics is 200"
unlike "$(cat "$(cg_log gate)")" "$token" "the token is not in the log"

# the TLS side is unaffected
out=$(cg_curl "$port" "$pki" alice 2>&1)
ok "alice is allowed through the TLS listener" cg_is_identity "$(cg_body "$out")" alice

cg_finish
