#!/usr/bin/env bash
# api_check.t: POST /v1/check (DESIGN §8) decides on a certificate without a handshake,
# with a PEM body and with a JSON body {"pem": "..."}, and answers the decision as an
# event without tls and steps — the same decision (outcome, reason, certificate, entry,
# rule) as a real connection with that certificate makes. Garbage bodies are 400 with a
# JSON error; certgate keeps running and its sanitizer log stays clean.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/fixtures/slapd.sh"

SPEC=$top_srcdir/schema/openapi.yaml
have_schema_tools=true
"$CG_PYTHON" -c 'import yaml, jsonschema' 2>/dev/null || have_schema_tools=false

pki=$CG_TMP/pki
other=$CG_TMP/other
cg_pki init "$pki" >/dev/null || bail_out "certgate pki init failed"
cg_pki init "$other" >/dev/null || bail_out "certgate pki init (second PKI) failed"
cg_issue "$pki" alice --uid alice
cg_issue "$pki" forged-alice --uid alice
cg_issue "$pki" zed --uid zed
cg_issue "$pki" expired --uid alice --not-before -2d --not-after -1d
cg_issue "$other" mallory --uid alice

cg_slapd_start
base=ou=people,dc=example,dc=org
cg_store "$pki" alice "uid=alice,$base"

port=$(cg_free_port)
aport=$(cg_free_port)
{
	cg_conf_gate "$port" "$pki" 'handshake_timeout = 15s'
	cg_conf_directory 'pool_size = 2'
	printf '[admin]\nlisten = 127.0.0.1:%s\n' "$aport"
} >"$CG_TMP/gate.conf"
cg_start gate "$CG_TMP/gate.conf" || bail_out "certgate did not start"
A="http://127.0.0.1:$aport"

# check_post CONTENT_TYPE FILE: POST FILE to /v1/check; prints the status, body in
# $CG_TMP/api.body.
check_post() {
	: >"$CG_TMP/api.body"
	timeout 20 curl -sS --max-time 15 -o "$CG_TMP/api.body" -w '%{http_code}' \
		-H "Content-Type: $1" --data-binary "@$2" "$A/v1/check" 2>>"$CG_TMP/curl-api.err"
}
is_error_body() {
	jq -e '(keys == ["error"]) and (.error.code | type == "string")
		and (.error.message | type == "string")' "$CG_TMP/api.body" >/dev/null 2>&1
}
schema_ok() {  # schema_ok DESC STATUS
	if ! $have_schema_tools; then pass "$1 # SKIP python3-yaml/python3-jsonschema missing"; return; fi
	local err
	if err=$("$CG_PYTHON" "$top_srcdir/tests/tools/openapi_check.py" "$SPEC" /v1/check post "$2" \
		"$CG_TMP/api.body" 2>&1); then
		pass "$1"
	else
		fail "$1"; diag "$err" "body: $(head -c 1500 "$CG_TMP/api.body")"
	fi
}
# decision: the parts of an event that a check must share with a connection
decision='{outcome, reason, cert: (.cert // null | if . then {subject, issuer, serial, sha256} else null end),
	entry: .directory.entry, rule: .directory.rule}'

