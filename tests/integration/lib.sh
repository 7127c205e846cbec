# tests/integration/lib.sh: shared helpers for the TAP integration tests (*.t).
#
# Sourced by every test script (bash). Gives:
#   TAP:      plan N | done_testing, ok DESC CMD..., pass/fail DESC, is GOT WANT DESC,
#             like GOT ERE DESC, unlike GOT ERE DESC, diag MSG..., bail_out MSG
#   files:    CG_TMP (per-test temporary directory, removed at exit), cg_tmpdir
#   network:  cg_free_port (an unused loopback TCP port, no python)
#   certgate: cg_start NAME CONF [PORT], cg_stop NAME [GRACE_S], cg_pid NAME, cg_log NAME,
#             cg_events NAME, cg_mark NAME, cg_next_event NAME [TIMEOUT_S],
#             cg_wait_event NAME JQ_FILTER [TIMEOUT_S], cg_pki ARGS..., cg_finish
#   clients:  cg_curl, cg_s_client, cg_gnutls_cli, cg_body FILE
# Every process a test starts is stopped by PID from the EXIT trap, also when a test fails.
# The environment comes from the automake harness (top_srcdir, top_builddir); when a test
# is run by hand from the source tree, set top_builddir to the build directory.

set -u
set -o pipefail

: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
CG_BIN="$top_builddir/certgate"
# Debian's python3 (where quickstart installs python3-yaml and python3-jsonschema), not
# whatever python3 a PATH puts first
CG_PYTHON=python3
[ -x /usr/bin/python3 ] && CG_PYTHON=/usr/bin/python3
export LC_ALL=C

# ---------------------------------------------------------------- TAP

CG_T_N=0          # assertions so far
CG_T_FAILED=0     # failed assertions
CG_T_PLANNED=""   # set by plan

plan() { CG_T_PLANNED=$1; echo "1..$1"; }
diag() { local l; for l in "$@"; do printf '%s\n' "$l" | sed 's/^/# /'; done; }
pass() { CG_T_N=$((CG_T_N + 1)); echo "ok $CG_T_N - $*"; }
fail() { CG_T_N=$((CG_T_N + 1)); CG_T_FAILED=$((CG_T_FAILED + 1)); echo "not ok $CG_T_N - $*"; }
bail_out() { echo "Bail out! $*"; exit 1; }

# ok DESC CMD...: passes when CMD exits 0.
ok() {
	local desc=$1; shift
	if "$@"; then pass "$desc"; else fail "$desc"; return 1; fi
}

# is GOT WANT DESC
is() {
	if [ "$1" = "$2" ]; then pass "$3"; return 0; fi
	fail "$3"; diag "  got:  '$1'" "  want: '$2'"; return 1
}

# like GOT ERE DESC: GOT matches the extended regular expression ERE.
like() {
	# a here-string, not a pipe: grep -q stops reading at the first match, and with pipefail a
	# writer killed by SIGPIPE would turn a match into a failure
	if grep -Eq -- "$2" <<<"$1"; then pass "$3"; return 0; fi
	fail "$3"; diag "  got:  '$(printf '%s' "$1" | head -c 2000)'" "  want match: /$2/"; return 1
}

# unlike GOT ERE DESC
unlike() {
	if ! grep -Eq -- "$2" <<<"$1"; then pass "$3"; return 0; fi
	fail "$3"; diag "  got:  '$(printf '%s' "$1" | head -c 2000)'" "  must not match: /$2/"; return 1
}

done_testing() {
	[ -n "$CG_T_PLANNED" ] || echo "1..$CG_T_N"
}

# ---------------------------------------------------------------- processes and cleanup

declare -A CG_PIDS=()      # NAME -> PID of a certgate we started
declare -A CG_PORTS=()     # NAME -> its listen port
declare -A CG_MARKS=()     # NAME -> number of event lines seen at the last cg_mark
CG_OTHER_PIDS=()           # other background processes (clients) to stop at exit
CG_USED_PORTS=" "

cg_tmpdir() {
	if [ -z "${CG_TMP:-}" ]; then
		CG_TMP=$(mktemp -d "${TMPDIR:-/tmp}/certgate-test.XXXXXX") || bail_out "mktemp failed"
	fi
	printf '%s\n' "$CG_TMP"
}

