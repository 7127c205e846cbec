#!/usr/bin/env bash
# tls_deny.t: clients that must not get in. Each is denied with the right reason in the
# event, and the client never sees the identity JSON: no certificate, unknown CA, expired,
# not yet valid, revoked by CRL, serverAuth-only EKU, a chain deeper than max_chain_depth,
# a TLS 1.1-only client, a client that offers only RSA key transport, and client-initiated
# renegotiation.
. "$(dirname "$0")/lib.sh"

pki=$CG_TMP/pki
other=$CG_TMP/other
cg_pki init "$pki" >/dev/null || bail_out "certgate pki init failed"
cg_pki init "$other" >/dev/null || bail_out "certgate pki init (second PKI) failed"
cg_issue "$pki" alice --uid alice
cg_issue "$other" outsider --uid outsider
cg_issue "$pki" expired --uid expired --not-before -2d --not-after -1d
cg_issue "$pki" future --uid future --not-before +1d --not-after +10d
cg_issue "$pki" revoked --uid revoked
cg_issue "$pki" serveronly --uid serveronly --eku serverAuth
cg_issue "$pki" sub1 --ca
cg_issue "$pki" sub2 --ca --issuer sub1
cg_issue "$pki" deep --uid deep --issuer sub2
cg_issue "$pki" shallow --uid shallow --issuer sub1
cg_pki revoke "$pki" revoked >/dev/null || bail_out "certgate pki revoke failed"

ncerts() { grep -c -- '-----BEGIN CERTIFICATE-----' "$1"; }
is "$(ncerts "$pki/deep.pem")" 3 "deep.pem presents 3 certificates (leaf, sub2, sub1)"
is "$(ncerts "$pki/shallow.pem")" 2 "shallow.pem presents 2 certificates (leaf, sub1)"

port=$(cg_free_port)
{
	cg_conf_gate "$port" "$pki" 'handshake_timeout = 10s'
	printf '[pki]\nrequire_eku = clientAuth\nmax_chain_depth = 2\n'
} >"$CG_TMP/certgate.conf"

cg_start gate "$CG_TMP/certgate.conf" || bail_out "certgate serve did not start"

# denied WHAT REASON STATUS OUTPUT: the client failed, saw no identity, the event says why.
denied() {
	local what=$1 reason=$2 status=$3 out=$4 body ev
	if [ "$status" -ne 0 ]; then
		pass "$what: client fails (status $status)"
	else
		fail "$what: client fails"
	fi
	body=$(cg_body "$out")
	if [ -z "$body" ] || [ "$(jqr "$body" '.outcome')" != allowed ]; then
		pass "$what: client gets no identity JSON"
	else
		fail "$what: client gets no identity JSON"
		diag "client got: $body"
	fi
	if ! ev=$(cg_next_event gate); then
		fail "$what: an event is logged"
		diag "client output:" "$(printf '%s' "$out" | tail -n 10)"
		return 1
	fi
	pass "$what: an event is logged"
	is "$(jqr "$ev" '.outcome + "/" + .reason')" "denied/$reason" "$what: event says denied/$reason" ||
		diag "event: $ev"
	EV=$ev
}

# A control first: the server lets a good client in, so the denials below mean something.
cg_mark gate
out=$(cg_curl "$port" "$pki" alice 2>&1)
ok "control: alice is allowed" cg_is_identity "$(cg_body "$out")" alice ||
	diag "curl: $(printf '%s' "$out" | tail -n 5)"
cg_next_event gate >/dev/null

# TLS 1.3 clients finish their side of the handshake before the verdict; cg_curl reads to
# the response, the alert or EOF.
for ver in 1.3 1.2; do
	if [ "$ver" = 1.3 ]; then vc=(--tlsv1.3); else vc=(--tlsv1.2 --tls-max 1.2); fi
	cg_mark gate
	out=$(cg_curl "$port" "$pki" - "${vc[@]}" 2>&1); st=$?
	denied "TLS$ver no certificate" no_client_cert "$st" "$out"

	cg_mark gate
	out=$(cg_curl "$port" "$pki" "$other/outsider" "${vc[@]}" 2>&1); st=$?
	denied "TLS$ver unknown CA" untrusted_issuer "$st" "$out"