# same_as_connection LABEL CLIENT_PEM REASON: a real connection as CLIENT, then /v1/check
# with its certificate as PEM and as JSON; both must decide like the connection.
same_as_connection() {
	local label=$1 certbase=$2 reason=$3 ev st want got
	cg_mark gate
	cg_curl "$port" "$pki" "$certbase" >/dev/null 2>&1
	ev=$(cg_next_event gate 15) || ev=
	is "$(jqr "$ev" .reason)" "$reason" "$label: a real connection is decided $reason"
	want=$(jq -cS "$decision" <<<"$ev" 2>/dev/null)

	st=$(check_post application/x-pem-file "$certbase.pem")
	is "$st" 200 "$label: POST /v1/check with a PEM body is 200"
	got=$(jq -cS "$decision" "$CG_TMP/api.body" 2>/dev/null)
	is "$got" "$want" "$label (PEM body): the same decision as the connection"
	is "$(jq -r '[has("tls"), has("steps")] | map(tostring) | join(",")' "$CG_TMP/api.body")" false,false \
		"$label (PEM body): no tls, no steps"
	schema_ok "$label (PEM body): the answer matches the Event schema" 200
	[ "$reason" = ok ] || is "$(jq -r '.detail | type' "$CG_TMP/api.body")" string "$label: the denial has a detail"

	jq -n --rawfile pem "$certbase.pem" '{pem: $pem}' >"$CG_TMP/check.json"
	st=$(check_post application/json "$CG_TMP/check.json")
	is "$st" 200 "$label: POST /v1/check with a JSON body is 200"
	got=$(jq -cS "$decision" "$CG_TMP/api.body" 2>/dev/null)
	is "$got" "$want" "$label (JSON body): the same decision as the connection"
	is "$(jq -r '[has("tls"), has("steps")] | map(tostring) | join(",")' "$CG_TMP/api.body")" false,false \
		"$label (JSON body): no tls, no steps"
}

same_as_connection alice "$pki/alice" ok
is "$(jq -r .directory.entry "$CG_TMP/api.body")" "uid=alice,$base" "alice: the check names her entry"
same_as_connection forged-alice "$pki/forged-alice" cert_not_in_entry
same_as_connection zed "$pki/zed" no_entry
same_as_connection expired "$pki/expired" cert_expired
same_as_connection mallory "$other/mallory" untrusted_issuer

# JSON detected by its first byte, whatever the content type says
jq -n --rawfile pem "$pki/alice.pem" '{pem: $pem}' >"$CG_TMP/check.json"
st=$(check_post text/plain "$CG_TMP/check.json")
is "$st/$(jq -r .reason "$CG_TMP/api.body" 2>/dev/null)" 200/ok "a JSON body sent as text/plain is still read as JSON"

# garbage → 400 with a JSON error
printf 'hello, not a certificate\n' >"$CG_TMP/g1"
printf -- '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n' >"$CG_TMP/g2"
head -c 4000 /dev/urandom >"$CG_TMP/g3"
printf '{"pem": 42}' >"$CG_TMP/g4"
printf '{"pem": "x"' >"$CG_TMP/g5"
jq -n --rawfile pem "$pki/alice.pem" '{pem: $pem, extra: 1}' >"$CG_TMP/g6"
printf '{"pem": "-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----\\n"}' >"$CG_TMP/g7"
printf '[]' >"$CG_TMP/g8"
openssl x509 -in "$pki/alice.pem" -outform DER >"$CG_TMP/g9"        # DER, not PEM
cp "$pki/alice.key" "$CG_TMP/g10"                                      # a key, not a certificate
sed '2d' "$pki/alice.pem" >"$CG_TMP/g11"                               # a line of base64 missing
: >"$CG_TMP/g12"                                                        # empty
for g in g1:text/plain g2:application/x-pem-file g3:application/octet-stream g4:application/json \
	g5:application/json g6:application/json g7:application/json g8:application/json \
	g9:application/x-pem-file g10:application/x-pem-file g11:application/x-pem-file g12:text/plain; do
	f=${g%%:*} ct=${g#*:}
	st=$(check_post "$ct" "$CG_TMP/$f")
	if [ "$st" = 400 ] && is_error_body; then
		pass "garbage body $f ($ct): 400 with a JSON error"
	else
		fail "garbage body $f ($ct): 400 with a JSON error"
		diag "status $st, body: $(head -c 300 "$CG_TMP/api.body")"
	fi
done
schema_ok "the 400 answer matches the Error schema" 400
st=$(timeout 20 curl -sS --max-time 15 -o "$CG_TMP/api.body" -w '%{http_code}' "$A/v1/check")
is "$st" 405 "GET /v1/check is 405"
ok "certgate still runs after the garbage" kill -0 "$(cg_pid gate)"

# a connection after all this is still decided as before
cg_mark gate
out=$(cg_curl "$port" "$pki" alice 2>&1)
ok "alice is still allowed through a real connection" cg_is_identity "$(cg_body "$out")" alice

cg_finish
