#!/usr/bin/env bash
# serve_timeouts.t: a silent client is closed at handshake_timeout; an allowed client that
# sends nothing is closed at idle_timeout; beyond max_connections a connection is closed and
# counted as overloaded; SIGTERM stops certgate with status 0.
. "$(dirname "$0")/lib.sh"

pki=$CG_TMP/pki
cg_pki init "$pki" >/dev/null || bail_out "certgate pki init failed"
cg_pki issue "$pki" alice --uid alice >/dev/null || bail_out "pki issue alice failed"

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# write_conf FILE PORT EXTRA_SERVER_LINES
write_conf() {
	cat >"$1" <<EOF
[server]
listen = 127.0.0.1:$2
cert = $pki/server.pem
key = $pki/server.key
workers = 2
$3

[pki]
ca = $pki/ca.pem
crl = $pki/crl.pem
EOF
}

# ---- handshake_timeout = 1s: a client that connects and sends nothing
p1=$(cg_free_port)
write_conf "$CG_TMP/t1.conf" "$p1" $'handshake_timeout = 1s\nidle_timeout = 1s'
cg_start t1 "$CG_TMP/t1.conf" || bail_out "certgate serve did not start"

cg_mark t1
t0=$(now_ms)
if exec {silent}<>"/dev/tcp/127.0.0.1/$p1"; then
	timeout 15 cat <&"$silent" >/dev/null 2>&1
	st=$?
	elapsed=$(($(now_ms) - t0))
	exec {silent}>&-
	if [ "$st" -ne 124 ]; then
		pass "silent client: the server closes the connection (read ends, status $st)"
	else
		fail "silent client: the server closes the connection (still open after 15 s)"
	fi
	if [ "$elapsed" -ge 700 ] && [ "$elapsed" -le 6000 ]; then
		pass "silent client: closed at handshake_timeout = 1s (after ${elapsed} ms)"
	else
		fail "silent client: closed at handshake_timeout = 1s (after ${elapsed} ms, want 0.7-6 s)"
	fi
else
	fail "silent client: connect"
	fail "silent client: closed at handshake_timeout"
fi
ev=$(cg_next_event t1)
is "$(jqr "$ev" '.outcome + "/" + .reason')" denied/handshake_timeout \
	"silent client: event says denied/handshake_timeout"

# ---- idle_timeout = 1s: an allowed client that never sends its request
fifo=$CG_TMP/idle.fifo
mkfifo "$fifo"
cg_mark t1
t0=$(now_ms)
timeout 15 openssl s_client -connect "127.0.0.1:$p1" -CAfile "$pki/ca.pem" \
	-cert "$pki/alice.pem" -key "$pki/alice.key" -ign_eof <"$fifo" >"$CG_TMP/idle.out" 2>&1 &
idle_pid=$!
CG_OTHER_PIDS+=("$idle_pid")
exec {hold}>"$fifo"                 # stdin stays open and silent
wait "$idle_pid"
st=$?
elapsed=$(($(now_ms) - t0))
exec {hold}>&-
# Only a connection whose handshake completed can be idle: check that first.
if like "$(cat "$CG_TMP/idle.out")" 'TLSv1\.3|Protocol *: *TLS' "idle client: its handshake completed" &&
	[ "$st" -ne 124 ] && [ "$elapsed" -ge 700 ] && [ "$elapsed" -le 8000 ]; then
	pass "idle client: closed at idle_timeout = 1s (after ${elapsed} ms)"
else
	fail "idle client: closed at idle_timeout = 1s (status $st after ${elapsed} ms, want 0.7-8 s)"
	diag "$(tail -n 5 "$CG_TMP/idle.out")"
fi

# ---- SIGTERM: exit 0, port closed
cg_stop t1
is "$?" 0 "SIGTERM: certgate exits 0"
if _cg_listening "$p1"; then fail "SIGTERM: the port no longer listens"; else pass "SIGTERM: the port no longer listens"; fi
cg_sanitizer_clean t1 "certgate t1: no sanitizer report"

# ---- max_connections = 2: two silent connections open, a third is turned away
p2=$(cg_free_port)
write_conf "$CG_TMP/t2.conf" "$p2" $'handshake_timeout = 30s\nmax_connections = 2'
cg_start t2 "$CG_TMP/t2.conf" || bail_out "certgate serve (max_connections) did not start"

