#!/usr/bin/env bash
# relay.t: with `backend =`, an allowed client's bytes are relayed both ways to the backend
# (DESIGN.md §9), preceded with backend_proxy_protocol = v2 by a PROXY v2 header that carries
# the client address, the TLS facts, the certificate (backend_send_cert), the entry DN, the
# certificate's SHA-256 and an HMAC the backend can check. A denied client never reaches
# the backend; a backend that is down costs the client its connection, not certgate.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/fixtures/slapd.sh"

pki=$CG_TMP/pki
cg_pki init "$pki" >/dev/null || bail_out "certgate pki init failed"
cg_issue "$pki" alice --uid alice
cg_issue "$pki" bob --uid bob
cg_slapd_start
cg_store "$pki" alice uid=alice,ou=people,dc=example,dc=org

key=$CG_TMP/proxy.hmac
head -c 32 /dev/urandom | base64 >"$key"
chmod 600 "$key"

# backend NAME [ARGS]: start pp2_backend (its PID goes to the EXIT trap's list); sets BPORT.
# Not to be called in $(...): the PID would be recorded in a subshell and never stopped.
backend() {
	local name=$1; shift
	"$top_builddir/tests/tools/pp2_backend" --port-file "$CG_TMP/$name.port" --log "$CG_TMP/$name.jsonl" "$@" \
		>"$CG_TMP/$name.out" 2>&1 &
	CG_OTHER_PIDS+=("$!")
	for ((i = 0; i < 50; i++)); do [ -s "$CG_TMP/$name.port" ] && break; sleep 0.1; done
	[ -s "$CG_TMP/$name.port" ] || bail_out "pp2_backend $name did not start"
	touch "$CG_TMP/$name.jsonl"
	BPORT=$(cat "$CG_TMP/$name.port")
}

gate_conf() {  # gate_conf NAME BACKEND_PORT [EXTRA_SERVER_LINES]
	local port; port=$(cg_free_port)
	{
		cg_conf_gate "$port" "$pki" "backend = 127.0.0.1:$2
${3:-}"
		cg_conf_directory
	} >"$CG_TMP/$1.conf"
	printf '%s\n' "$port"
}
get() {  # get PORT NAME PATH [CURL ARGS]
	local port=$1 name=$2 path=$3; shift 3
	timeout 60 curl -sS --max-time 50 --cacert "$pki/ca.pem" --cert "$pki/$name.pem" --key "$pki/$name.key" \
		"$@" "https://127.0.0.1:$port$path"
}

