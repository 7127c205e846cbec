#!/usr/bin/env bash
# api_schema.t: real responses of every JSON endpoint of the admin API validate against
# schema/openapi.yaml (OpenAPI 3.1, the event as a JSON Schema) with
# tests/tools/openapi_check.py: events (one and the list), health, stats, connections,
# identities, check, authz, cache, reload (200 and 400), config, and the error bodies of
# 400, 401, 404, 405 and 413. The validator itself must reject broken documents.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/fixtures/slapd.sh"

if ! "$CG_PYTHON" -c 'import yaml, jsonschema' 2>/dev/null; then
	echo "1..0 # SKIP python3-yaml and python3-jsonschema are needed"
	exit 0
fi
SPEC=$top_srcdir/schema/openapi.yaml
VALIDATE="$CG_PYTHON $top_srcdir/tests/tools/openapi_check.py $SPEC"

pki=$CG_TMP/pki
cg_pki init "$pki" >/dev/null || bail_out "certgate pki init failed"
for u in alice zed; do
	cg_issue "$pki" "$u" --uid "$u"
done
cg_slapd_start
base=ou=people,dc=example,dc=org
cg_store "$pki" alice "uid=alice,$base"

token=$(head -c 24 /dev/urandom | base64 | tr -d '/+=\n')
printf '%s\n' "$token" >"$CG_TMP/admin.token"
port=$(cg_free_port)
aport=$(cg_free_port)
conf=$CG_TMP/gate.conf
write_conf() {  # write_conf [EXTRA_SERVER_LINE]
	{
		cg_conf_gate "$port" "$pki" "${1:-}"
		cg_conf_directory 'pool_size = 2'
		printf '[admin]\nlisten = 127.0.0.1:%s\ntoken_file = %s\n' "$aport" "$CG_TMP/admin.token"
	} >"$conf"
}
write_conf
cg_start gate "$conf" || bail_out "certgate did not start"

# valid DESC METHOD PATH STATUS [CURL_ARGS...]: send the request (with the token), expect
# STATUS, validate the body against the spec's response for that path/method/status.
valid() {
	local desc=$1 method=$2 path=$3 want=$4 st err; shift 4
	: >"$CG_TMP/api.body"
	st=$(timeout 20 curl -sS --max-time 15 -o "$CG_TMP/api.body" -w '%{http_code}' -X "$method" \
		-H "Authorization: Bearer $token" "$@" "http://127.0.0.1:$aport$path" 2>>"$CG_TMP/curl-api.err")
	if [ "$st" != "$want" ]; then
		fail "$desc"; diag "$method $path: status $st, want $want; body: $(head -c 500 "$CG_TMP/api.body")"
		return 1
	fi
	if err=$($VALIDATE "$path" "$method" "$st" "$CG_TMP/api.body" 2>&1); then
		pass "$desc"
	else
		fail "$desc"; diag "$err" "body: $(head -c 1500 "$CG_TMP/api.body")"
	fi
}

# the validator must be able to say no
printf '{"id":0,"time":"yesterday","peer":"","outcome":"maybe","reason":"fine","duration_us":-1,"extra":""}' \
	>"$CG_TMP/bad.json"
ok "validator: a broken event is rejected" eval '! $VALIDATE /v1/events/1 get 200 "$CG_TMP/bad.json" 2>/dev/null'
printf '{"error":{"code":"teapot"}}' >"$CG_TMP/bad.json"
ok "validator: a broken error body is rejected" eval '! $VALIDATE /v1/health get 400 "$CG_TMP/bad.json" 2>/dev/null'
printf 'not json' >"$CG_TMP/bad.json"
ok "validator: not JSON is rejected" eval '! $VALIDATE /v1/health get 200 "$CG_TMP/bad.json" 2>/dev/null'

# events: allowed, no_entry, no_client_cert, with SNI
for who in alice zed -; do
	cg_mark gate
	cg_curl "$port" "$pki" "$who" >/dev/null 2>&1
	cg_next_event gate 15 >/dev/null
