#!/bin/bash
# tests/bench/run.sh: `make bench`. Full mutual-TLS handshakes per second (TLS 1.3,
# ECDSA P-256 server and client keys, no resumption, one request per connection so that
# every connection gets the server's verdict) measured with cgload at a fixed concurrency
# against certgate, nginx, HAProxy, stunnel and gnutls-serv, one after the other, on this
# machine, with the same certificate, key and CA. Timing, not a test.
#
# Two more certgate rows put the directory in: certgate-dir (a throwaway slapd from
# tests/fixtures/slapd.sh, the bench client's certificate in its entry, the decision cache
# and sync on: the defaults) and certgate-nocache ([cache] ttl = 0s: one LDAP lookup per
# connection through the pool).
#
# Environment: top_srcdir, top_builddir (set by make), BENCH_SECONDS (10), BENCH_WARMUP (2),
# BENCH_CONCURRENCY (8), BENCH_SERVERS ("certgate certgate-dir certgate-nocache nginx haproxy
# stunnel gnutls-serv"),
# BENCH_KEEP=1 keeps the temporary directory. As root it installs haproxy and stunnel4 with
# apt-get when they are missing; otherwise those servers are reported as skipped.
#
# Every server listens on 127.0.0.1 only. gnutls-serv cannot choose its address (it binds
# every interface), so it runs in a private network namespace (unshare --net, root) with
# its client, or is skipped. Every process started here is stopped by PID on every path.
# The table goes to stdout and to $top_builddir/bench-results.txt.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
top_builddir=${top_builddir:-$PWD}
SECS=${BENCH_SECONDS:-10}
WARM=${BENCH_WARMUP:-2}
CONC=${BENCH_CONCURRENCY:-8}
SERVERS=${BENCH_SERVERS:-certgate certgate-dir certgate-nocache nginx haproxy stunnel gnutls-serv}
CERTGATE=$top_builddir/certgate
CGLOAD=$top_builddir/tests/tools/cgload
OUT=$top_builddir/bench-results.txt

die() { echo "bench: $*" >&2; exit 1; }
note() { echo "bench: $*" >&2; }

for v in "$SECS" "$WARM" "$CONC"; do
	[[ $v =~ ^[0-9]+$ ]] || die "BENCH_SECONDS, BENCH_WARMUP and BENCH_CONCURRENCY must be whole numbers"
done
((SECS >= 1 && SECS <= 600)) || die "BENCH_SECONDS must be 1..600"
((CONC >= 1 && CONC <= 1000)) || die "BENCH_CONCURRENCY must be 1..1000"

# ---- processes: every PID we start is listed and stopped on exit -------------------------
PIDS=()
T=