cg_mark t2
exec {c1}<>"/dev/tcp/127.0.0.1/$p2"
exec {c2}<>"/dev/tcp/127.0.0.1/$p2"
sleep 1                              # let certgate accept both
t0=$(now_ms)
if exec {c3}<>"/dev/tcp/127.0.0.1/$p2"; then
	timeout 10 cat <&"$c3" >/dev/null 2>&1
	st=$?
	elapsed=$(($(now_ms) - t0))
	exec {c3}>&-
	if [ "$st" -ne 124 ] && [ "$elapsed" -le 5000 ]; then
		pass "third connection beyond max_connections = 2 is closed (after ${elapsed} ms)"
	else
		fail "third connection beyond max_connections = 2 is closed (status $st after ${elapsed} ms)"
	fi
else
	pass "third connection beyond max_connections = 2 is refused"
fi
ev=$(cg_wait_event t2 '.reason == "overloaded"' 5)
is "$(jqr "$ev" '.outcome + "/" + .reason')" denied/overloaded "an event says denied/overloaded"

# The two held connections were not touched by the third one.
held_open=yes
for fd in "$c1" "$c2"; do
	timeout 0.5 cat <&"$fd" >/dev/null 2>&1
	[ $? -eq 124 ] || held_open=no          # EOF or reset: closed
done
is "$held_open" yes "the two held connections stay open"
exec {c1}>&- {c2}>&-

# Once they are gone, a good client gets in again.
allowed=no
for ((i = 0; i < 10; i++)); do
	out=$(cg_curl "$p2" "$pki" alice 2>&1)
	if cg_is_identity "$(cg_body "$out")" alice; then allowed=yes; break; fi
	sleep 0.5
done
is "$allowed" yes "after the held connections close, alice is allowed again"

# ---- SIGTERM with a connection open: stop accepting at once, give it shutdown_grace, exit 0
p3=$(cg_free_port)
write_conf "$CG_TMP/t3.conf" "$p3" $'shutdown_grace = 4s\nidle_timeout = 60s'
cg_start t3 "$CG_TMP/t3.conf" || bail_out "certgate serve (grace) did not start"
cg_mark t3
# alice completes her handshake and then sends nothing: the connection stays open
mkfifo "$CG_TMP/held.in"
timeout 40 openssl s_client -connect "127.0.0.1:$p3" -CAfile "$pki/ca.pem" \
	-cert "$pki/alice.pem" -key "$pki/alice.key" -quiet <"$CG_TMP/held.in" >"$CG_TMP/held.out" 2>&1 &
held=$!
exec {held_fd}>"$CG_TMP/held.in"  # its stdin stays open (and silent) while the test runs
CG_OTHER_PIDS+=("$held")
ev=$(cg_wait_event t3 '.reason == "ok"' 10)
is "$(jqr "$ev" .outcome)" allowed "grace: the held client was allowed"
pid3=$(cg_pid t3)
t0=$(now_ms)
kill -TERM "$pid3"
for ((i = 0; i < 30; i++)); do _cg_listening "$p3" || break; sleep 0.1; done
closed_ms=$(($(now_ms) - t0))
if _cg_listening "$p3"; then fail "grace: the port stops listening at SIGTERM"; else pass "grace: the port stops listening at SIGTERM (${closed_ms} ms)"; fi
ok "grace: certgate still runs while the held connection is open" [ -d "/proc/$pid3" ]
cg_stop t3 15
st=$?
elapsed=$(($(now_ms) - t0))
is "$st" 0 "grace: certgate exits 0 once shutdown_grace is over"
ok "grace: it waited for the open connection (${elapsed} ms >= 3000)" [ "$elapsed" -ge 3000 ]
wait "$held" 2>/dev/null

# ---- user = nobody: bound and set up as root, then serving as nobody
if [ "$(id -u)" = 0 ] && getent passwd nobody >/dev/null; then
	p4=$(cg_free_port)
	write_conf "$CG_TMP/t4.conf" "$p4" 'user = nobody'
	cg_start t4 "$CG_TMP/t4.conf" || bail_out "certgate serve (user = nobody) did not start"
	is "$(awk '/^Uid:/ {print $2 "/" $3}' "/proc/$(cg_pid t4)/status")" "$(id -u nobody)/$(id -u nobody)" \
		"user = nobody: certgate runs as nobody (real and effective uid)"
	out=$(cg_curl "$p4" "$pki" alice 2>&1)
	ok "user = nobody: alice is still allowed" cg_is_identity "$(cg_body "$out")" alice
else
	pass "user = nobody: skipped, not root # SKIP"
	pass "user = nobody: skipped, not root # SKIP"
fi

cg_finish
