#!/usr/bin/env bash
# nginx_authz.t: GET /v1/authz (DESIGN §8) behind a real nginx. nginx terminates TLS on
# 127.0.0.1 with ssl_verify_client optional_no_ca and asks certgate through
# auth_request, handing it $ssl_client_escaped_cert. alice (certificate in her entry) gets
# 200 "hello" and nginx can pass certgate's X-Certgate-Entry on; bob (revoked: certgate
# pki revoke + the CRL in [pki]), dave (certificate removed from his entry), a client of
# another PKI and a client without a certificate get 403. With certgate stopped nobody
# gets in. nginx runs in the foreground with everything in the test's temp directory and
# is stopped by PID.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/fixtures/slapd.sh"

NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
[ -x "$NGINX" ] || { echo "1..0 # SKIP nginx is not installed"; exit 0; }

pki=$CG_TMP/pki
other=$CG_TMP/other
cg_pki init "$pki" >/dev/null || bail_out "certgate pki init failed"
cg_pki init "$other" >/dev/null || bail_out "certgate pki init (second PKI) failed"
for u in alice bob dave; do
	cg_issue "$pki" "$u" --uid "$u"
done
cg_issue "$other" mallory --uid alice
cg_pki revoke "$pki" bob >/dev/null || bail_out "pki revoke bob failed"

cg_slapd_start
base=ou=people,dc=example,dc=org
for u in alice bob dave; do
	cg_store "$pki" "$u" "uid=$u,$base"
done

port=$(cg_free_port)     # certgate's own TLS listener (unused by the clients here)
aport=$(cg_free_port)    # certgate's admin API, where nginx asks
nport=$(cg_free_port)    # nginx
{
	cg_conf_gate "$port" "$pki"
	cg_conf_directory 'pool_size = 2'
	printf '[admin]\nlisten = 127.0.0.1:%s\n' "$aport"
} >"$CG_TMP/gate.conf"
cg_start gate "$CG_TMP/gate.conf" || bail_out "certgate did not start"

# ---------------------------------------------------------------- nginx

nx=$CG_TMP/nginx
mkdir -p "$nx/logs" "$nx/tmp" "$nx/html" || bail_out "mkdir failed"
printf 'hello\n' >"$nx/html/index.txt"
user_line=""
[ "$(id -u)" = 0 ] && user_line="user root;"   # workers must reach the 0700 temp directory
cat >"$nx/nginx.conf" <<EOF
$user_line
worker_processes 1;
pid $nx/nginx.pid;
error_log $nx/logs/error.log info;
events { worker_connections 64; }
http {
	access_log $nx/logs/access.log;
	client_body_temp_path $nx/tmp/body;
	proxy_temp_path $nx/tmp/proxy;
	fastcgi_temp_path $nx/tmp/fastcgi;
	uwsgi_temp_path $nx/tmp/uwsgi;
	scgi_temp_path $nx/tmp/scgi;
	server {
		listen 127.0.0.1:$nport ssl;
		server_name localhost;
		ssl_certificate $pki/server.pem;
		ssl_certificate_key $pki/server.key;
		ssl_verify_client optional_no_ca;

		location = /_certgate {
			internal;
			proxy_pass http://127.0.0.1:$aport/v1/authz;
			proxy_pass_request_body off;
			proxy_set_header Content-Length "";
			proxy_set_header X-SSL-Client-Cert \$ssl_client_escaped_cert;
		}
		location / {
			auth_request /_certgate;
			auth_request_set \$cg_entry \$upstream_http_x_certgate_entry;
			add_header X-Entry \$cg_entry always;
			# a static file, not "return": that answers in the rewrite phase, before
			# auth_request (access phase) would run
			root $nx/html;
			default_type text/plain;
			try_files /index.txt =404;
		}
	}
}
EOF
"$NGINX" -t -p "$nx" -c "$nx/nginx.conf" -g 'daemon off;' >"$nx/logs/configtest.log" 2>&1 ||
	bail_out "nginx -t failed: $(tail -n 5 "$nx/logs/configtest.log")"
"$NGINX" -p "$nx" -c "$nx/nginx.conf" -g 'daemon off;' >"$CG_TMP/nginx.log" 2>&1 </dev/null &
nginx_pid=$!
stop_nginx() {
	[ -n "${nginx_pid:-}" ] || return 0
	kill -QUIT "$nginx_pid" 2>/dev/null   # graceful; the master takes its worker along
	for ((i = 0; i < 100; i++)); do _cg_proc_gone "$nginx_pid" && break; sleep 0.1; done
	_cg_proc_gone "$nginx_pid" || kill -KILL "$nginx_pid" 2>/dev/null
	wait "$nginx_pid" 2>/dev/null
	nginx_pid=""
}
# stop nginx on every path (SIGQUIT lets the master take its worker along), then the
# lib's cleanup with the exit status the test had
trap '_rc=$?; stop_nginx; (exit $_rc); cg_cleanup' EXIT
for ((i = 0; i < 100; i++)); do
	_cg_listening "$nport" && break
	_cg_proc_gone "$nginx_pid" && break
	sleep 0.1
