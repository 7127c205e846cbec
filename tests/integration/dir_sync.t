#!/bin/bash
# TAP: RFC 4533 sync invalidation of the decision cache against a real slapd
# (tests/fixtures/slapd.sh, syncprov on dc=example,dc=org), driven through
# tests/tools/synctest: healthy after the refresh; a modified, a deleted and a
# renamed entry drop their decisions (and only theirs) whatever the DN's
# spelling; a change of the require_group entry drops every allowed decision
# but no denial; a frozen slapd is noticed by the probe; a stopped slapd makes the sync unhealthy at once and hides
# allowed decisions (still served stale on request); a restarted slapd makes
# it healthy again after a refresh that flushed the cache. Every wait is a
# bounded poll inside the driver, never a fixed sleep.

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
SYNCTEST=$top_builddir/tests/tools/synctest

# shellcheck source=../fixtures/slapd.sh
. "$top_srcdir/tests/fixtures/slapd.sh"

T=0
FAILED=0
ok() { T=$((T + 1)); echo "ok $T - $*"; }
nok() { T=$((T + 1)); FAILED=$((FAILED + 1)); echo "not ok $T - $*"; }
diag() { sed 's/^/# /'; }
bail() { echo "Bail out! $*"; exit 1; }

for tool in ldapmodify certtool "$SLAPD_BIN"; do
	command -v "$tool" >/dev/null 2>&1 || { echo "1..0 # SKIP $tool not installed"; exit 0; }
done
[ -x "$SYNCTEST" ] || bail "$SYNCTEST not built"

W=$(mktemp -d /tmp/cg-dirsync.XXXXXX) || bail "mktemp"
SYNC_PID=
cleanup() {
	if [ -n "$SYNC_PID" ]; then
		kill "$SYNC_PID" 2>/dev/null
		wait "$SYNC_PID" 2>/dev/null
	fi
	slapd_stop
	rm -rf "$W"
}
trap cleanup EXIT

slapd_start "$W/slapd" >"$W/start.log" 2>&1 || { diag <"$W/start.log"; bail "slapd did not start"; }
ok "slapd started on $SLAPD_URI (pid $SLAPD_PID)"

GROUP="cn=staff,ou=groups,$SLAPD_BASE"
cat >"$W/sync.ini" <<EOF
[directory]
uri = $SLAPD_URI
bind_dn = $SLAPD_BIND_DN
bind_password_file = $SLAPD_BIND_PW_FILE
timeout = 2s
require_group = $GROUP

[map:people]
priority = 10
base = ou=people,$SLAPD_BASE
scope = sub
filter = (&(objectClass=inetOrgPerson)(uid={subject.uid}))
EOF

# The driver runs as a coprocess: one command a line in, one answer a line out.
coproc SYNC { exec "$SYNCTEST" "$W/sync.ini" 2>"$W/synctest.err"; }
SYNC_PID=$SYNC_PID
exec {TO}>&"${SYNC[1]}" {FROM}<&"${SYNC[0]}"

# send CMD: the driver's answer in $ANS (empty after 30 s)
ANS=
send() {
	ANS=
	echo "$*" >&"$TO" || return 1
	IFS= read -r -t 60 ANS <&"$FROM"
}
# expect DESC REGEX CMD...
expect() {
	local desc=$1 re=$2
	shift 2
	send "$@"
	if grep -Eq -- "$re" <<<"$ANS"; then
		ok "$desc"
	else
		nok "$desc"
		echo "command: $* / expected /$re/, got: ${ANS:-(nothing)}" | diag
	fi
}

IFS= read -r -t 10 ANS <&"$FROM"
[ "$ANS" = started ] || { diag <"$W/synctest.err"; bail "synctest did not start: $ANS"; }

ALICE="uid=alice,ou=people,$SLAPD_BASE"
BOB="uid=bob,ou=people,$SLAPD_BASE"
CAROL="uid=carol,ou=people,$SLAPD_BASE"
DAVE="uid=dave,ou=people,$SLAPD_BASE"
ERIN="uid=erin,ou=people,$SLAPD_BASE"

expect "sync healthy after its refresh" "^healthy=1 cache_healthy=1 " waithealth 1 15000
expect "the sync names its base (common suffix of the rule base and the group)" \
	'"base":"dc=example,dc=org"' stats

# --- a modified entry -----------------------------------------------------------------
send put alice ok "$ALICE"
send put bob ok "$BOB"
send put carol cert_not_in_entry "$CAROL"
expect "alice's decision is cached" "^hit ok $ALICE$" get alice
slapd_modify >"$W/m.log" 2>&1 <<EOF || bail "modify alice: $(cat "$W/m.log")"
dn: $ALICE
changetype: modify
replace: description
description: changed once
EOF
expect "modifying alice's entry drops her decision" "^miss after=" waitget alice miss 10000
expect "bob's decision is untouched" "^hit ok $BOB$" get bob
expect "carol's denial is untouched" "^hit cert_not_in_entry " get carol

# --- DN spellings ---------------------------------------------------------------------------
send put alice2 ok "UID=Alice, OU=People, DC=Example,DC=ORG"
expect "a decision stored under another spelling of alice's DN" "^hit ok " get alice2
slapd_modify >"$W/m.log" 2>&1 <<EOF || bail "modify alice: $(cat "$W/m.log")"
dn: $ALICE
changetype: modify
replace: description
description: changed twice
EOF
expect "is dropped too (case and spaces do not matter)" "^miss after=" waitget alice2 miss 10000

