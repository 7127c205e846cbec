#!/usr/bin/env bash
# api_metrics.t: GET /metrics (DESIGN §8) is Prometheus text format 0.0.4: every sample
# line is NAME{LABELS} VALUE, every comment a HELP or TYPE, each metric name of §8 has
# HELP and TYPE of the right kind, histogram buckets are cumulative with _count equal to
# the +Inf bucket, and the counters agree with what the test caused (no_entry denials,
# allowed handshakes, directory requests) and with /v1/stats.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/fixtures/slapd.sh"

pki=$CG_TMP/pki
cg_pki init "$pki" >/dev/null || bail_out "certgate pki init failed"
for n in alice zed; do
	cg_issue "$pki" "$n" --uid "$n"
done

cg_slapd_start
base=ou=people,dc=example,dc=org
cg_store "$pki" alice "uid=alice,$base"

port=$(cg_free_port)
aport=$(cg_free_port)
{
	cg_conf_gate "$port" "$pki" 'handshake_timeout = 15s'
	cg_conf_directory 'pool_size = 2'
	printf '[admin]\nlisten = 127.0.0.1:%s\n' "$aport"
} >"$CG_TMP/gate.conf"
cg_start gate "$CG_TMP/gate.conf" || bail_out "certgate did not start"
A="http://127.0.0.1:$aport"

scrape() {  # scrape FILE: GET /metrics into FILE (headers into FILE.hdr); prints the status
	timeout 20 curl -sS --max-time 15 -o "$1" -D "$1.hdr" -w '%{http_code}' "$A/metrics" 2>>"$CG_TMP/curl-api.err"
}
# sample FILE 'NAME{LABELS}': the value of that exact series (labels as rendered)
sample() { awk -v k="$2" 'substr($0, 1, 1) != "#" && $1 == k { print $2; f = 1 } END { if (!f) print "absent" }' "$1"; }

st=$(scrape "$CG_TMP/m0")
is "$st" 200 "GET /metrics is 200 (before any connection)"
n0=$(sample "$CG_TMP/m0" 'certgate_handshakes_total{outcome="denied",reason="no_entry"}')

# cause: 3 no_entry denials, 2 allowed, 1 no_client_cert
cause() {  # cause NAME REASON
	cg_mark gate
	cg_curl "$port" "$pki" "$1" >/dev/null 2>&1
	is "$(jqr "$(cg_next_event gate 15)" .reason)" "$2" "$1: decided $2"
}
for i in 1 2 3; do cause zed no_entry; done
for i in 1 2; do cause alice ok; done
cause - no_client_cert

# connections_active settles at 0 once every client is gone (bounded poll)
for ((i = 0; i < 100; i++)); do
	scrape "$CG_TMP/m" >/dev/null
	[ "$(sample "$CG_TMP/m" certgate_connections_active)" = 0 ] && break
	sleep 0.1
done
st=$(scrape "$CG_TMP/m")
is "$st" 200 "GET /metrics is 200"
like "$(tr -d '\r' <"$CG_TMP/m.hdr")" '^Content-Type: text/plain; version=0\.0\.4' "Content-Type is text/plain; version=0.0.4"
m=$CG_TMP/m

# ---------------------------------------------------------------- format

bad=$(grep -vE '^#' "$m" | grep -vE '^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? ([0-9.eE+-]+|[+-]Inf|NaN)$' | head -n 5)
is "$bad" "" "every sample line is NAME{LABELS} VALUE"
bad=$(grep -E '^#' "$m" | grep -vE '^# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* .+|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped))$' | head -n 5)
is "$bad" "" "every comment line is # HELP NAME TEXT or # TYPE NAME KIND"
bad=$(grep -vE '^#' "$m" | grep -E '\{' |
	grep -vE '^[^{]+\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*")(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*")*\} ' | head -n 5)