# _cg_proc_gone PID: true when PID no longer runs (gone or a zombie waiting to be reaped).
_cg_proc_gone() {
	local st
	[ -r "/proc/$1/status" ] || return 0
	st=$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null) || return 0
	[ -z "$st" ] || [ "$st" = Z ] || [ "$st" = X ]
}

# _cg_kill_wait PID GRACE_S: SIGTERM, wait up to GRACE_S, then SIGKILL; prints nothing,
# returns the exit status (128+signal when killed).
_cg_kill_wait() {
	local pid=$1 grace=${2:-10} i rc
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < grace * 10; i++)); do
		_cg_proc_gone "$pid" && break
		sleep 0.1
	done
	if ! _cg_proc_gone "$pid"; then
		diag "process $pid did not stop within ${grace}s of SIGTERM: SIGKILL"
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	rc=$?
	return $rc
}

cg_cleanup() {
	local rc=$? name pid
	trap - EXIT
	for name in "${!CG_PIDS[@]}"; do
		pid=${CG_PIDS[$name]}
		_cg_kill_wait "$pid" 5
	done
	for pid in "${CG_OTHER_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	if declare -F slapd_stop >/dev/null && [ -n "${SLAPD_PID:-}" ]; then
		slapd_stop >/dev/null 2>&1
	fi
	if [ -n "${CG_TMP:-}" ] && [ -d "$CG_TMP" ]; then
		if [ "$CG_T_FAILED" -gt 0 ] || [ "$rc" -ne 0 ]; then
			local f
			for f in "$CG_TMP"/*.log; do
				[ -f "$f" ] || continue
				diag "---- last lines of $(basename "$f") ----"
				diag "$(tail -n 40 "$f")"
			done
		fi
		if [ -n "${CG_KEEP_TMP:-}" ]; then
			diag "kept $CG_TMP"
		else
			rm -rf "$CG_TMP"
		fi
	fi
	if [ "$rc" -eq 0 ] && [ "$CG_T_FAILED" -gt 0 ]; then rc=1; fi
	exit "$rc"
}
trap cg_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cg_tmpdir >/dev/null

# ---------------------------------------------------------------- ports

# cg_free_port: prints a loopback TCP port nobody listens on (and that this test has not
# handed out yet). Starts at a random port in 20000-45000 and walks up.
cg_free_port() {
	local start=$((20000 + RANDOM % 25000)) i p
	for ((i = 0; i < 2000; i++)); do
		p=$((20000 + (start - 20000 + i) % 25000))
		case "$CG_USED_PORTS" in *" $p "*) continue ;; esac
		if [ -z "$(ss -Htan "( sport = :$p or dport = :$p )" 2>/dev/null)" ]; then
			CG_USED_PORTS="$CG_USED_PORTS$p "
			printf '%s\n' "$p"
			return 0
		fi
	done
	bail_out "no free TCP port found"
}

# _cg_listening PORT: true when something listens on TCP PORT.
_cg_listening() {
	[ -n "$(ss -Htln "sport = :$1" 2>/dev/null)" ]
}

# ---------------------------------------------------------------- certgate

cg_pki() { "$CG_BIN" pki "$@"; }

# _cg_conf_port CONF: the port of the first `listen` of [server].
_cg_conf_port() {
	awk -F= '
		/^[ \t]*\[/ { sec = $0; gsub(/[ \t\[\]]/, "", sec); next }
		sec == "server" && $1 ~ /^[ \t]*listen[ \t]*$/ {
			v = $2; sub(/[ \t]*;.*/, "", v); gsub(/[ \t]/, "", v)
			n = split(v, a, ":"); print a[n]; exit
		}' "$1"
}

