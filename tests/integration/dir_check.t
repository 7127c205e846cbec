#!/bin/bash
# TAP: the directory decision against a real slapd (tests/fixtures/slapd.sh),
# driven through tests/tools/dircheck: allowed, cert removed / second cert,
# no_entry, ambiguous_entry, a dn = rule, deny_filter, require_group,
# verify = ifpresent, failover, ldaps:// and StartTLS, a stopped, a frozen and
# a restarted directory, both directly and through the pool.

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
DIRCHECK=$top_builddir/tests/tools/dircheck

# shellcheck source=../fixtures/slapd.sh
. "$top_srcdir/tests/fixtures/slapd.sh"

T=0
FAILED=0
ok() { T=$((T + 1)); echo "ok $T - $*"; }
nok() { T=$((T + 1)); FAILED=$((FAILED + 1)); echo "not ok $T - $*"; }
diag() { sed 's/^/# /'; }
bail() { echo "Bail out! $*"; exit 1; }

for tool in certtool ldapmodify "$SLAPD_BIN"; do
	command -v "$tool" >/dev/null 2>&1 || { echo "1..0 # SKIP $tool not installed"; exit 0; }
done
[ -x "$DIRCHECK" ] || bail "$DIRCHECK not built"

W=$(mktemp -d /tmp/cg-dircheck.XXXXXX) || bail "mktemp"
cleanup() {
	slapd_stop
	rm -rf "$W"
}
trap cleanup EXIT

slapd_start "$W/slapd" >"$W/start.log" 2>&1 || { diag <"$W/start.log"; bail "slapd did not start"; }
ok "slapd started on $SLAPD_URI and $SLAPD_LDAPS_URI (pid $SLAPD_PID)"

# --- a throwaway client PKI -------------------------------------------------
P=$W/pki
mkdir -p "$P"
cat >"$P/ca.tmpl" <<'EOF'
cn = "dircheck test CA"
organization = "Example"
expiration_days = 30
ca
cert_signing_key
EOF
certtool --generate-privkey --key-type=ecdsa --outfile "$P/ca.key" >/dev/null 2>&1 &&
	certtool --generate-self-signed --load-privkey "$P/ca.key" --template "$P/ca.tmpl" \
		--outfile "$P/ca.pem" >/dev/null 2>&1 || bail "CA"

# mkcert NAME UID EMAIL: NAME.pem and NAME.der
mkcert() {
	cat >"$P/$1.tmpl" <<EOF
cn = "$1"
uid = "$2"
email = "$3"
organization = "Example"
serial = $((RANDOM * 32768 + RANDOM + 1))
expiration_days = 30
tls_www_client
signing_key
EOF
	certtool --generate-privkey --key-type=ecdsa --outfile "$P/$1.key" >/dev/null 2>&1 &&
		certtool --generate-certificate --load-privkey "$P/$1.key" --load-ca-certificate "$P/ca.pem" \
			--load-ca-privkey "$P/ca.key" --template "$P/$1.tmpl" --outfile "$P/$1.pem" >/dev/null 2>&1 &&
		certtool --certificate-info --infile "$P/$1.pem" --outder --outfile "$P/$1.der" >/dev/null 2>&1 ||
		bail "certificate $1"
}
mkcert alice alice alice@example.org
mkcert alice2 alice alice@example.org
mkcert bob bob bob@example.org
mkcert carol carol carol@example.org
mkcert ghost ghost ghost@example.org
mkcert twin twin twin@example.org

# cert_op add|delete ENTRY_UID NAME
cert_op() {
	slapd_modify >"$W/modify.log" 2>&1 <<EOF
dn: uid=$2,ou=people,$SLAPD_BASE
changetype: modify
$1: userCertificate;binary
userCertificate;binary:< file://$P/$3.der
EOF
}

# --- configurations ------------------------------------------------------------
# conf NAME [extra [directory] lines] [rules]: writes $W/NAME.ini
conf() {
	local name=$1 extra=$2 rules=$3
	{
		echo "[directory]"
		echo "uri = ${URI:-$SLAPD_URI}"
		echo "bind_dn = $SLAPD_BIND_DN"
		echo "bind_password_file = $SLAPD_BIND_PW_FILE"
		echo "timeout = ${TIMEOUT:-2s}"
		[ -n "$extra" ] && printf '%s\n' "$extra"
		if [ -n "$rules" ]; then
			printf '%s\n' "$rules"
		else
			printf '%s\n' "[map:people]" "priority = 10" "base = ou=people,$SLAPD_BASE" "scope = sub" \
				"filter = (&(objectClass=inetOrgPerson)(uid={subject.uid}))"
		fi
	} >"$W/$name.ini"
}

