#!/usr/bin/env bash
# check_cli.t: `certgate check -c FILE [--json] CERT.pem` against a real slapd — the same
# decision as a connection, without a handshake, explained: rules tried, the rendered
# filter or DN, candidates, the comparison and every rendering of the identifiers.
# Exit 0 allowed, 1 denied, 2 error.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/fixtures/slapd.sh"

pki=$CG_TMP/pki
other=$CG_TMP/other
cg_pki init "$pki" >/dev/null || bail_out "certgate pki init failed"
cg_pki init "$other" >/dev/null || bail_out "certgate pki init (second PKI) failed"
cg_issue "$pki" alice --uid alice
cg_issue "$pki" bob --uid bob
cg_issue "$pki" evil --uid '*)(uid=*'
cg_issue "$pki" noid
cg_issue "$other" outsider --uid alice

cg_slapd_start
base=ou=people,dc=example,dc=org
cg_store "$pki" alice "uid=alice,$base"

conf=$CG_TMP/certgate.conf
{ cg_conf_gate "$(cg_free_port)" "$pki"; cg_conf_directory; } >"$conf"

check() {  # check [--json] NAME_OR_PATH: sets OUT and RC
	local json=()
	[ "$1" = --json ] && { json=(--json); shift; }
	local cert=$1
	case "$cert" in */*) ;; *) cert=$pki/$cert.pem ;; esac
	OUT=$("$CG_BIN" check -c "$conf" "${json[@]}" "$cert" 2>"$CG_TMP/check.err")
	RC=$?
}

check --json alice
is "$RC" 0 "alice: exit 0 (allowed)"
is "$(jqr "$OUT" .event.outcome)/$(jqr "$OUT" .event.reason)" allowed/ok "alice: allowed, ok"
is "$(jqr "$OUT" .event.directory.entry)" "uid=alice,$base" "alice: the event names the entry"
is "$(jqr "$OUT" '.event | has("tls") or has("steps")')" false "alice: no tls, no steps (no handshake)"
is "$(jqr "$OUT" '.directory.rules[0].rule // .directory.rules[0].name')" people "alice: rule people was tried"
is "$(jqr "$OUT" .directory.rules[0].filter)" "(&(objectClass=inetOrgPerson)(uid=alice))" \
	"alice: the rendered filter is shown"
is "$(jqr "$OUT" '.directory.rules[0].candidates | join(";")')" "uid=alice,$base" "alice: the candidates are shown"
is "$(jqr "$OUT" .directory.comparison)" match "alice: the comparison is shown"
is "$(jqr "$OUT" '.identifiers["subject.uid"]')" alice "alice: identifiers include {subject.uid}"
serial=$(openssl x509 -in "$pki/alice.pem" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
is "$(jqr "$OUT" .identifiers.serial)" "$serial" "alice: {serial} is the hex serial"
is "$(jqr "$OUT" '.identifiers["serial!hex_ur"]')" \
	"$(printf '%s' "$serial" | fold -w2 | tac | tr -d '\n' | tr 'a-f' 'A-F')" \
	"alice: {serial!hex_ur} is the byte-reversed upper-case serial (AD <SR>)"
is "$(jqr "$OUT" .identifiers.sha256)" \
	"$(openssl x509 -in "$pki/alice.pem" -outform DER | sha256sum | cut -d' ' -f1)" \
	"alice: {sha256} is the SHA-256 of the DER"

check alice
is "$RC" 0 "alice (human): exit 0"
like "$OUT" "decision: allowed \(ok\)" "alice (human): the decision is the first thing said"
like "$OUT" "\(uid=alice\)" "alice (human): the rendered filter is shown"

check --json bob
is "$RC" 1 "bob (certificate not in his entry): exit 1"
is "$(jqr "$OUT" .event.reason)" cert_not_in_entry "bob: cert_not_in_entry"
is "$(jqr "$OUT" .directory.comparison)" "no match" "bob: the comparison says no match"

check --json evil
is "$RC" 1 "uid '*)(uid=*': exit 1"
is "$(jqr "$OUT" .event.reason)" no_entry "uid '*)(uid=*': no_entry"
is "$(jqr "$OUT" .directory.rules[0].filter)" '(&(objectClass=inetOrgPerson)(uid=\2a\29\28uid=\2a))' \
	"uid '*)(uid=*': the filter holds only the escaped value"

check --json noid
is "$RC" 1 "no uid: exit 1"
like "$(jqr "$OUT" .directory.rules[0].skipped)" "subject.uid" "no uid: the rule is skipped, naming the variable"

check --json "$other/outsider.pem"
is "$RC" 1 "unknown CA: exit 1"
is "$(jqr "$OUT" .event.reason)" untrusted_issuer "unknown CA: untrusted_issuer, before any directory lookup"

check "$CG_TMP/missing.pem"
is "$RC" 2 "a missing certificate file: exit 2"
like "$(cat "$CG_TMP/check.err")" "missing.pem" "a missing certificate file: the error names it"
printf 'not a certificate\n' >"$CG_TMP/junk.pem"
check "$CG_TMP/junk.pem"
is "$RC" 2 "a file without a certificate: exit 2"
printf '[server]\nlisten = nowhere\n' >"$CG_TMP/bad.conf"
OUT=$("$CG_BIN" check -c "$CG_TMP/bad.conf" "$pki/alice.pem" 2>"$CG_TMP/check.err"); RC=$?
is "$RC" 2 "a broken configuration: exit 2"
like "$(cat "$CG_TMP/check.err")" "bad.conf:2:" "a broken configuration: FILE:LINE"

slapd_stop >/dev/null 2>&1
check --json alice
is "$RC" 1 "slapd stopped: exit 1 (fail closed)"
is "$(jqr "$OUT" .event.reason)" directory_unavailable "slapd stopped: directory_unavailable"

done_testing