# cg_start NAME CONF [PORT]: runs `certgate serve -c CONF --pidfile CG_TMP/NAME.pid` in the
# background with stderr to CG_TMP/NAME.log; waits (at most 10 s) for the pidfile and for
# PORT (default: the first [server] listen) to listen. Returns 1 (with diagnostics) when
# certgate exits or does not come up.
cg_start() {
	local name=$1 conf=$2 port=${3:-} pid i
	[ -n "$port" ] || port=$(_cg_conf_port "$conf")
	if [ ! -x "$CG_BIN" ]; then
		diag "no certgate binary at $CG_BIN"
		return 1
	fi
	rm -f "$CG_TMP/$name.pid"
	"$CG_BIN" serve -c "$conf" --pidfile "$CG_TMP/$name.pid" \
		>"$CG_TMP/$name.out" 2>"$CG_TMP/$name.log" </dev/null &
	pid=$!
	CG_PIDS[$name]=$pid
	CG_PORTS[$name]=$port
	CG_MARKS[$name]=0
	for ((i = 0; i < 100; i++)); do
		if _cg_proc_gone "$pid"; then
			wait "$pid" 2>/dev/null
			diag "certgate '$name' exited with status $? before listening:" \
				"$(tail -n 20 "$CG_TMP/$name.log")"
			unset "CG_PIDS[$name]"
			return 1
		fi
		if [ -s "$CG_TMP/$name.pid" ] && _cg_listening "$port"; then
			local filepid
			filepid=$(tr -d ' \n' <"$CG_TMP/$name.pid")
			if [ "$filepid" != "$pid" ]; then
				diag "pidfile says '$filepid', started PID is $pid"
			fi
			return 0
		fi
		sleep 0.1
	done
	diag "certgate '$name' (PID $pid) did not listen on port $port within 10 s" \
		"pidfile: $( [ -s "$CG_TMP/$name.pid" ] && echo present || echo missing )" \
		"$(tail -n 20 "$CG_TMP/$name.log")"
	return 1
}

cg_pid() { printf '%s\n' "${CG_PIDS[$1]:-}"; }
cg_log() { printf '%s\n' "$CG_TMP/$1.log"; }

# cg_stop NAME [GRACE_S]: SIGTERM by PID, SIGKILL after GRACE_S (default 10); returns the
# exit status of certgate.
cg_stop() {
	local name=$1 grace=${2:-10} pid rc
	pid=${CG_PIDS[$name]:-}
	[ -n "$pid" ] || return 255
	_cg_kill_wait "$pid" "$grace"
	rc=$?
	unset "CG_PIDS[$name]"
	return $rc
}

# cg_events NAME: the event lines (compact JSON, one a line, starting with '{') of NAME's log.
cg_events() { grep -a '^{' "$CG_TMP/$1.log" 2>/dev/null || true; }

# cg_mark NAME: later cg_next_event / cg_wait_event only look at events logged after now.
cg_mark() { CG_MARKS[$1]=$(cg_events "$1" | wc -l); }

_cg_new_events() { cg_events "$1" | tail -n +"$((${CG_MARKS[$1]:-0} + 1))"; }

