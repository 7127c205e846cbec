#!/usr/bin/env bash
# tls_allow.t: a client with a good certificate gets the identity JSON from the built-in
# responder, with curl, openssl s_client and gnutls-cli, over TLS 1.3 and TLS 1.2, with an
# ECDSA and an RSA client key; the event says allowed/ok with the TLS version the client
# forced and an ordered handshake transcript.
. "$(dirname "$0")/lib.sh"

pki=$CG_TMP/pki
cg_pki init "$pki" >/dev/null || bail_out "certgate pki init failed"
cg_issue "$pki" alice --uid alice
cg_issue "$pki" rsa-alice --uid alice --key rsa

port=$(cg_free_port)
# a second listener on the IPv6 loopback (skipped where the machine has no ::1)
port6=$(cg_free_port)
listen6=
ip -6 addr show lo 2>/dev/null | grep -q '::1/128' && listen6="listen = [::1]:$port6"
cg_conf_gate "$port" "$pki" "handshake_timeout = 10s
$listen6" >"$CG_TMP/certgate.conf"

cg_start gate "$CG_TMP/certgate.conf" || bail_out "certgate serve did not start"

# The event's cert.sha256 is the SHA-256 of the presented leaf (DER).
leaf_sha256() { openssl x509 -in "$1" -outform DER | sha256sum | cut -d' ' -f1; }

# check_allowed CLIENT VERSION NAME STATUS OUTPUT
check_allowed() {
	local client=$1 ver=$2 name=$3 status=$4 out=$5 body ev what
	what="$client TLS$ver $name"
	is "$status" 0 "$what: client exits 0"
	body=$(cg_body "$out")
	if cg_is_identity "$body" "$name"; then
		pass "$what: client shows the identity JSON"
	else
		fail "$what: client shows the identity JSON"
		diag "client output:" "$(printf '%s' "$out" | tail -n 15)"
	fi
	if ! ev=$(cg_next_event gate); then
		fail "$what: an event is logged"
		return
	fi
	pass "$what: an event is logged"
	is "$(jqr "$ev" '.outcome + "/" + .reason')" "allowed/ok" "$what: event says allowed/ok"
	is "$(jqr "$ev" '.tls.version')" "TLS$ver" "$what: event tls.version is TLS$ver"
	like "$(jqr "$ev" '.cert.subject')" "CN=$name(,|\$)" "$what: event cert.subject names CN=$name"
	if cg_steps_ordered "$ev"; then
		pass "$what: event steps are in handshake order"
	else
		fail "$what: event steps are in handshake order"
		diag "steps: $(jqr "$ev" '.steps' | tr -d ' \n')"
	fi
	is "$(jqr "$body" '.event')" "$(jqr "$ev" '.id')" "$what: the response names its event id"
}

for name in alice rsa-alice; do
	for ver in 1.3 1.2; do
		cg_mark gate
		if [ "$ver" = 1.3 ]; then vc=(--tlsv1.3); else vc=(--tlsv1.2 --tls-max 1.2); fi
		out=$(cg_curl "$port" "$pki" "$name" "${vc[@]}" 2>&1); st=$?
		check_allowed curl "$ver" "$name" "$st" "$out"

		cg_mark gate
		out=$(cg_s_client "$port" "$pki" "$name" "-tls${ver/./_}"); st=$?
		check_allowed s_client "$ver" "$name" "$st" "$out"

		cg_mark gate
		out=$(cg_gnutls_cli "$port" "$pki" "$name" --priority "NORMAL:-VERS-ALL:+VERS-TLS$ver"); st=$?
		check_allowed gnutls-cli "$ver" "$name" "$st" "$out"
	done
done

# The certificate facts are those of the presented certificate.
cg_mark gate
out=$(cg_curl "$port" "$pki" alice 2>&1)
if ev=$(cg_next_event gate); then
	is "$(jqr "$ev" '.cert.sha256 | ascii_downcase')" "$(leaf_sha256 "$pki/alice.pem")" \
		"event cert.sha256 is the SHA-256 of alice's certificate"
	like "$(jqr "$ev" '.cert.issuer')" "CN=" "event cert.issuer is a DN"
	like "$(jqr "$ev" '.duration_us')" '^[0-9]+$' "event duration_us is a number"
else
	fail "an event for the facts check"
fi

# IPv6: the same gate on [::1]
if [ -n "$listen6" ]; then
	cg_mark gate
	body=$(timeout 20 curl -sS --max-time 15 --cacert "$pki/ca.pem" --cert "$pki/alice.pem" --key "$pki/alice.key" \
		"https://[::1]:$port6/" 2>/dev/null)
	ev=$(cg_next_event gate 10)
	ok "IPv6 [::1]: curl gets alice's identity JSON" cg_is_identity "$body" alice
	like "$(jqr "$ev" .peer)" '^\[::1\]:[0-9]+$' "IPv6: the event's peer is [::1]:PORT"
	is "$(jqr "$ev" .listener)" "[::1]:$port6" "IPv6: the event names the [::1] listener"
else
	pass "IPv6: skipped, no ::1 on this machine # SKIP"
	pass "IPv6: skipped # SKIP"
	pass "IPv6: skipped # SKIP"
fi

cg_finish