# check DESC CONFIG CERT REGEX... : dircheck output must match every regex.
OUT=
check() {
	local desc=$1 cfg=$2 cert=$3 re
	shift 3
	local args=()
	[ "${POOL:-}" = 1 ] && args=(--pool)
	OUT=$("$DIRCHECK" "${args[@]}" "$W/$cfg.ini" "$P/$cert.pem" 2>&1)
	if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:' <<<"$OUT"; then
		nok "$desc (sanitizer report)"
		diag <<<"$OUT"
		return 1
	fi
	for re in "$@"; do
		if ! grep -Eq -- "$re" <<<"$OUT"; then
			nok "$desc"
			{ echo "expected /$re/ in:"; echo "$OUT"; } | diag
			return 1
		fi
	done
	ok "$desc"
}

conf base
cert_op add alice alice || bail "adding alice's certificate: $(cat "$W/modify.log")"

check "alice allowed" base alice "^reason=ok entry=uid=alice,ou=people,dc=example,dc=org rule=people$" \
	'"comparison":"match"' '"certificates_in_entry":1' \
	'"filter":"\(&\(objectClass=inetOrgPerson\)\(uid=alice\)\)"'
POOL=1 check "alice allowed through the pool" base alice "^reason=ok entry=uid=alice,ou=people" "health up=1"

cert_op delete alice alice || bail "deleting: $(cat "$W/modify.log")"
check "certificate removed from the entry: cert_not_in_entry" base alice "^reason=cert_not_in_entry " \
	"detail=entry has 0 certificates, none matches" '"comparison":"no match"'

cert_op add alice alice2 || bail "adding alice2"
check "another certificate in the entry: cert_not_in_entry" base alice "^reason=cert_not_in_entry " \
	"detail=entry has 1 certificate, none matches"
cert_op add alice alice || bail "re-adding alice"
check "two certificates, the first one allowed" base alice "^reason=ok " '"certificates_in_entry":2'
check "two certificates, the second one allowed" base alice2 "^reason=ok entry=uid=alice,"

check "no entry for ghost: no_entry" base ghost "^reason=no_entry entry=- rule=-$"

slapd_modify >"$W/modify.log" 2>&1 <<EOF || bail "twin uids"
dn: uid=dave,ou=people,$SLAPD_BASE
changetype: modify
add: uid
uid: twin

dn: uid=erin,ou=people,$SLAPD_BASE
changetype: modify
add: uid
uid: twin
EOF
check "two entries match: ambiguous_entry with both DNs" base twin "^reason=ambiguous_entry entry=- rule=people" \
	"^candidate=uid=dave,ou=people,dc=example,dc=org$" "^candidate=uid=erin,ou=people,dc=example,dc=org$"

conf bydn "" "$(printf '%s\n' "[map:bydn]" "dn = uid={subject.uid},ou=people,$SLAPD_BASE")"
check "a dn = rule reads the entry" bydn alice "^reason=ok entry=uid=alice,ou=people,dc=example,dc=org rule=bydn$" \
	'"dn":"uid=alice,ou=people,dc=example,dc=org"'
check "a dn = rule without an entry: no_entry" bydn ghost "^reason=no_entry "

conf twor "" "$(printf '%s\n' "[map:b-mail]" "priority = 5" "base = $SLAPD_BASE" \
	"filter = (mail={subject.email})" "match = <SUBJECT>CN=nobody" \
	"[map:a-uid]" "priority = 5" "base = $SLAPD_BASE" "filter = (uid={subject.uid})")"
check "rules in (priority, name) order; a non-matching rule is skipped" twor alice "^reason=ok .* rule=a-uid$"

conf deny "deny_filter = (nsAccountLock=TRUE)"
check "deny_filter, unlocked account allowed" deny alice "^reason=ok " '"matched":false'
slapd_modify >"$W/modify.log" 2>&1 <<EOF || bail "lock"
dn: uid=alice,ou=people,$SLAPD_BASE
changetype: modify
replace: nsAccountLock
nsAccountLock: true
EOF
check "deny_filter (nsAccountLock=TRUE): account_disabled" deny alice "^reason=account_disabled " '"matched":true'
check "deny_filter is not applied without the key" base alice "^reason=ok "
slapd_modify >"$W/modify.log" 2>&1 <<EOF || bail "unlock"
dn: uid=alice,ou=people,$SLAPD_BASE
changetype: modify
delete: nsAccountLock
EOF