# cg_next_event NAME [TIMEOUT_S]: waits (default 10 s) for the first event after the mark,
# prints it and moves the mark past it (only when not run in a subshell: in `ev=$(...)` the
# move is lost, so call cg_mark before each client). Returns 1 when none comes.
cg_next_event() {
	local name=$1 limit=${2:-10} i ev
	for ((i = 0; i < limit * 10; i++)); do
		ev=$(_cg_new_events "$name" | head -n 1)
		if [ -n "$ev" ]; then
			CG_MARKS[$name]=$((${CG_MARKS[$name]:-0} + 1))
			printf '%s\n' "$ev"
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# cg_wait_event NAME JQ_FILTER [TIMEOUT_S]: waits (default 10 s) for an event after the
# mark for which JQ_FILTER is true (e.g. '.reason=="cert_expired"'); prints the first one.
cg_wait_event() {
	local name=$1 filter=$2 limit=${3:-10} i ev
	for ((i = 0; i < limit * 10; i++)); do
		ev=$(_cg_new_events "$name" | jq -cR "fromjson? | select($filter)" 2>/dev/null | head -n 1)
		if [ -n "$ev" ]; then printf '%s\n' "$ev"; return 0; fi
		sleep 0.1
	done
	return 1
}

# jqr JSON FILTER: jq -r on a string; empty output on bad JSON.
jqr() { printf '%s' "$1" | jq -r "$2" 2>/dev/null; }

# cg_sanitizer_clean NAME DESC: an assertion that NAME's log holds no sanitizer report.
cg_sanitizer_clean() {
	local hits
	hits=$(grep -aE 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:' \
		"$CG_TMP/$1.log" 2>/dev/null | head -n 5)
	if [ -z "$hits" ]; then pass "$2"; else fail "$2"; diag "$hits"; fi
}

# cg_finish: stops every certgate still running; asserts it exits 0 on SIGTERM with a clean
# sanitizer report; then prints the plan when none was given.
cg_finish() {
	local name rc
	for name in "${!CG_PIDS[@]}"; do
		cg_stop "$name"
		rc=$?
		is "$rc" 0 "certgate '$name' exits 0 on SIGTERM"
		cg_sanitizer_clean "$name" "certgate '$name': no sanitizer report"
	done
	done_testing
}

# ---------------------------------------------------------------- test PKI, directory, configuration

# cg_issue PKIDIR NAME [ARGS...]: certgate pki issue, or bail out.
cg_issue() { "$CG_BIN" pki issue "$@" >/dev/null || bail_out "certgate pki issue $* failed"; }

# cg_slapd_start: the throwaway slapd of tests/fixtures/slapd.sh (source it first) in
# CG_TMP/slapd, or bail out; the EXIT trap stops it.
cg_slapd_start() {
	slapd_start "$CG_TMP/slapd" >"$CG_TMP/slapd-start.log" 2>&1 ||
		bail_out "slapd did not start: $(tail -n 5 "$CG_TMP/slapd-start.log")"
}

# cg_store PKIDIR NAME DN: add NAME's certificate to the entry DN (certgate pki ldif), or bail out.
cg_store() {
	"$CG_BIN" pki ldif "$1" "$2" --dn "$3" | slapd_modify >/dev/null ||
		bail_out "could not add $2's certificate to $3"
}

# cg_add_twins BASE: two entries under BASE with the same uid=twin (cn=Twin One, cn=Twin Two),
# the directory a certificate with uid=twin maps ambiguously into; or bail out.
cg_add_twins() {
	slapd_add >/dev/null <<EOF || bail_out "could not add the twin entries"
dn: cn=Twin One,$1
objectClass: inetOrgPerson
cn: Twin One
sn: One
uid: twin

dn: cn=Twin Two,$1
objectClass: inetOrgPerson
cn: Twin Two
sn: Two
uid: twin
EOF
}

# cg_conf_gate PORT PKIDIR [SERVER_LINES]: [server] and [pki] of a test gateway on
# 127.0.0.1:PORT with PKIDIR's server credentials, trust anchors and CRL.
cg_conf_gate() {
	cat <<EOF
[server]
listen = 127.0.0.1:$1
cert = $2/server.pem
key = $2/server.key
workers = 2
${3:-}

[pki]
ca = $2/ca.pem
crl = $2/crl.pem

EOF
}

# cg_conf_directory [DIRECTORY_LINES]: [directory] for the fixture's slapd and the rule
# people (uid={subject.uid} under ou=people,dc=example,dc=org).
cg_conf_directory() {
	cat <<EOF
[directory]
uri = $SLAPD_URI
bind_dn = $SLAPD_BIND_DN
bind_password_file = $SLAPD_BIND_PW_FILE
timeout = 2s
${1:-}

[map:people]
base = ou=people,dc=example,dc=org
filter = (&(objectClass=inetOrgPerson)(uid={subject.uid}))

EOF
}

# ---------------------------------------------------------------- clients
# Every client runs under `timeout` and is always read to the server's answer (response,
# alert or EOF): in TLS 1.3 a finished client handshake says nothing about the verdict.

# In the client helpers, PKIDIR/ca.pem verifies the server; NAME is the client credential:
# PKIDIR/NAME.pem + .key, or, when NAME holds a '/', NAME.pem + NAME.key (another PKI);
# "-" sends no certificate.
_cg_certbase() { case "$2" in */*) printf '%s' "$2" ;; *) printf '%s/%s' "$1" "$2" ;; esac; }

# cg_curl PORT PKIDIR NAME [CURL_ARGS...]: GET https://127.0.0.1:PORT/ as NAME; body on
# stdout, curl's errors on stderr; curl's status.
cg_curl() {
	local port=$1 pki=$2 name=$3; shift 3
	local cert=()
	local b; b=$(_cg_certbase "$pki" "$name")
	[ "$name" = - ] || cert=(--cert "$b.pem" --key "$b.key")
	timeout 20 curl -sS --max-time 15 --cacert "$pki/ca.pem" "${cert[@]}" "$@" \
		"https://127.0.0.1:$port/"
}

# cg_s_client PORT PKIDIR NAME [S_CLIENT_ARGS...]: sends "GET / HTTP/1.0" with
# openssl s_client -quiet (which implies -ign_eof: it reads until the server closes) and
# prints what it received, then its messages (stderr kept apart: s_client's session dumps
# would otherwise land in the middle of the response).
cg_s_client() {
	local port=$1 pki=$2 name=$3; shift 3
	local cert=() rc err
	local b; b=$(_cg_certbase "$pki" "$name")
	[ "$name" = - ] || cert=(-cert "$b.pem" -key "$b.key")
	err=$(mktemp "$CG_TMP/s_client.XXXXXX")
	printf 'GET / HTTP/1.0\r\nHost: localhost\r\n\r\n' |
		timeout 20 openssl s_client -connect "127.0.0.1:$port" -CAfile "$pki/ca.pem" \
			-verify_return_error -quiet -ign_eof "${cert[@]}" "$@" 2>"$err"
	rc=$?
	cat "$err"
	rm -f "$err"
	return $rc
}

# cg_gnutls_cli PORT PKIDIR NAME [GNUTLS_CLI_ARGS...]: sends "GET / HTTP/1.0" with
# gnutls-cli, keeping its stdin open (a fifo) until it exits: the server closes after the
# response (or the alert). Prints what gnutls-cli received and its messages; its status.
cg_gnutls_cli() {
	local port=$1 pki=$2 name=$3; shift 3
	local cert=() fifo pid rc
	local b; b=$(_cg_certbase "$pki" "$name")
	[ "$name" = - ] || cert=(--x509certfile "$b.pem" --x509keyfile "$b.key")
	fifo=$(mktemp -u "$CG_TMP/gnutls-cli.XXXXXX")
	mkfifo "$fifo" || return 99
	timeout 20 gnutls-cli -p "$port" --x509cafile "$pki/ca.pem" "${cert[@]}" "$@" \
		127.0.0.1 <"$fifo" >"$fifo.out" 2>&1 &
	pid=$!
	CG_OTHER_PIDS+=("$pid")
	exec {CG_FIFO_FD}>"$fifo"
	# in a subshell: should gnutls-cli be gone already, SIGPIPE ends the subshell, not the test
	(printf 'GET / HTTP/1.0\r\nHost: localhost\r\n\r\n' >&"$CG_FIFO_FD") 2>/dev/null
	wait "$pid"
	rc=$?
	exec {CG_FIFO_FD}>&-
	cat "$fifo.out"
	rm -f "$fifo" "$fifo.out"
	return $rc
}

# cg_body TEXT: the JSON body of the (last) HTTP response in TEXT, compact, or nothing when
# TEXT holds no HTTP response with a JSON body. Plain JSON (curl's output) passes through.
cg_body() {
	local text=$1 body
	body=$(printf '%s\n' "$text" | tr -d '\r' | awk '
		/^HTTP\/1\.[01] [0-9][0-9][0-9]/ { inhdr = 1; body = ""; next }
		inhdr && /^$/ { inhdr = 0; inbody = 1; next }
		inbody { body = body $0 "\n" }
		END { printf "%s", body }')
	[ -n "$body" ] || body=$text
	printf '%s' "$body" | jq -c 'select(type == "object")' 2>/dev/null | tail -n 1
}

# cg_is_identity BODY NAME: BODY is the identity JSON of an allowed client with CN=NAME.
cg_is_identity() {
	[ -n "$1" ] &&
	[ "$(jqr "$1" '.outcome')" = allowed ] &&
	jqr "$1" '.subject' | grep -q "CN=$2\(,\|$\)"
}

# cg_steps_ordered EVENT: the transcript starts at client_hello, its offsets never go back,
# and client_hello < server_hello < client_certificate < chain_verified.
cg_steps_ordered() {
	printf '%s' "$1" | jq -e '
		.steps as $s | ($s | length) > 0
		and $s[0].step == "client_hello"
		and ([$s[].t_us] == ([$s[].t_us] | sort))
		and ([$s[].step] as $n
			| ($n | index("client_hello")) as $a
			| ($n | index("server_hello")) as $b
			| ($n | index("client_certificate")) as $c
			| ($n | index("chain_verified")) as $d
			| $a != null and $b != null and $c != null and $d != null
			  and $a < $b and $b < $c and $c < $d)' >/dev/null 2>&1
}