# ---- PROXY v2 with the certificate and an HMAC
backend b1 --hmac-key "$key"
b1=$BPORT
p1=$(gate_conf pp "$b1" "backend_proxy_protocol = v2
backend_send_cert = on
backend_hmac_key_file = $key")
cg_start pp "$CG_TMP/pp.conf" || bail_out "certgate (proxy v2) did not start"
cg_mark pp
info=$(get "$p1" alice /info)
ev=$(cg_next_event pp 10)
is "$(jqr "$ev" .outcome)" allowed "alice is allowed"
is "$(jqr "$info" .proxy.version_command)" 33 "the backend got a PROXY v2 header (version 2, PROXY)"
like "$(jqr "$info" .proxy.src)" '^127\.0\.0\.1:[0-9]+$' "the header carries the client address"
is "$(jqr "$info" .proxy.dst)" "127.0.0.1:$p1" "the header carries the listener address"
is "$(jqr "$info" .proxy.ssl.client)" 3 "PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN"
is "$(jqr "$info" .proxy.ssl.verify)" 0 "verify = 0 (certificate verified)"
is "$(jqr "$info" .proxy.ssl.version)" TLSv1.3 "PP2_SUBTYPE_SSL_VERSION"
is "$(jqr "$info" .proxy.ssl.cn)" alice "PP2_SUBTYPE_SSL_CN"
is "$(jqr "$info" .proxy.ssl.cipher)" "$(jqr "$ev" .tls.cipher)" "PP2_SUBTYPE_SSL_CIPHER is the negotiated cipher"
like "$(jqr "$info" .proxy.ssl.sig_alg)" 'ECDSA' "PP2_SUBTYPE_SSL_SIG_ALG"
like "$(jqr "$info" .proxy.ssl.key_alg)" 'ECDSA|EC' "PP2_SUBTYPE_SSL_KEY_ALG"
der_sha=$(openssl x509 -in "$pki/alice.pem" -outform DER | sha256sum | cut -d' ' -f1)
is "$(jqr "$info" .proxy.ssl.cert_sha256)" "$der_sha" "PP2_SUBTYPE_SSL_CLIENT_CERT is alice's DER"
is "$(jqr "$info" .proxy.entry)" "uid=alice,ou=people,dc=example,dc=org" "TLV 0xE0 is the entry DN"
is "$(jqr "$info" .proxy.sha256)" "$der_sha" "TLV 0xE1 is the certificate's SHA-256"
is "$(jqr "$info" .proxy.hmac)" ok "TLV 0xE2: the HMAC checks out with the shared key"

# bulk both ways, through back-pressure
n=3000017
got=$(get "$p1" alice "/bytes/$n" | sha256sum | cut -d' ' -f1)
want=$(yes abcdefghijklmnopqrstuvwxyz | tr -d '\n' | head -c "$n" | sha256sum | cut -d' ' -f1)
is "$got" "$want" "backend → client: $n bytes arrive intact"
head -c 2000003 /dev/urandom >"$CG_TMP/upload.bin"
up=$(get "$p1" alice /sha256 --data-binary @"$CG_TMP/upload.bin" -H 'Content-Type: application/octet-stream')
is "$(jqr "$up" .len)" 2000003 "client → backend: every byte arrives"
is "$(jqr "$up" .sha256)" "$(sha256sum <"$CG_TMP/upload.bin" | cut -d' ' -f1)" "client → backend: intact"

# a denied client never reaches the backend
before=$(wc -l <"$CG_TMP/b1.jsonl")
out=$(get "$p1" bob /info 2>&1)
is "$(cg_body "$out")" "" "bob (not in his entry) gets nothing"
is "$(wc -l <"$CG_TMP/b1.jsonl")" "$before" "bob never reaches the backend"

# ---- a backend holding another key sees a bad HMAC
printf 'another-key-of-32-bytes-length!!' >"$CG_TMP/other.hmac"
backend b2 --hmac-key "$CG_TMP/other.hmac"
b2=$BPORT
p2=$(gate_conf pp2 "$b2" "backend_proxy_protocol = v2
backend_hmac_key_file = $key")
cg_start pp2 "$CG_TMP/pp2.conf" || bail_out "certgate (second key) did not start"
info=$(get "$p2" alice /info)
is "$(jqr "$info" .proxy.hmac)" bad "a backend with another key rejects the header's HMAC"
is "$(jqr "$info" '.proxy.ssl | has("cert_sha256")')" false "without backend_send_cert no certificate TLV"

# ---- plain relay: no header
backend b3
b3=$BPORT
p3=$(gate_conf plain "$b3")
cg_start plain "$CG_TMP/plain.conf" || bail_out "certgate (plain relay) did not start"
info=$(get "$p3" alice /info)
is "$(jqr "$info" .proxy)" null "backend_proxy_protocol = off: the backend sees the client's bytes only"

# ---- the backend is down: the client loses its connection, certgate carries on
dead=$(cg_free_port)
p4=$(gate_conf down "$dead")
cg_start down "$CG_TMP/down.conf" || bail_out "certgate (backend down) did not start"
out=$(get "$p4" alice /info 2>&1)
is "$(cg_body "$out")" "" "backend down: the client gets no answer"
ok "backend down: certgate logs why" grep -q "backend 127.0.0.1:$dead" "$(cg_log down)"
info=$(get "$p3" alice /info)
is "$(jqr "$info" .proxy)" null "the other gateways still relay"

cg_finish