stop_pid() {   # stop_pid PID: TERM, wait up to 5 s, then KILL
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

stop_all() {   # every server (and helper) started so far, newest first
	local i
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		stop_pid "${PIDS[i]}"
	done
	PIDS=()
}

cleanup() {
	stop_all
	declare -F slapd_stop >/dev/null && [[ -n ${SLAPD_PID:-} ]] && slapd_stop >/dev/null 2>&1
	if [[ -n $T && -d $T && ${BENCH_KEEP:-0} != 1 && ${BENCH_INNER:-0} != 1 ]]; then
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free TCP port on 127.0.0.1 (none listening on it now).
free_port() {
	local p i
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + RANDOM % 40000))
		if [[ -z $(ss -Htan "sport = :$p" 2>/dev/null) ]]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# CPU ticks (utime + stime, all threads) of PID and all its descendants.
tree_cpu_ticks() {
	local root=$1
	cat /proc/[0-9]*/stat 2>/dev/null | sed 's/^\([0-9]*\) (.*) /\1 /' | awk -v root="$root" '
		{ ppid[$1] = $3; cpu[$1] = $13 + $14 }
		END {
			in_tree[root] = 1
			for (pass = 0; pass < 8; pass++)
				for (p in ppid)
					if (ppid[p] in in_tree)
						in_tree[p] = 1
			t = 0
			for (p in in_tree)
				t += cpu[p]
			print t
		}'
}

json_num() {   # json_num KEY FILE: a numeric field of cgload's JSON line
	sed -n "s/.*\"$1\":\([-0-9.]*\).*/\1/p" "$2" | head -n1
}

json_str() {   # json_str KEY FILE: a string field (GnuTLS names: no escapes)
	sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" "$2" | head -n1
}

# cgload against 127.0.0.1:PORT with the bench client, extra args appended.
load() {
	local port=$1
	shift
	"$CGLOAD" --host 127.0.0.1 --port "$port" --ca "$T/pki/ca.pem" --cert "$T/pki/bench.pem" \
		--key "$T/pki/bench.key" --tls 1.3 --request "$@"
}

# wait_ready NAME PORT PID: until one allowed verdict arrives (10 s), the server still alive.
wait_ready() {
	local name=$1 port=$2 pid=$3 i
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || { note "$name exited during start-up"; return 1; }
		if load "$port" --connections 1 --timeout 2s --json 2>/dev/null | grep -q '"allowed":1,'; then
			return 0
		fi
		sleep 0.2
	done
	note "$name did not answer an allowed client within 10 s"
	return 1
}

# ---- one server per function: start it, set SRV_PID and SRV_PORT ------------------------
# start_certgate [EXTRA_CONFIG]: certgate with the bench PKI, extra sections appended.
start_certgate() {
	local d=$T/certgate
	mkdir -p "$d"
	local api
	SRV_PORT=$(free_port) && api=$(free_port) || return 1
	[[ $api != "$SRV_PORT" ]] || api=$((SRV_PORT + 1))
	cat >"$d/certgate.conf" <<-EOF
		[server]
		listen = 127.0.0.1:$SRV_PORT
		cert = $T/pki/server.pem
		key = $T/pki/server.key
		workers = 2
		[pki]
		ca = $T/pki/ca.pem
		crl = $T/pki/crl.pem
		[admin]
		listen = 127.0.0.1:$api
	EOF
	printf '%s\n' "${1:-}" >>"$d/certgate.conf"
	"$CERTGATE" serve -c "$d/certgate.conf" --pidfile "$d/certgate.pid" 2>"$d/stderr.log" &
	SRV_PID=$!
	PIDS+=("$SRV_PID")
}

# A throwaway slapd holding the bench client's certificate in uid=bench (started once).
slapd_once() {
	[[ -n ${SLAPD_PID:-} ]] && return 0
	. "$top_srcdir/tests/fixtures/slapd.sh"
	slapd_start "$T/slapd" >"$T/slapd.log" 2>&1 || return 1
	slapd_add >/dev/null <<-EOF || return 1
		dn: uid=bench,ou=people,dc=example,dc=org
		objectClass: inetOrgPerson
		uid: bench
		cn: bench
		sn: bench
	EOF
	"$CERTGATE" pki ldif "$T/pki" bench --dn uid=bench,ou=people,dc=example,dc=org | slapd_modify >/dev/null
}

directory_config() {  # the [directory] and the people rule for slapd_once's directory
	cat <<-EOF
		[directory]
		uri = $SLAPD_URI
		bind_dn = $SLAPD_BIND_DN
		bind_password_file = $SLAPD_BIND_PW_FILE
		[map:people]
		base = ou=people,dc=example,dc=org
		filter = (&(objectClass=inetOrgPerson)(uid={subject.uid}))
	EOF
}

start_certgate_dir() {
	slapd_once || { SKIP="slapd did not start (see $T/slapd.log)"; return 1; }
	start_certgate "$(directory_config)"
}

start_certgate_nocache() {
	slapd_once || { SKIP="slapd did not start (see $T/slapd.log)"; return 1; }
	start_certgate "$(directory_config)
[cache]
ttl = 0s"
}

start_nginx() {
	local d=$T/nginx
	command -v nginx >/dev/null || { SKIP="nginx not installed"; return 1; }
	mkdir -p "$d/logs" "$d/tmp"
	SRV_PORT=$(free_port) || return 1
	cat >"$d/nginx.conf" <<-EOF
		daemon off;
		master_process on;
		worker_processes 2;
		pid $d/nginx.pid;
		error_log $d/logs/error.log warn;
		events { worker_connections 4096; }
		http {
		    access_log off;
		    client_body_temp_path $d/tmp/body;
		    proxy_temp_path $d/tmp/proxy;
		    fastcgi_temp_path $d/tmp/fastcgi;
		    uwsgi_temp_path $d/tmp/uwsgi;
		    scgi_temp_path $d/tmp/scgi;
		    server {
		        listen 127.0.0.1:$SRV_PORT ssl;
		        ssl_certificate $T/pki/server.pem;
		        ssl_certificate_key $T/pki/server.key;
		        ssl_protocols TLSv1.2 TLSv1.3;
		        ssl_client_certificate $T/pki/ca.pem;
		        ssl_verify_client on;
		        ssl_verify_depth 3;
		        location / { default_type text/plain; return 200 "ok\n"; }
		    }
		}
	EOF
	nginx -p "$d/" -e "$d/logs/error.log" -c "$d/nginx.conf" 2>"$d/stderr.log" &
	SRV_PID=$!
	PIDS+=("$SRV_PID")
}

start_haproxy() {
	local d=$T/haproxy
	command -v haproxy >/dev/null || { SKIP="haproxy not installed"; return 1; }
	mkdir -p "$d"
	SRV_PORT=$(free_port) || return 1
	cat "$T/pki/server.pem" "$T/pki/server.key" >"$d/server-and-key.pem"
	cat >"$d/haproxy.cfg" <<-EOF
		global
		    nbthread 2
		    maxconn 4096
		defaults
		    mode http
		    timeout connect 5s
		    timeout client 10s
		    timeout server 10s
		frontend bench
		    bind 127.0.0.1:$SRV_PORT ssl crt $d/server-and-key.pem ca-file $T/pki/ca.pem verify required ssl-min-ver TLSv1.2
		    http-request return status 200 content-type text/plain string "ok"
	EOF
	haproxy -db -f "$d/haproxy.cfg" >"$d/stdout.log" 2>"$d/stderr.log" &
	SRV_PID=$!
	PIDS+=("$SRV_PID")
}

start_stunnel() {
	local d=$T/stunnel bin py backend
	bin=$(command -v stunnel4 || command -v stunnel) || { SKIP="stunnel4 not installed"; return 1; }
	py=$(command -v python3) || { SKIP="python3 (the stunnel backend) not installed"; return 1; }
	mkdir -p "$d"
	SRV_PORT=$(free_port) && backend=$(free_port) || return 1
	[[ $backend != "$SRV_PORT" ]] || backend=$((SRV_PORT + 1))
	"$py" "$here/backend.py" "$backend" 2>"$d/backend.log" &
	PIDS+=("$!")
	cat >"$d/stunnel.conf" <<-EOF
		foreground = yes
		pid =
		output = $d/stunnel.log
		debug = warning
		[bench]
		accept = 127.0.0.1:$SRV_PORT
		connect = 127.0.0.1:$backend
		cert = $T/pki/server.pem
		key = $T/pki/server.key
		CAfile = $T/pki/ca.pem
		verifyChain = yes
		requireCert = yes
		sslVersionMin = TLSv1.2
	EOF
	"$bin" "$d/stunnel.conf" >"$d/stdout.log" 2>&1 &
	SRV_PID=$!
	PIDS+=("$SRV_PID")
}

start_gnutls_serv() {
	local d=$T/gnutls-serv
	mkdir -p "$d"
	SRV_PORT=$(free_port) || return 1
	gnutls-serv --http --require-client-cert --verify-client-cert --x509cafile "$T/pki/ca.pem" \
		--x509certfile "$T/pki/server.pem" --x509keyfile "$T/pki/server.key" \
		--port "$SRV_PORT" >"$d/stdout.log" 2>&1 &
	SRV_PID=$!
	PIDS+=("$SRV_PID")
}

# bench_one NAME: start, check allow and deny, warm up, measure, stop; one result line.
bench_one() {
	local name=$1 res=$T/results/$1 fn=start_${1//-/_} json cpu0 cpu1 ticks allowed denied_ok
	SKIP=
	SRV_PID=
	if ! $fn || [[ -z $SRV_PID ]]; then
		echo "skipped|${SKIP:-could not start}" >"$res"
		[[ -n $SKIP ]] && note "$name skipped: $SKIP"
		return 0
	fi
	if ! wait_ready "$name" "$SRV_PORT" "$SRV_PID"; then
		echo "skipped|did not start (see $T/$name when BENCH_KEEP=1)" >"$res"
		stop_all
		return 0
	fi
	# the same server must refuse a client of another PKI
	if "$CGLOAD" --host 127.0.0.1 --port "$SRV_PORT" --ca "$T/pki/ca.pem" --cert "$T/other/intruder.pem" \
		--key "$T/other/intruder.key" --tls 1.3 --request --connections 3 --json 2>/dev/null |
		grep -q '"allowed":0,"denied":3,'; then
		denied_ok=yes
	else
		denied_ok=NO
	fi
	note "$name: warm-up ${WARM}s, then ${SECS}s at concurrency $CONC"
	((WARM > 0)) && load "$SRV_PORT" --duration "${WARM}s" --concurrency "$CONC" >/dev/null 2>&1
	json=$T/results/$name.json
	cpu0=$(tree_cpu_ticks "$SRV_PID")
	load "$SRV_PORT" --duration "${SECS}s" --concurrency "$CONC" --json >"$json" 2>"$T/results/$name.err"
	cpu1=$(tree_cpu_ticks "$SRV_PID")
	kill -0 "$SRV_PID" 2>/dev/null || denied_ok="$denied_ok (server died)"
	stop_all
	allowed=$(json_num allowed "$json")
	if [[ -z $allowed ]]; then
		echo "skipped|cgload failed: $(head -c 200 "$T/results/$name.err")" >"$res"
		return 0
	fi
	ticks=$((cpu1 - cpu0))
	awk -v a="$allowed" -v t="$ticks" -v hz="$CLK_TCK" -v ccpu="$(json_num client_cpu_s "$json")" \
		-v rate="$(json_num allowed_per_s "$json")" -v p50="$(json_num p50_ms "$json")" \
		-v p99="$(json_num p99_ms "$json")" -v err="$(json_num errors "$json")" \
		-v den="$(json_num denied "$json")" -v ok="$denied_ok" -v grp="$(json_str group "$json")" 'BEGIN {
		scpu = a > 0 ? sprintf("%.3f", t * 1000.0 / hz / a) : "-"
		cc = a > 0 ? sprintf("%.3f", ccpu * 1000.0 / a) : "-"
		printf "ok|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s\n", rate, p50, p99, err, den, a, scpu, cc, ok, grp
	}' >"$res"
}

# ---- the gnutls-serv case runs here, inside its network namespace -----------------------
if [[ ${1:-} == __inner ]]; then
	BENCH_INNER=1
	T=$2
	CLK_TCK=$(getconf CLK_TCK)
	ip link set lo up || exit 1
	bench_one "$3"
	exit 0
fi

# ---- main -------------------------------------------------------------------------------
[[ -x $CERTGATE ]] || die "$CERTGATE not built"
[[ -x $CGLOAD ]] || die "$CGLOAD not built"
CLK_TCK=$(getconf CLK_TCK)
T=$(mktemp -d "${TMPDIR:-/tmp}/cgbench.XXXXXX") || die "mktemp failed"
mkdir -p "$T/results"

# haproxy and stunnel4 are installed for the bench only, and only by root
missing=()
command -v haproxy >/dev/null || missing+=(haproxy)
command -v stunnel4 >/dev/null || command -v stunnel >/dev/null || missing+=(stunnel4)
if ((${#missing[@]} > 0)); then
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
		note "installing ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get install -y -q "${missing[@]}" >"$T/apt.log" 2>&1 ||
			{ apt-get update -q >>"$T/apt.log" 2>&1 && apt-get install -y -q "${missing[@]}" >>"$T/apt.log" 2>&1; } ||
			note "apt-get install ${missing[*]} failed (see $T/apt.log)"
		# the packages' own services must not run: stop them if the install started them
		for svc in haproxy stunnel4; do
			command -v systemctl >/dev/null && systemctl is-active -q "$svc" 2>/dev/null && systemctl stop "$svc"
		done
	else
		note "not root: ${missing[*]} will be skipped"
	fi
fi

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# one PKI for every server: ECDSA P-256 keys (certgate pki's default), checked below
"$CERTGATE" pki init "$T/pki" >/dev/null || die "certgate pki init failed"
"$CERTGATE" pki issue "$T/pki" bench --uid bench >/dev/null || die "certgate pki issue failed"
"$CERTGATE" pki init "$T/other" >/dev/null && "$CERTGATE" pki issue "$T/other" intruder --uid intruder >/dev/null ||
	die "second PKI failed"
for k in server bench; do
	f=$T/pki/$k.pem
	certtool -i --infile "$f" 2>/dev/null | grep -q 'Subject Public Key Algorithm: EC/ECDSA' &&
		certtool -i --infile "$f" 2>/dev/null | grep -Eq 'Curve:[[:space:]]+SECP256R1' ||
		note "warning: $k.pem is not an ECDSA P-256 certificate"
done

for s in $SERVERS; do
	case $s in
	certgate | certgate-dir | certgate-nocache | nginx | haproxy | stunnel) bench_one "$s" ;;
	gnutls-serv)
		if ! command -v gnutls-serv >/dev/null; then
			echo "skipped|gnutls-serv not installed (gnutls-bin)" >"$T/results/$s"
		elif [[ $(id -u) != 0 ]] || ! unshare --net true 2>/dev/null; then
			echo "skipped|gnutls-serv binds every interface; needs root for a private network namespace" \
				>"$T/results/$s"
		else
			unshare --net -- bash "$here/run.sh" __inner "$T" "$s" &
			PIDS+=("$!")
			wait "$!"
			PIDS=("${PIDS[@]:0:${#PIDS[@]}-1}")
		fi
		;;
	*) die "unknown server $s in BENCH_SERVERS" ;;
	esac
done

# ---- the table --------------------------------------------------------------------------
ver() { "$@" 2>&1 | head -n1; }
{
	echo "certgate bench: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "machine: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)), $(uname -sr)"
	echo "load average (1/5/15 min): $LOAD_START at start, $(cut -d' ' -f1-3 /proc/loadavg) at end"
	echo "libraries: GnuTLS $(pkg-config --modversion gnutls 2>/dev/null || echo '?'), $(ver openssl version)"
	echo "servers: certgate $(ver "$CERTGATE" version | sed 's/^certgate //'); $(ver nginx -v | sed 's/^nginx version: //');" \
		"$(command -v haproxy >/dev/null && ver haproxy -v | sed 's/ - .*//' || echo 'haproxy -');" \
		"$(command -v stunnel4 >/dev/null && stunnel4 -version 2>&1 | grep -m1 '^stunnel [0-9]' | sed 's/ on .*//' || echo 'stunnel -');" \
		"gnutls-serv $(ver gnutls-serv --version | awk '{print $2}')"
	echo "run: TLS 1.3, ECDSA P-256 server and client keys, full handshakes (no resumption), one" \
		"GET per connection; cgload concurrency $CONC, ${WARM}s warm-up, ${SECS}s measured per server"
	echo "     certgate: workers = 2, no directory; certgate-dir: + slapd, cache and sync (defaults);" \
		"certgate-nocache: + slapd, [cache] ttl = 0s (an LDAP lookup per connection, pool_size 4);" \
		"nginx: 2 worker processes; haproxy: nbthread 2;" \
		"stunnel: threads, python backend; gnutls-serv: one process"
	if sed -n 's/^CG_CFLAGS = //p' "$top_builddir/Makefile" 2>/dev/null | grep -q -- '-fsanitize'; then
		echo "WARNING: this build uses sanitizers (ASan/UBSan): certgate and cgload are several times slower"
	fi
	echo
	printf '%-16s %13s %8s %8s %7s %7s %9s %11s %11s %8s %-10s\n' server handshakes/s p50_ms p99_ms errors \
		denied allowed srv_cpu_ms cli_cpu_ms deny_ok group
	for s in $SERVERS; do
		f=$T/results/$s
		[[ -f $f ]] || continue
		IFS='|' read -r status a b c d e g h i j k <"$f"
		if [[ $status == ok ]]; then
			printf '%-16s %13s %8s %8s %7s %7s %9s %11s %11s %8s %-10s\n' "$s" "$a" "$b" "$c" "$d" "$e" "$g" \
				"$h" "$i" "$j" "${k:--}"
		else
			printf '%-16s skipped: %s\n' "$s" "$a"
		fi
	done
	echo
	echo "handshakes/s: allowed verdicts (HTTP 200 after a full mutual-TLS handshake) per second;"
	echo "p50/p99: connect to verdict; srv_cpu_ms / cli_cpu_ms: CPU time (user+system) per allowed"
	echo "handshake of the server's process tree (/proc/PID/stat) and of cgload; deny_ok: a client"
	echo "of another CA was refused 3 times out of 3; group: the key exchange group negotiated."
	echo "Client and server share the machine's CPUs."
} | tee "$OUT"