done
cg_mark gate
timeout 20 curl -sS --max-time 15 --resolve "localhost:$port:127.0.0.1" --cacert "$pki/ca.pem" \
	--cert "$pki/alice.pem" --key "$pki/alice.key" "https://localhost:$port/" >/dev/null 2>&1
cg_next_event gate 15 >/dev/null
for id in $(cg_events gate | jq -r .id); do
	valid "GET /v1/events/$id ($(cg_events gate | jq -r "select(.id == $id) | .reason")) matches Event" \
		GET "/v1/events/$id" 200
done
valid "GET /v1/events matches EventList" GET /v1/events 200
valid "GET /v1/events?limit=1 (with next) matches EventList" GET "/v1/events?limit=1" 200
valid "GET /v1/health matches Health" GET /v1/health 200
valid "GET /v1/stats matches Stats" GET /v1/stats 200
valid "GET /v1/connections matches" GET /v1/connections 200
valid "GET /v1/identities matches" GET /v1/identities 200
valid "GET /v1/identities?expiring=30d matches" GET "/v1/identities?expiring=30d" 200
valid "GET /v1/cache matches CacheInfo" GET /v1/cache 200
valid "GET /v1/config matches" GET /v1/config 200
valid "POST /v1/check (allowed) matches Event" POST /v1/check 200 --data-binary "@$pki/alice.pem"
valid "POST /v1/check (no_entry) matches Event" POST /v1/check 200 --data-binary "@$pki/zed.pem"
valid "POST /v1/check (garbage) 400 matches Error" POST /v1/check 400 --data-binary 'garbage'
esc=$(jq -rn --rawfile p "$pki/alice.pem" '$p | @uri')
valid "GET /v1/authz (allowed) matches" GET /v1/authz 200 -H "X-SSL-Client-Cert: $esc"
valid "GET /v1/authz (no header) 403 matches Error" GET /v1/authz 403
valid "POST /v1/reload 200 matches" POST /v1/reload 200
write_conf "no_such_key = 1"
valid "POST /v1/reload 400 matches" POST /v1/reload 400
write_conf
valid "GET /v1/events?limit=0 400 matches Error" GET "/v1/events?limit=0" 400
valid "GET /v1/events/999999 404 matches Error" GET /v1/events/999999 404
valid "DELETE /v1/cache 200 matches" DELETE /v1/cache 200
valid "DELETE /v1/cache/SHA256 of nothing cached 404 matches Error" DELETE "/v1/cache/$(printf '0%.0s' {1..64})" 404
head -c $((70 * 1024)) /dev/zero | tr '\0' A >"$CG_TMP/big"
valid "POST /v1/check 70 KiB 413 matches Error" POST /v1/check 413 --data-binary "@$CG_TMP/big"

# statuses the spec does not list for a path are checked against Error by hand
check_error() {  # check_error DESC STATUS [CURL_ARGS...] URL
	local desc=$1 want=$2 st; shift 2
	st=$(timeout 20 curl -sS --max-time 15 -o "$CG_TMP/api.body" -w '%{http_code}' "$@" 2>>"$CG_TMP/curl-api.err")
	if [ "$st" = "$want" ] && jq -e '(keys == ["error"]) and (.error | keys == ["code", "message"])
		and (.error.code | IN("bad_request", "bad_certificate", "unauthorized", "forbidden", "not_found",
		"method_not_allowed", "payload_too_large", "cache_disabled", "internal", "not_implemented"))
		and (.error.message | type == "string" and length > 0)' "$CG_TMP/api.body" >/dev/null 2>&1; then
		pass "$desc"
	else
		fail "$desc"; diag "status $st (want $want), body: $(head -c 300 "$CG_TMP/api.body")"
	fi
}
check_error "401 body is an Error" 401 "http://127.0.0.1:$aport/v1/health"
check_error "404 (unknown path) body is an Error" 404 -H "Authorization: Bearer $token" "http://127.0.0.1:$aport/v1/nope"
check_error "405 body is an Error" 405 -X DELETE -H "Authorization: Bearer $token" "http://127.0.0.1:$aport/v1/events"

cg_finish
