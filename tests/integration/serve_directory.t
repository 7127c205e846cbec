#!/usr/bin/env bash
# serve_directory.t: the directory check of a running `certgate serve` against a real
# slapd (issue 3): the presented certificate must be one of the values in the user's
# entry. Allowed; removed from the entry → the very next connection is denied
# cert_not_in_entry; a second certificate → both allowed; no entry; two entries; the
# dn = rule; an AD strong mapping; deny_filter; require_group; LDAP injection through
# uid, email and CN; slapd stopped, restarted and frozen; failover; ldaps and StartTLS.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/fixtures/slapd.sh"

pki=$CG_TMP/pki
other=$CG_TMP/other
cg_pki init "$pki" >/dev/null || bail_out "certgate pki init failed"
cg_pki init "$other" >/dev/null || bail_out "certgate pki init (second PKI) failed"
cg_issue "$pki" alice --uid alice --email alice@example.org
cg_issue "$pki" alice2 --uid alice --email alice@example.org
cg_issue "$pki" bob --uid bob
cg_issue "$pki" carol --subject "cn=Carol Dn,ou=people,dc=example,dc=org"
cg_issue "$pki" dave-ad
cg_issue "$pki" erin --uid erin
cg_issue "$pki" twin --uid twin
cg_issue "$pki" zed --uid zed
cg_issue "$pki" forged-alice --uid alice --email alice@example.org

cg_slapd_start

base=ou=people,dc=example,dc=org
add_cert() { "$CG_BIN" pki ldif "$pki" "$1" --dn "$2" | slapd_modify >/dev/null; }
der_b64() { openssl x509 -in "$pki/$1.pem" -outform DER | base64 -w0; }

add_cert alice "uid=alice,$base" || bail_out "could not add alice's certificate"
add_cert bob "uid=bob,$base" || bail_out "could not add bob's certificate"
slapd_add >/dev/null <<EOF || bail_out "could not add carol's entry"
dn: cn=Carol Dn,$base
objectClass: inetOrgPerson
cn: Carol Dn
sn: Dn
EOF
add_cert carol "cn=Carol Dn,$base" || bail_out "could not add carol's certificate"
add_cert dave-ad "uid=dave,$base" || bail_out "could not add dave's certificate"
add_cert erin "uid=erin,$base" || bail_out "could not add erin's certificate"
# forged-alice copies nothing but the names: OpenLDAP's certificateExactMatch compares
# serial and issuer only, so certgate must compare the DER itself.

# Two entries with uid=twin; erin is locked; dave carries an AD strong mapping.
serial_hex=$(openssl x509 -in "$pki/dave-ad.pem" -noout -serial | cut -d= -f2)
serial_rev=$(printf '%s' "$serial_hex" | fold -w2 | tac | tr -d '\n' | tr 'a-f' 'A-F')
issuer_x500=$(openssl x509 -in "$pki/dave-ad.pem" -noout -issuer -nameopt RFC2253 |
	sed 's/^issuer=//' | tr ',' '\n' | tac | paste -sd, -)
cg_add_twins "$base"
slapd_modify >/dev/null <<EOF || bail_out "could not lock erin / map dave"
dn: uid=erin,$base
changetype: modify
replace: nsAccountLock
nsAccountLock: TRUE

dn: uid=dave,$base
changetype: modify
replace: altSecurityIdentities
altSecurityIdentities: X509:<I>$issuer_x500<SR>$serial_rev
EOF

# gate_conf NAME URI [EXTRA_DIRECTORY_LINES]: a configuration with the four rules.
gate_conf() {
	local name=$1 uri=$2 extra=${3:-}
	local port; port=$(cg_free_port)
	cat >"$CG_TMP/$name.conf" <<EOF
[server]
listen = 127.0.0.1:$port
cert = $pki/server.pem
key = $pki/server.key
workers = 2
handshake_timeout = 15s

[pki]
ca = $pki/ca.pem

[directory]
uri = $uri
bind_dn = $SLAPD_BIND_DN
bind_password_file = $SLAPD_BIND_PW_FILE
timeout = 2s
pool_size = 2
deny_filter = (nsAccountLock=TRUE)
$extra

# every connection asks the directory here: cache.t covers the cache and sync
[cache]
ttl = 0s

[map:people]
priority = 10
base = $base
scope = sub
filter = (&(objectClass=inetOrgPerson)(uid={subject.uid}))

[map:by-dn]
priority = 20
dn = {subject.dn}

[map:ad]
priority = 30
base = dc=example,dc=org
filter = (altSecurityIdentities=X509:<I>{issuer.dn!x500}<SR>{serial!hex_ur})

[map:mail]
priority = 40
base = $base
filter = (mail={subject.email})

[map:cn]
priority = 50
base = $base
filter = (cn={subject.cn})
EOF
	printf '%s\n' "$port"
}