done
_cg_listening "$nport" || bail_out "nginx did not listen: $(tail -n 5 "$nx/logs/error.log" "$CG_TMP/nginx.log")"

# through NAME: GET https://127.0.0.1:nport/ via nginx as NAME; prints "STATUS BODY",
# headers in $CG_TMP/n.hdr
through() {
	local b cert=()
	b=$(_cg_certbase "$pki" "$1")
	[ "$1" = - ] || cert=(--cert "$b.pem" --key "$b.key")
	: >"$CG_TMP/n.body"
	printf '%s %s' "$(timeout 20 curl -sS --max-time 15 --cacert "$pki/ca.pem" "${cert[@]}" \
		-o "$CG_TMP/n.body" -D "$CG_TMP/n.hdr" -w '%{http_code}' "https://127.0.0.1:$nport/" 2>>"$CG_TMP/curl.err")" \
		"$(tr -d '\n' <"$CG_TMP/n.body")"
}

is "$(through alice)" "200 hello" "alice (certificate in her entry): 200 hello"
like "$(tr -d '\r' <"$CG_TMP/n.hdr")" "^X-Entry: uid=alice,$base" "alice: nginx passes certgate's X-Certgate-Entry on"
like "$(through bob)" '^403 ' "bob (revoked, certificate still in his entry): 403"
like "$(through "$other/mallory")" '^403 ' "mallory (another PKI, alice's uid): 403"
like "$(through -)" '^403 ' "no client certificate: 403"

# dave: allowed, then his certificate leaves his entry → 403 at once
is "$(through dave)" "200 hello" "dave (certificate in his entry): 200 hello"
slapd_modify >/dev/null <<EOF || bail_out "could not remove dave's certificate"
dn: uid=dave,$base
changetype: modify
delete: userCertificate;binary
userCertificate;binary:: $(openssl x509 -in "$pki/dave.pem" -outform DER | base64 -w0)
EOF
like "$(through dave)" '^403 ' "dave, certificate removed from his entry: 403"
is "$(through alice)" "200 hello" "alice still 200 hello"

# certgate asked directly with what nginx would send
authz() {  # authz [CURL_ARGS...]: status of GET /v1/authz
	timeout 20 curl -sS --max-time 15 -o "$CG_TMP/a.body" -D "$CG_TMP/a.hdr" -w '%{http_code}' "$@" \
		"http://127.0.0.1:$aport/v1/authz" 2>>"$CG_TMP/curl.err"
}
esc=$(jq -rn --rawfile p "$pki/alice.pem" '$p | @uri')
is "$(authz -H "X-SSL-Client-Cert: $esc")" 200 "GET /v1/authz with alice's escaped PEM: 200"
like "$(tr -d '\r' <"$CG_TMP/a.hdr")" "X-Certgate-Subject: .*CN=alice" "... with X-Certgate-Subject"
is "$(jq -r .entry "$CG_TMP/a.body")" "uid=alice,$base" "... and the entry in the body"
esc=$(jq -rn --rawfile p "$pki/bob.pem" '$p | @uri')
st=$(authz -H "X-SSL-Client-Cert: $esc")
is "$st/$(jq -r .error.message "$CG_TMP/a.body")" 403/cert_revoked "GET /v1/authz with bob's: 403, message cert_revoked"
is "$(authz)" 403 "GET /v1/authz without the header: 403"
is "$(authz -H 'X-SSL-Client-Cert: %zz')" 403 "GET /v1/authz with a malformed escape: 403"
is "$(authz -H 'X-SSL-Client-Cert: -----BEGIN%20CERTIFICATE-----%0Ajunk%0A')" 403 "GET /v1/authz with junk: 403 (never 5xx)"

# certgate gone: nginx fails closed
cg_stop gate
is "$?" 0 "certgate exits 0 on SIGTERM"
cg_sanitizer_clean gate "certgate: no sanitizer report"
like "$(through alice)" '^(500|502|503|403) ' "with certgate stopped, alice is not let in"
stop_nginx
ok "nginx stopped" [ -z "$nginx_pid" ]

cg_finish