cert_op add carol carol || bail "carol"
conf staff "require_group = cn=staff,ou=groups,$SLAPD_BASE"
check "require_group: member alice allowed" staff alice "^reason=ok " '"via":"member"'
check "require_group: non-member carol gets not_in_group" staff carol "^reason=not_in_group entry=uid=carol,"
conf admins "require_group = cn=admins,ou=groups,$SLAPD_BASE"
check "require_group via uniqueMember: carol allowed" admins carol "^reason=ok " '"via":"member"'

check "verify = always, bob's entry holds no certificate: cert_not_in_entry" base bob "^reason=cert_not_in_entry "
conf ifpresent "verify = ifpresent"
check "verify = ifpresent, no certificate in the entry: allowed" ifpresent bob "^reason=ok entry=uid=bob,"
check "verify = ifpresent, the certificate is in the entry: allowed" ifpresent alice2 "^reason=ok "
cert_op add bob alice || bail "bob gets alice's cert"
check "verify = ifpresent, entry holds another certificate: cert_not_in_entry" ifpresent bob "^reason=cert_not_in_entry "
conf never "verify = never"
check "verify = never: allowed" never bob "^reason=ok "

CLOSED=$(_slapd_free_port "$SLAPD_PORT")
URI="ldap://127.0.0.1:$CLOSED $SLAPD_URI" conf failover
check "failover: first URI is a closed port, the second answers" failover alice "^uri=$SLAPD_URI$" "^reason=ok "
POOL=1 check "failover through the pool" failover alice "^reason=ok " "health up=1 uri=$SLAPD_URI "

URI=$SLAPD_LDAPS_URI conf ldaps "tls_ca = $SLAPD_TLS_CA"
check "ldaps:// with tls_ca" ldaps alice "^uri=ldaps://" "^reason=ok "
conf starttls "$(printf '%s\n' "starttls = on" "tls_ca = $SLAPD_TLS_CA")"
check "StartTLS with tls_ca" starttls alice "^reason=ok "
URI=$SLAPD_LDAPS_URI conf ldaps_wrongca "tls_ca = $P/ca.pem"
check "ldaps:// with the wrong CA: directory_unavailable" ldaps_wrongca alice "^reason=directory_unavailable "
conf starttls_wrongca "$(printf '%s\n' "starttls = on" "tls_ca = $P/ca.pem")"
check "StartTLS with the wrong CA: directory_unavailable" starttls_wrongca alice "^reason=directory_unavailable "

# A frozen slapd accepts TCP connections and never answers: bounded by timeout.
TIMEOUT=1s conf frozen
URI=$SLAPD_LDAPS_URI TIMEOUT=1s conf frozen_ldaps "tls_ca = $SLAPD_TLS_CA"
slapd_freeze
for mode in direct pool ldaps; do
	cfg=frozen
	[ "$mode" = ldaps ] && cfg=frozen_ldaps
	t0=$(date +%s%N)
	POOL=$([ "$mode" = pool ] && echo 1) check "frozen slapd ($mode): directory_unavailable" "$cfg" alice \
		"^reason=directory_unavailable "
	ms=$((($(date +%s%N) - t0) / 1000000))
	# timeout (1 s) + 1 s, with 3x slack: 6 s; without a bound this would hang
	if [ "$ms" -le 6000 ]; then
		ok "frozen slapd ($mode) answered in ${ms} ms (bound 6000 ms)"
	else
		nok "frozen slapd ($mode) answered in ${ms} ms (bound 6000 ms)"
	fi
done
slapd_thaw
check "thawed slapd answers again" base alice "^reason=ok "

slapd_stop
check "stopped slapd: directory_unavailable" base alice "^reason=directory_unavailable "
POOL=1 check "stopped slapd through the pool: directory_unavailable" base alice "^reason=directory_unavailable " \
	"health up=0"
slapd_restart >"$W/restart.log" 2>&1 || { diag <"$W/restart.log"; bail "restart"; }
check "restarted slapd (same ports, same data) allows alice" base alice "^reason=ok entry=uid=alice,"

echo "1..$T"
[ "$FAILED" = 0 ]