# --- a deleted entry --------------------------------------------------------------------------
send put dave ok "$DAVE"
expect "dave's decision is cached" "^hit ok " get dave
slapd_modify >"$W/m.log" 2>&1 <<EOF || bail "delete dave: $(cat "$W/m.log")"
dn: $DAVE
changetype: delete
EOF
expect "deleting dave's entry drops his decision" "^miss after=" waitget dave miss 10000

# --- a renamed entry ---------------------------------------------------------------------------
send put erin ok "$ERIN"
slapd_modify >"$W/m.log" 2>&1 <<EOF || bail "rename erin: $(cat "$W/m.log")"
dn: $ERIN
changetype: modrdn
newrdn: uid=erin2
deleteoldrdn: 1
EOF
expect "renaming erin's entry drops the decision under the old DN" "^miss after=" waitget erin miss 10000

# --- the group -------------------------------------------------------------------------------
send put alice ok "$ALICE"
expect "alice allowed again" "^hit ok " get alice
expect "bob still allowed" "^hit ok " get bob
slapd_modify >"$W/m.log" 2>&1 <<EOF || bail "group: $(cat "$W/m.log")"
dn: $GROUP
changetype: modify
delete: member
member: $BOB
EOF
expect "a change of the require_group entry drops alice's allowed decision" "^miss after=" \
	waitget alice miss 10000
expect "and bob's" "^miss" get bob
expect "but keeps carol's denial" "^hit cert_not_in_entry " get carol
expect "still healthy" "^healthy=1 error=$" health
expect "one refresh so far: no miss above came from a reconnect" '"refreshes":1[,}]' stats

# --- a silent directory (SIGSTOP: TCP up, no answers) is found by the probe ---------------
slapd_freeze
expect "a frozen slapd makes the sync unhealthy (probe every 5 s, timeout 2 s)" \
	"^healthy=0 cache_healthy=0 " waithealth 0 15000
slapd_thaw
# a bounded wait, generous for a loaded machine: reconnect backoff (<= 5 s) + bind + refresh
expect "thawed: healthy again after a new refresh" "^healthy=1 cache_healthy=1 " waithealth 1 40000
expect "thawed: no error left" "^healthy=1 error=$" health

# --- the directory goes away ---------------------------------------------------------------------
send put alice ok "$ALICE"
send put carol cert_not_in_entry "$CAROL"
expect "alice allowed before the outage" "^hit ok " get alice
slapd_stop
expect "slapd stopped: sync unhealthy" "^healthy=0 cache_healthy=0 " waithealth 0 10000
expect "alice's allowed decision is no longer served fresh" "^miss$" get alice
expect "but is there for on_unavailable = stale" "^stale ok $ALICE$" get alice stale
expect "carol's denial is still served" "^hit cert_not_in_entry " get carol
expect "the error is reported" "^healthy=0 error=.+" health
send put bob ok "$BOB"
expect "a decision stored during the outage is not served fresh either" "^miss$" get bob

# --- and comes back ------------------------------------------------------------------------------
slapd_restart >"$W/restart.log" 2>&1 || { diag <"$W/restart.log"; bail "slapd did not restart"; }
expect "slapd restarted: sync healthy again after its refresh" "^healthy=1 cache_healthy=1 " \
	waithealth 1 20000
expect "the refresh flushed the cache" '"entries":0' stats
expect "carol's denial is gone too" "^miss$" get carol
send put alice ok "$ALICE"
slapd_modify >"$W/m.log" 2>&1 <<EOF || bail "modify alice: $(cat "$W/m.log")"
dn: $ALICE
changetype: modify
replace: description
description: after the restart
EOF
expect "changes are heard on the new connection" "^miss after=" waitget alice miss 10000

# --- stop -------------------------------------------------------------------------------------------
echo quit >&"$TO"
wait "$SYNC_PID"
rc=$?
SYNC_PID=
if [ "$rc" = 0 ]; then ok "synctest exits 0"; else nok "synctest exits 0 (got $rc)"; diag <"$W/synctest.err"; fi
if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:' "$W/synctest.err"; then
	nok "no sanitizer report"
	diag <"$W/synctest.err"
else
	ok "no sanitizer report"
fi
ms=$(sed -n 's/^synctest: stopped in \([0-9]*\) ms$/\1/p' "$W/synctest.err")
if [ -n "$ms" ] && [ "$ms" -lt 3000 ]; then ok "dir_sync_stop returned in $ms ms"; else
	nok "dir_sync_stop returns promptly (${ms:-?} ms)"; diag <"$W/synctest.err"; fi

# --- a dn = rule: the entry could be anywhere, so the namingContexts are synced ---------------
sed -e '/^\[map:people\]/,$d' "$W/sync.ini" >"$W/dn.ini"
printf '%s\n' "[map:by-dn]" "priority = 20" "dn = {subject.dn}" >>"$W/dn.ini"
OUT=$(printf 'waithealth 1 15000\nstats\nquit\n' | "$SYNCTEST" "$W/dn.ini" 2>"$W/dn.err")
if grep -q "^healthy=1 cache_healthy=1 " <<<"$OUT" && grep -q '"healthy":true' <<<"$OUT" &&
	! grep -q '"base":' <<<"$OUT"; then
	ok "with a dn = rule the sync runs over the namingContexts"
else
	nok "with a dn = rule the sync runs over the namingContexts"
	{ echo "$OUT"; cat "$W/dn.err"; } | diag
fi

echo "1..$T"
[ "$FAILED" = 0 ]
