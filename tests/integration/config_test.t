#!/usr/bin/env bash
# config_test.t: `certgate config-test -c FILE` exits 0 on a good file and 1 with
# `FILE:LINE: message` on stderr for each kind of mistake; relative paths are resolved
# against the configuration file's directory; `serve` refuses a bad file the same way
# before it listens.
. "$(dirname "$0")/lib.sh"

cfg=$CG_TMP/etc
mkdir -p "$cfg"
pki=$cfg/pki
cg_pki init "$pki" >/dev/null || bail_out "certgate pki init failed"
port=$(cg_free_port)

# config_test FILE: runs config-test from an unrelated directory; sets ST and ERR.
config_test() {
	ERR=$(cd / && "$CG_BIN" config-test -c "$1" 2>&1 >/dev/null)
	ST=$?
}

# expect_error DESC FILE LINE_ERE [MESSAGE_ERE]: exit 1 and a FILE:LINE: message.
expect_error() {
	local desc=$1 file=$2 line=$3 msg=${4:-.}
	config_test "$file"
	is "$ST" 1 "$desc: config-test exits 1"
	like "$ERR" "(^|[[:space:]])$(printf '%s' "$file" | sed 's/[.[\*^$/]/\\&/g'):($line): " \
		"$desc: error names $(basename "$file"):$line"
	like "$ERR" "$msg" "$desc: the message says what is wrong"
}

# good_conf: a valid file, one key a line, line numbers as in the comments.
good_conf() {
	cat <<EOF
[server]
listen = 127.0.0.1:$port
cert = $pki/server.pem
key = $pki/server.key
workers = 2
handshake_timeout = 5s
max_connections = 100

[pki]
ca = $pki/ca.pem
crl = $pki/crl.pem
require_eku = clientAuth
max_chain_depth = 5
EOF
}
#   line 1 [server], 2 listen, 3 cert, 4 key, 5 workers, 6 handshake_timeout,
#   7 max_connections, 8 blank, 9 [pki], 10 ca, 11 crl, 12 require_eku, 13 max_chain_depth

f=$cfg/good.conf
good_conf >"$f"
config_test "$f"
is "$ST" 0 "a good file: config-test exits 0" || diag "stderr: $ERR"

# A missing key file: the line of `key =`.
f=$cfg/missing-key.conf
good_conf | sed "4s|.*|key = $cfg/no-such.key|" >"$f"
expect_error "missing key file" "$f" 4 'no-such\.key'

# An unknown section: its header (or its first key) is the line.
f=$cfg/unknown-section.conf
{ good_conf; printf '\n[bogus]\nanswer = 42\n'; } >"$f"
expect_error "unknown section" "$f" '15|16' 'bogus'

# An unknown key.
f=$cfg/unknown-key.conf
good_conf | sed '5a colour = blue' >"$f"
expect_error "unknown key" "$f" 6 'colour'

# A bad duration.
f=$cfg/bad-duration.conf
good_conf | sed '6s|.*|handshake_timeout = 10 parsecs|' >"$f"
expect_error "bad duration" "$f" 6 'handshake_timeout|duration'

# A bad listen address.
f=$cfg/bad-listen.conf
good_conf | sed '2s|.*|listen = 127.0.0.1:99999|' >"$f"
expect_error "bad listen address (port 99999)" "$f" 2 'listen|99999|port'

f=$cfg/bad-listen2.conf
good_conf | sed '2s|.*|listen = 127.0.0.1|' >"$f"
expect_error "bad listen address (no port)" "$f" 2 'listen|port'

# A missing required key: [server] without cert.
f=$cfg/no-cert.conf
good_conf | sed '3d' >"$f"
expect_error "missing [server] cert" "$f" '[0-9]+' 'cert'

# A bad value for an enumerated key.
f=$cfg/bad-eku.conf
good_conf | sed '12s|.*|require_eku = sometimes|' >"$f"
expect_error "bad require_eku" "$f" 12 'require_eku|sometimes'

# A backend HMAC key without the PROXY protocol has nothing to sign.
f=$cfg/hmac-without-v2.conf
good_conf | sed "7a backend = 127.0.0.1:8080\nbackend_hmac_key_file = $pki/server.key" >"$f"
expect_error "backend_hmac_key_file without backend_proxy_protocol = v2" "$f" 9 'backend_hmac_key_file.*v2'

# Relative paths are resolved against the configuration file's directory, not the cwd:
# config-test runs from /, the file names pki/... relative to $cfg.
f=$cfg/relative.conf
good_conf | sed "s|$cfg/||" >"$f"
like "$(sed -n 3p "$f")" '^cert = pki/server\.pem$' "relative.conf uses relative paths"
config_test "$f"
is "$ST" 0 "relative paths resolve against the config file's directory" || diag "stderr: $ERR"

# ... and not against the current directory: the same relative names in a file elsewhere
# fail even when run from $cfg, where pki/ exists.
mkdir -p "$CG_TMP/elsewhere"
good_conf | sed "s|$cfg/||" >"$CG_TMP/elsewhere/relative.conf"
ERR=$(cd "$cfg" && "$CG_BIN" config-test -c "$CG_TMP/elsewhere/relative.conf" 2>&1 >/dev/null)
is "$?" 1 "relative paths are not resolved against the current directory"

# `serve` with a bad file: exit 1 with the same FILE:LINE message, nothing listens.
f=$cfg/missing-key.conf
ERR=$(timeout 10 "$CG_BIN" serve -c "$f" 2>&1 >/dev/null)
is "$?" 1 "serve with a bad file exits 1"
like "$ERR" "missing-key\.conf:4: " "serve with a bad file reports FILE:LINE"
if _cg_listening "$port"; then fail "serve with a bad file: nothing listens"; else pass "serve with a bad file: nothing listens"; fi

# A file that does not exist.
config_test "$cfg/absent.conf"
is "$ST" 1 "a missing configuration file: exit 1"
like "$ERR" 'absent\.conf' "a missing configuration file: the message names it"

done_testing