done

cg_mark gate
out=$(cg_curl "$port" "$pki" expired 2>&1); st=$?
denied "expired certificate" cert_expired "$st" "$out"

cg_mark gate
out=$(cg_curl "$port" "$pki" future 2>&1); st=$?
denied "not yet valid certificate" cert_not_yet_valid "$st" "$out"

cg_mark gate
out=$(cg_curl "$port" "$pki" revoked 2>&1); st=$?
denied "certificate revoked by the CRL" cert_revoked "$st" "$out"

cg_mark gate
out=$(cg_curl "$port" "$pki" serveronly 2>&1); st=$?
denied "serverAuth-only EKU" eku_mismatch "$st" "$out"

cg_mark gate
out=$(cg_curl "$port" "$pki" deep 2>&1); st=$?
EV=
if denied "3 presented certificates, max_chain_depth = 2" untrusted_issuer "$st" "$out"; then
	like "$(jqr "$EV" '.detail')" 'max_chain_depth' "chain depth: event detail mentions max_chain_depth"
else
	fail "chain depth: event detail mentions max_chain_depth"
fi

cg_mark gate
out=$(cg_curl "$port" "$pki" shallow 2>&1); st=$?
ok "2 presented certificates within max_chain_depth = 2 are allowed" \
	cg_is_identity "$(cg_body "$out")" shallow || diag "curl: $(printf '%s' "$out" | tail -n 5)"
ev=$(cg_next_event gate)
is "$(jqr "$ev" '.reason')" ok "2 presented certificates: event reason ok"

# The other clients see the denial too, after their handshake finished (TLS 1.3).
cg_mark gate
out=$(cg_s_client "$port" "$pki" "$other/outsider" -tls1_3); st=$?
denied "s_client TLS1.3 unknown CA" untrusted_issuer "$st" "$out"

cg_mark gate
out=$(cg_gnutls_cli "$port" "$pki" expired --priority "NORMAL:-VERS-ALL:+VERS-TLS1.3"); st=$?
denied "gnutls-cli TLS1.3 expired certificate" cert_expired "$st" "$out"

# Protocol floor and key exchange: no TLS 1.1, no RSA key transport.
cg_mark gate
EV=
out=$(cg_gnutls_cli "$port" "$pki" alice --priority "NORMAL:-VERS-ALL:+VERS-TLS1.1"); st=$?
denied "TLS 1.1-only client" protocol_version "$st" "$out"
unlike "$(jqr "$EV" '.tls.version // "absent"')" 'TLS1\.[23]' \
	"TLS 1.1-only client: the event does not claim TLS 1.2/1.3 was negotiated"

cg_mark gate
out=$(cg_gnutls_cli "$port" "$pki" alice --priority "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+RSA"); st=$?
denied "RSA key exchange-only client" handshake_failed "$st" "$out"

# Client-initiated renegotiation (TLS 1.2) is refused; the identity is never handed out on
# a connection that tried it.
cg_mark gate
out=$(cg_gnutls_cli "$port" "$pki" alice --priority "NORMAL:-VERS-ALL:+VERS-TLS1.2" --rehandshake)
like "$out" 'ReHandshake has failed' "TLS1.2 client-initiated renegotiation is refused"
like "$out" 'No renegotiation is allowed|alert' "renegotiation: the client gets an alert"
unlike "$(cg_body "$out")" '"allowed"' "renegotiation: the client gets no identity JSON"
ok "certgate still runs after a renegotiation attempt" kill -0 "$(cg_pid gate)"

cg_finish