main_port=$(gate_conf main "$SLAPD_URI")
cg_start main "$CG_TMP/main.conf" || bail_out "certgate did not start"

# try NAME [PKIDIR]: curl as NAME; sets BODY and EV (the event).
try() {
	local name=$1 dir=${2:-$pki} port=${3:-$main_port} gate=${4:-main}
	cg_mark "$gate"
	BODY=$(cg_curl "$port" "$pki" "$dir/$name" 2>"$CG_TMP/curl.err")
	EV=$(cg_next_event "$gate" 15)
}
expect() {  # expect NAME REASON [ENTRY] [GATE PORT]
	local name=$1 reason=$2 entry=${3:-} gate=${4:-main} port=${5:-$main_port}
	try "$name" "$pki" "$port" "$gate"
	is "$(jqr "$EV" .reason)" "$reason" "$name via $gate: reason $reason"
	if [ "$reason" = ok ]; then
		is "$(jqr "$BODY" .outcome)/$(jqr "$BODY" .event)" "allowed/$(jqr "$EV" .id)" \
			"$name via $gate: the client gets its identity JSON, naming its event"
		[ -z "$entry" ] || is "$(jqr "$BODY" .entry)" "$entry" "$name via $gate: the response names the entry"
	else
		is "$BODY" "" "$name via $gate: no identity for the client"
		[ -z "$entry" ] || is "$(jqr "$EV" .directory.entry)" "$entry" "$name via $gate: the event names the entry"
	fi
}

expect alice ok "uid=alice,$base"
is "$(jqr "$EV" .directory.rule)" people "alice: found by rule people"
ok "alice: transcript in order" cg_steps_ordered "$EV"
is "$(jqr "$EV" '[.steps[].step] | index("directory_checked") > index("chain_verified")')" true \
	"alice: directory_checked comes after chain_verified"
expect forged-alice cert_not_in_entry "uid=alice,$base"
like "$(cat "$CG_TMP/curl.err")" "[Aa]ccess denied|access_denied|alert" "forged-alice: the client sees a TLS alert"
like "$(jqr "$EV" .detail)" "1 certificate" "forged-alice: detail says the entry holds 1 certificate"

# remove alice's certificate: the very next connection is denied
slapd_modify >/dev/null <<EOF
dn: uid=alice,$base
changetype: modify
delete: userCertificate;binary
userCertificate;binary:: $(der_b64 alice)
EOF
expect alice cert_not_in_entry "uid=alice,$base"
add_cert alice "uid=alice,$base"
add_cert alice2 "uid=alice,$base"
expect alice ok "uid=alice,$base"
expect alice2 ok "uid=alice,$base"

expect zed no_entry
is "$(jqr "$EV" .directory.entry)" null "zed: no entry in the event"
expect twin ambiguous_entry
is "$(jqr "$EV" '.directory.candidates | sort | join(";")')" \
	"cn=Twin One,$base;cn=Twin Two,$base" "twin: every candidate DN is in the event"
expect carol ok "cn=Carol Dn,$base"
is "$(jqr "$EV" .directory.rule)" by-dn "carol: found by the dn = rule"
expect dave-ad ok "uid=dave,$base"
is "$(jqr "$EV" .directory.rule)" ad "dave-ad: found by the AD strong mapping rule"
expect erin account_disabled "uid=erin,$base"

