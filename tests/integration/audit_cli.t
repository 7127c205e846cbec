#!/usr/bin/env bash
# audit_cli.t: `certgate audit-directory -c FILE [--json]` against a real slapd. A clean
# directory exits 0; then each kind of trouble an admin wants to know before a rollout is
# reported once, naming the entry: expired, revoked and untrusted stored certificates, a
# certificate that maps to several entries, to another entry or to none, and an entry
# several rules reach. Exit 1 with findings, 2 on errors.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/fixtures/slapd.sh"

pki=$CG_TMP/pki
other=$CG_TMP/other
cg_pki init "$pki" >/dev/null || bail_out "certgate pki init failed"
cg_pki init "$other" >/dev/null || bail_out "certgate pki init (second PKI) failed"
cg_issue "$pki" alice --uid alice --email alice@example.org
cg_issue "$pki" old-bob --uid bob --not-before -3d --not-after -1d
cg_issue "$other" outsider --uid carol
cg_issue "$pki" twin --uid twin
cg_issue "$pki" misfiled --uid dave
cg_issue "$pki" noid
cg_issue "$pki" dave --uid dave
cg_slapd_start
base=ou=people,dc=example,dc=org

conf() {  # conf NAME [EXTRA RULES]
	{ cg_conf_gate "$(cg_free_port)" "$pki"; cg_conf_directory; printf '%s\n' "${2:-}"; } >"$CG_TMP/$1.conf"
}
audit() {  # audit CONF: sets OUT, RC
	OUT=$("$CG_BIN" audit-directory -c "$CG_TMP/$1.conf" --json 2>"$CG_TMP/audit.err")
	RC=$?
}
count() { jqr "$OUT" "[.findings[] | select($1)] | length"; }

conf one
cg_store "$pki" alice "uid=alice,$base"
cg_store "$pki" dave "uid=dave,$base"
audit one
is "$RC" 0 "a clean directory: exit 0"
is "$(jqr "$OUT" '.certificates')" 2 "two stored certificates were examined"
is "$(jqr "$OUT" '.findings | length')" 0 "no findings"

cg_store "$pki" old-bob "uid=bob,$base"
cg_store "$other" outsider "uid=carol,$base"
cg_add_twins "$base"
cg_store "$pki" twin "cn=Twin One,$base"
cg_store "$pki" misfiled "uid=erin,$base"
cg_store "$pki" noid "uid=alice,$base"
cg_pki revoke "$pki" dave >/dev/null || bail_out "revoke failed"

audit one
is "$RC" 1 "findings: exit 1"
is "$(count '.kind == "expired" and .entry == "uid=bob,'"$base"'"')" 1 "bob's expired certificate is reported"
is "$(count '.kind == "untrusted_issuer" and .entry == "uid=carol,'"$base"'"')" 1 "carol's certificate from an unknown CA is reported"
is "$(count '.kind == "revoked" and .entry == "uid=dave,'"$base"'"')" 1 "dave's revoked certificate is reported"
is "$(count '.kind == "several_entries" and (.detail | test("Twin One") and test("Twin Two"))')" 1 \
	"the twin certificate maps to several entries, both named"
is "$(count '.kind == "maps_elsewhere" and .entry == "uid=erin,'"$base"'"')" 1 \
	"a certificate stored in erin's entry but mapping to dave's is reported"
is "$(count '.kind == "unmapped" and .entry == "uid=alice,'"$base"'"')" 1 \
	"a certificate no rule can map (no uid) is reported"
is "$(count '.kind == "several_rules"')" 0 "one rule: no entry is reached by several rules"
is "$(count '.kind == "unmapped" and .entry == "cn=Twin One,'"$base"'"')" 0 "an ambiguous certificate is not also called unmapped"
is "$(count '.sha256 == null and .kind != "unparsable"')" 0 "every finding names its certificate"

conf two "[map:mail]
priority = 20
base = $base
filter = (mail={subject.email})"
audit two
is "$(count '.kind == "several_rules" and .entry == "uid=alice,'"$base"'" and (.detail | test("people") and test("mail"))')" 1 \
	"two rules reaching alice's entry for one certificate are reported"

# more entries than the server's size limit (500): paged results walk them all
der=$(openssl x509 -in "$pki/dave.pem" -outform DER | base64 -w0)
for i in $(seq 1 600); do
	printf 'dn: uid=bulk%s,%s\nobjectClass: inetOrgPerson\nuid: bulk%s\ncn: bulk\nsn: bulk\nuserCertificate;binary:: %s\n\n' \
		"$i" "$base" "$i" "$der"
done | slapd_add >/dev/null || bail_out "could not add the bulk entries"
audit one
is "$(jqr "$OUT" .truncated)" false "600 more entries than the size limit: the paged walk is complete"
ok "every certificate-holding entry was examined ($(jqr "$OUT" .entries))" [ "$(jqr "$OUT" .entries)" -ge 606 ]
is "$(count '.kind == "maps_elsewhere" and (.entry | startswith("uid=bulk"))')" 600 \
	"each bulk entry holding dave's certificate is reported"

OUT=$("$CG_BIN" audit-directory -c "$CG_TMP/one.conf" 2>&1)
like "$OUT" "expired +uid=bob" "the human report names kind and entry"
like "$OUT" "findings" "the human report ends with a summary"

slapd_stop >/dev/null 2>&1
audit one
is "$RC" 2 "the directory is down: exit 2"
like "$(cat "$CG_TMP/audit.err")" "directory" "the error says the directory failed"

done_testing
