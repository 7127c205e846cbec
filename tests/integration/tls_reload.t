#!/usr/bin/env bash
# tls_reload.t: SIGHUP reloads the CRL through the runtime swap. A revoked client is
# denied; once the CRL is replaced by one without its serial and certgate gets SIGHUP, the
# same client is allowed again. A broken CRL + SIGHUP keeps the old runtime (still serving,
# same decisions) and the log says why.
. "$(dirname "$0")/lib.sh"

pki=$CG_TMP/pki
cg_pki init "$pki" >/dev/null || bail_out "certgate pki init failed"
cg_pki issue "$pki" dave --uid dave >/dev/null || bail_out "pki issue dave failed"
cp "$pki/crl.pem" "$CG_TMP/crl-clean.pem"      # the CRL before dave's revocation
cg_pki revoke "$pki" dave >/dev/null || bail_out "certgate pki revoke failed"
cmp -s "$pki/crl.pem" "$CG_TMP/crl-clean.pem" && bail_out "pki revoke did not change crl.pem"

# certgate reads the CRL from its own copy, so the test can swap it atomically.
cp "$pki/crl.pem" "$CG_TMP/crl.pem"
port=$(cg_free_port)
cat >"$CG_TMP/certgate.conf" <<EOF
[server]
listen = 127.0.0.1:$port
cert = $pki/server.pem
key = $pki/server.key
workers = 2

[pki]
ca = $pki/ca.pem
crl = $CG_TMP/crl.pem
EOF

cg_start gate "$CG_TMP/certgate.conf" || bail_out "certgate serve did not start"
pid=$(cg_pid gate)

cg_mark gate
out=$(cg_curl "$port" "$pki" dave 2>&1)
unlike "$(cg_body "$out")" '"allowed"' "revoked dave gets no identity"
ev=$(cg_next_event gate)
is "$(jqr "$ev" '.reason')" cert_revoked "revoked dave: event reason cert_revoked"

# try_until_allowed: after SIGHUP the reload may take a moment; retry (bounded, 10 s).
try_until_allowed() {
	local i
	for ((i = 0; i < 20; i++)); do
		cg_mark gate
		out=$(cg_curl "$port" "$pki" dave 2>&1)
		ev=$(cg_next_event gate) || ev=
		if cg_is_identity "$(cg_body "$out")" dave; then return 0; fi
		sleep 0.5
	done
	return 1
}

# Replace the CRL by one without dave's serial, then SIGHUP.
cp "$CG_TMP/crl-clean.pem" "$CG_TMP/crl.new" && mv -f "$CG_TMP/crl.new" "$CG_TMP/crl.pem"
kill -HUP "$pid"
if try_until_allowed; then
	pass "after the CRL is replaced and SIGHUP, dave is allowed again"
	is "$(jqr "$ev" '.outcome + "/" + .reason')" allowed/ok "after reload: event says allowed/ok"
else
	fail "after the CRL is replaced and SIGHUP, dave is allowed again"
	diag "last curl: $(printf '%s' "$out" | tail -n 3)" "last event: $ev"
	fail "after reload: event says allowed/ok"
fi
ok "certgate still runs after SIGHUP" kill -0 "$pid"

# A broken CRL: the reload fails, the old runtime stays (dave still allowed, so the bad file
# did not deny everyone nor stop the server), and a log line says why.
lines_before=$(wc -l <"$(cg_log gate)")
printf -- '-----BEGIN X509 CRL-----\nbm90IGEgQ1JM\n-----END X509 CRL-----\n' >"$CG_TMP/crl.new"
mv -f "$CG_TMP/crl.new" "$CG_TMP/crl.pem"
kill -HUP "$pid"
sleep 1.5
ok "certgate still runs after a SIGHUP with a broken CRL" kill -0 "$pid"
ok "certgate still listens after the failed reload" _cg_listening "$port"
cg_mark gate
out=$(cg_curl "$port" "$pki" dave 2>&1)
ok "the old runtime keeps serving: dave still allowed" cg_is_identity "$(cg_body "$out")" dave ||
	diag "curl: $(printf '%s' "$out" | tail -n 3)"
why=$(tail -n +"$((lines_before + 1))" "$(cg_log gate)" | grep -av '^{')
like "$why" '(error|warn|fail).*crl\.pem' "an error line names the CRL file that failed to load" ||
	diag "non-event log lines after the bad SIGHUP:" "$why"

# And a good CRL after that is picked up again: dave revoked once more.
cp "$pki/crl.pem" "$CG_TMP/crl.new" && mv -f "$CG_TMP/crl.new" "$CG_TMP/crl.pem"
kill -HUP "$pid"
revoked_again=no
for ((i = 0; i < 20; i++)); do
	cg_mark gate
	out=$(cg_curl "$port" "$pki" dave 2>&1)
	ev=$(cg_next_event gate) || ev=
	if [ "$(jqr "$ev" '.reason')" = cert_revoked ]; then revoked_again=yes; break; fi
	sleep 0.5
done
is "$revoked_again" yes "a later good CRL + SIGHUP is loaded: dave denied cert_revoked again"

cg_finish