# LDAP injection: hostile uid, email and CN never reach another user's entry
n=0
for v in '*' '*)(uid=*' 'alice)(|(uid=*' 'al\5cice' 'alice\' '*)(|(objectClass=*'; do
	n=$((n + 1))
	cg_issue "$pki" "evil$n" --uid "$v" --email "$v"
	add_cert "evil$n" "uid=alice,$base"  # even holding the certificate must not help
	try "evil$n"
	ok "uid/email '$v': denied" [ "$(jqr "$EV" .outcome)" = denied ]
	is "$(jqr "$EV" .reason)" no_entry "uid/email '$v': reason no_entry (no other entry matched)"
done
cg_issue "$pki" evilnul --cn-hex 616c69636500782a     # "alice\0x*"
cg_issue "$pki" evilstar --cn-hex 2a                  # "*"
cg_issue "$pki" evilbs --cn-hex 5c2a5c29               # "\*\)"
for name in evilnul evilstar evilbs; do
	add_cert "$name" "uid=alice,$base"
	try "$name"
	is "$(jqr "$EV" .reason)" no_entry "CN $name: reason no_entry"
done

# a resumed TLS session is checked again: bob resumes after his certificate left his entry
sess=$CG_TMP/bob.session
cg_mark main
out=$(cg_s_client "$main_port" "$pki" bob -sess_out "$sess")
ev=$(cg_next_event main 15)
is "$(jqr "$ev" .reason)/$(jqr "$ev" .tls.resumed)" "ok/false" "bob: a full handshake is allowed"
ok "bob: the client kept a session to resume" [ -s "$sess" ]
slapd_modify >/dev/null <<EOF
dn: uid=bob,$base
changetype: modify
delete: userCertificate;binary
userCertificate;binary:: $(der_b64 bob)
EOF
cg_mark main
out=$(cg_s_client "$main_port" "$pki" bob -sess_in "$sess")
ev=$(cg_next_event main 15)
is "$(jqr "$ev" .tls.resumed)" true "bob: the second connection resumed the session"
is "$(jqr "$ev" .reason)" cert_not_in_entry "bob: the resumed session is denied once the certificate is gone"
is "$(cg_body "$out")" "" "bob: no identity on the resumed connection"

# a second gateway that requires group membership
grp_port=$(gate_conf grp "$SLAPD_URI" "require_group = cn=staff,ou=groups,dc=example,dc=org")
cg_start grp "$CG_TMP/grp.conf" || bail_out "certgate (require_group) did not start"
expect alice ok "uid=alice,$base" grp "$grp_port"
expect carol not_in_group "cn=Carol Dn,$base" grp "$grp_port"

# failover: the first URI is a closed port
dead=$(cg_free_port)
fo_port=$(gate_conf failover "ldap://127.0.0.1:$dead $SLAPD_URI")
cg_start failover "$CG_TMP/failover.conf" || bail_out "certgate (failover) did not start"
expect alice ok "uid=alice,$base" failover "$fo_port"

# ldaps:// and StartTLS, verified against the slapd's CA
ldaps_port=$(gate_conf ldaps "$SLAPD_LDAPS_URI" "tls_ca = $SLAPD_TLS_CA")
cg_start ldaps "$CG_TMP/ldaps.conf" || bail_out "certgate (ldaps) did not start"
expect alice ok "uid=alice,$base" ldaps "$ldaps_port"
stls_port=$(gate_conf starttls "$SLAPD_URI" "starttls = on
tls_ca = $SLAPD_TLS_CA")
cg_start starttls "$CG_TMP/starttls.conf" || bail_out "certgate (starttls) did not start"
expect alice ok "uid=alice,$base" starttls "$stls_port"
# StartTLS with a CA that did not sign slapd's certificate must fail closed
bad_port=$(gate_conf badtls "$SLAPD_URI" "starttls = on
tls_ca = $pki/ca.pem")
cg_start badtls "$CG_TMP/badtls.conf" || bail_out "certgate (bad tls_ca) did not start"
expect alice directory_unavailable "" badtls "$bad_port"

# slapd stopped: directory_unavailable within timeout plus a second; back once it returns
slapd_stop >/dev/null 2>&1
t0=$(date +%s%N)
expect alice directory_unavailable
t1=$(date +%s%N)
ok "slapd stopped: denied within timeout + 1 s ($(((t1 - t0) / 1000000)) ms)" [ $(((t1 - t0) / 1000000)) -lt 3000 ]
slapd_restart >"$CG_TMP/slapd-restart.log" 2>&1 || bail_out "slapd did not restart"
expect alice ok "uid=alice,$base"

# slapd frozen: alice waits for the directory and is denied after the timeout, while a
# client that needs no directory (expired certificate) is answered in the meantime
cg_issue "$pki" expired --uid alice --not-before -2d --not-after -1d
slapd_freeze
cg_mark main
cg_curl "$main_port" "$pki" alice >"$CG_TMP/frozen.out" 2>&1 &
frozen_pid=$!
CG_OTHER_PIDS+=("$frozen_pid")
sleep 0.3
cg_curl "$main_port" "$pki" expired >/dev/null 2>&1
wait "$frozen_pid"
slapd_thaw
ev_expired=$(cg_wait_event main '.reason=="cert_expired"' 15)
ev_frozen=$(cg_wait_event main '.reason=="directory_unavailable"' 15)
ok "frozen slapd: another client's handshake still completes (cert_expired)" [ -n "$ev_expired" ]
ok "frozen slapd: alice is denied directory_unavailable" [ -n "$ev_frozen" ]
ok "frozen slapd: the other client is answered before alice's directory timeout" \
	[ "$(jqr "$ev_expired" .id)" -lt "$(jqr "$ev_frozen" .id)" ]
is "$(cg_body "$(cat "$CG_TMP/frozen.out")")" "" "frozen slapd: alice gets no identity"
expect alice ok "uid=alice,$base"

cg_finish