is "$bad" "" "every label set is name=\"value\" pairs separated by commas"
ok "the body ends with a newline" [ "$(tail -c 1 "$m" | od -An -c | tr -d ' ')" = '\n' ]
ok "no empty lines" [ "$(grep -c '^$' "$m")" = 0 ]
# each sample belongs to a family whose TYPE came before it; no family declared twice
bad=$(awk '
	/^# TYPE / { if ($3 in type) print "TYPE twice: " $3; type[$3] = $4; next }
	/^#/ { next }
	{
		name = $1; sub(/\{.*/, "", name)
		fam = name
		if (!(fam in type)) { sub(/_(bucket|sum|count)$/, "", fam) }
		if (!(fam in type)) { print "no TYPE before " name; next }
		if (type[fam] != "histogram" && fam != name) print "suffix on a " type[fam] ": " name
		if (type[fam] == "histogram" && fam == name) print "bare histogram sample " name
	}' "$m" | head -n 5)
is "$bad" "" "every sample follows the TYPE of its family"
dups=$(grep -vE '^#' "$m" | awk '{print $1}' | sort | uniq -d | head -n 3)
is "$dups" "" "no series appears twice"

# ---------------------------------------------------------------- the names of §8

for spec in certgate_connections_active:gauge certgate_handshakes_total:counter \
	certgate_handshake_duration_seconds:histogram certgate_directory_requests_total:counter \
	certgate_directory_duration_seconds:histogram certgate_cache_lookups_total:counter \
	certgate_events_dropped_total:counter certgate_build_info:gauge; do
	name=${spec%%:*} kind=${spec#*:}
	ok "$name has HELP" grep -qE "^# HELP $name .+" "$m"
	ok "$name has TYPE $kind" grep -qxF "# TYPE $name $kind" "$m"
	ok "$name has samples" grep -qE "^${name}(_bucket|_sum|_count)?(\{| )" "$m"
done
like "$(grep -E '^certgate_handshakes_total\{' "$m" | head -n 1)" '^certgate_handshakes_total\{outcome="(allowed|denied)",reason="[a-z_]+"\} ' \
	"certgate_handshakes_total carries outcome and reason labels"
like "$(grep -E '^certgate_directory_requests_total' "$m" | head -n 1)" 'result="' "certgate_directory_requests_total carries result"
like "$(grep -E '^certgate_cache_lookups_total' "$m" | head -n 1)" 'result="' "certgate_cache_lookups_total carries result"
version=$("$CG_BIN" version 2>/dev/null | grep -oE '[0-9]+\.[0-9]+\.[0-9]+[^ ]*' | head -n 1)
is "$(sample "$m" "certgate_build_info{version=\"$version\"}")" 1 "certgate_build_info{version=\"$version\"} 1"

# ---------------------------------------------------------------- histograms

for h in certgate_handshake_duration_seconds certgate_directory_duration_seconds; do
	res=$(awk -v h="$h" '
		index($0, h "_bucket{") == 1 {
			le = $1; sub(/.*le="/, "", le); sub(/".*/, "", le)
			v = $2 + 0
			if (n > 0 && v < prev) bad = bad " not cumulative at le=" le
			if (n > 0 && le != "+Inf" && le + 0 <= prevle + 0) bad = bad " le not increasing at " le
			prev = v; prevle = le; last = le; inf = v; n++
		}
		$1 == h "_count" { count = $2; hc = 1 }
		$1 == h "_sum" { hs = 1; if ($2 + 0 < 0) bad = bad " negative sum" }
		END {
			if (n == 0) bad = bad " no buckets"
			if (last != "+Inf") bad = bad " last bucket is not +Inf"
			if (!hc || !hs) bad = bad " _count or _sum missing"
			if (hc && count + 0 != inf + 0) bad = bad " _count " count " != +Inf bucket " inf
			print (bad == "" ? "ok" : bad)
		}' "$m")
	is "$res" ok "$h: buckets cumulative, le increasing, ends at +Inf, _count == +Inf bucket"
done
is "$(sample "$m" certgate_handshake_duration_seconds_count)" 6 "handshake duration histogram counts the 6 handshakes"
# every event the cache did not answer went to the directory (no two ran at once here)
lookups=$(cg_events gate | jq -s '[.[] | select(.directory.cache == "miss")] | length')
hits=$(cg_events gate | jq -s '[.[] | select(.directory.cache == "hit")] | length')
ok "the events name their directory lookups ($lookups)" [ "$lookups" -ge 1 ]
is "$(sample "$m" certgate_directory_duration_seconds_count)" "$lookups" "directory duration histogram counts the $lookups directory requests"

# ---------------------------------------------------------------- values

n1=$(sample "$m" 'certgate_handshakes_total{outcome="denied",reason="no_entry"}')
is "$n0" 0 "no_entry counter was 0 before"
is "$n1" 3 "certgate_handshakes_total{outcome=\"denied\",reason=\"no_entry\"} == the 3 no_entry denials"
is "$(sample "$m" 'certgate_handshakes_total{outcome="allowed",reason="ok"}')" 2 "allowed/ok == the 2 allowed handshakes"
is "$(sample "$m" 'certgate_handshakes_total{outcome="denied",reason="no_client_cert"}')" 1 "denied/no_client_cert == 1"
is "$(sample "$m" 'certgate_directory_requests_total{result="ok"}')" "$lookups" "directory_requests_total{result=\"ok\"} == the $lookups lookups"
is "$(sample "$m" 'certgate_cache_lookups_total{result="hit"}')" "$hits" "cache_lookups_total{result=\"hit\"} == the $hits events answered from the cache"
is "$(sample "$m" certgate_connections_active)" 0 "connections_active back to 0"
is "$(sample "$m" certgate_events_dropped_total)" 0 "no event dropped"
total=$(grep -E '^certgate_handshakes_total\{' "$m" | awk '{s += $2} END {print s + 0}')
stats=$(timeout 20 curl -sS --max-time 15 "$A/v1/stats")
is "$total" "$(jqr "$stats" .handshakes.total)" "the sum of certgate_handshakes_total == /v1/stats handshakes.total"
is "$(sample "$m" certgate_handshake_duration_seconds_count)" "$(jqr "$stats" .handshakes.duration.count)" \
	"histogram _count == /v1/stats handshakes.duration.count"
is "$(grep -E '^certgate_handshakes_total\{outcome="allowed"' "$m" | grep -vc 'reason="ok"')" 0 \
	"outcome=allowed only with reason ok"

# a later scrape never goes back
cause zed no_entry
scrape "$CG_TMP/m2" >/dev/null
back=$(awk 'NR == FNR { if ($1 !~ /^#/) v[$1] = $2; next }
	$1 !~ /^#/ && $1 ~ /_total|_count|_bucket/ && ($1 in v) && $2 + 0 < v[$1] + 0 { print $1 }' "$m" "$CG_TMP/m2" | head -n 3)
is "$back" "" "counters never go back between scrapes"
is "$(sample "$CG_TMP/m2" 'certgate_handshakes_total{outcome="denied",reason="no_entry"}')" 4 "one more no_entry: 4"

st=$(timeout 20 curl -sS --max-time 15 -o /dev/null -w '%{http_code}' "$A/metrics?x=1")
is "$st" 400 "GET /metrics?x=1 is 400"
st=$(timeout 20 curl -sS --max-time 15 -o /dev/null -w '%{http_code}' -X POST "$A/metrics")
is "$st" 405 "POST /metrics is 405"

cg_finish
