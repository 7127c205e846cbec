/* pp2_backend: a small HTTP backend for the relay tests. It listens on
 * 127.0.0.1 (a free port, written to --port-file), takes one connection at a
 * time, parses a PROXY protocol v2 header when one comes first (checking the
 * certgate HMAC TLV with --hmac-key), and answers:
 *   GET /info      200 {"proxy": {...what the header said...}}
 *   GET /bytes/N   200 with N bytes (backend → client bulk)
 *   POST /sha256   200 {"len": L, "sha256": "..."} of the Content-Length body (client → backend bulk)
 * Each connection's header summary is also appended as one JSON line to --log.
 * Test tool: bounded (--max connections, 64 KiB headers, 64 MiB bodies). */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <nettle/hmac.h>
#include <nettle/sha2.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/cg_buf.h"

static const uint8_t sig[12] = { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A };

/* Read exactly n bytes (10 s per read at most). */
static bool read_full(int fd, uint8_t *p, size_t n)
{
	while (n > 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, 10000) <= 0)
			return false;
		ssize_t got = read(fd, p, n);
		if (got <= 0)
			return false;
		p += got;
		n -= (size_t)got;
	}
	return true;
}

static bool write_full(int fd, const void *p, size_t n)
{
	const uint8_t *q = p;
	while (n > 0) {
		ssize_t w = write(fd, q, n);
		if (w <= 0)
			return false;
		q += w;
		n -= (size_t)w;
	}
	return true;
}

static json_t *hexstr(const uint8_t *p, size_t n)
{
	char *h = malloc(2 * n + 1);
	json_t *j;
	if (h == NULL)
		return json_null();
	cg_hex_encode(p, n, h);
	j = json_string(h);
	free(h);
	return j;
}

static json_t *text(const uint8_t *p, size_t n)
{
	json_t *j = json_stringn((const char *)p, n);
	return j != NULL ? j : json_string("<not utf-8>");
}

/* Parse the SSL TLV's value into o. */
static void parse_ssl(const uint8_t *v, size_t n, json_t *o)
{
	if (n < 5)
		return;
	json_object_set_new(o, "client", json_integer(v[0]));
	json_object_set_new(o, "verify", json_integer(((uint32_t)v[1] << 24) | (v[2] << 16) | (v[3] << 8) | v[4]));
	for (size_t i = 5; i + 3 <= n;) {
		uint8_t t = v[i];
		size_t l = ((size_t)v[i + 1] << 8) | v[i + 2];
		if (i + 3 + l > n)
			break;
		const uint8_t *val = v + i + 3;
		if (t == 0x21)
			json_object_set_new(o, "version", text(val, l));
		else if (t == 0x22)
			json_object_set_new(o, "cn", text(val, l));
		else if (t == 0x23)
			json_object_set_new(o, "cipher", text(val, l));
		else if (t == 0x24)
			json_object_set_new(o, "sig_alg", text(val, l));
		else if (t == 0x25)
			json_object_set_new(o, "key_alg", text(val, l));
		else if (t == 0x28) {
			uint8_t d[SHA256_DIGEST_SIZE];
			struct sha256_ctx ctx;
			sha256_init(&ctx);
			sha256_update(&ctx, l, val);
			sha256_digest(&ctx, sizeof(d), d);
			json_object_set_new(o, "cert_sha256", hexstr(d, sizeof(d)));
		}
		i += 3 + l;
	}
}

/* Read and describe a PROXY v2 header whose first 16 bytes are in head. */
static json_t *parse_proxy(int fd, const uint8_t head[16], const uint8_t *key, size_t keylen)
{
	size_t len = ((size_t)head[14] << 8) | head[15];
	uint8_t *all = malloc(16 + len);
	json_t *o = json_object();
	if (all == NULL || o == NULL || !read_full(fd, all + 16, len)) {
		free(all);
		json_decref(o);
		return NULL;
	}
	memcpy(all, head, 16);
	const uint8_t *b = all + 16;
	size_t off = 0;
	char a[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	json_object_set_new(o, "version_command", json_integer(head[12]));
	if (head[13] == 0x11 && len >= 12) {
		inet_ntop(AF_INET, b, a, sizeof(a));
		inet_ntop(AF_INET, b + 4, d, sizeof(d));
		json_object_set_new(o, "src", json_sprintf("%s:%u", a, (b[8] << 8) | b[9]));
		json_object_set_new(o, "dst", json_sprintf("%s:%u", d, (b[10] << 8) | b[11]));
		off = 12;
	} else if (head[13] == 0x21 && len >= 36) {
		inet_ntop(AF_INET6, b, a, sizeof(a));
		inet_ntop(AF_INET6, b + 16, d, sizeof(d));
		json_object_set_new(o, "src", json_sprintf("[%s]:%u", a, (b[32] << 8) | b[33]));
		json_object_set_new(o, "dst", json_sprintf("[%s]:%u", d, (b[34] << 8) | b[35]));
		off = 36;
	}
	json_object_set_new(o, "family", json_integer(head[13]));
	const char *hmac = "absent";
	while (off + 3 <= len) {
		uint8_t t = b[off];
		size_t l = ((size_t)b[off + 1] << 8) | b[off + 2];
		if (off + 3 + l > len)
			break;
		uint8_t *val = all + 16 + off + 3;
		if (t == 0x20) {
			json_t *ssl = json_object();
			parse_ssl(val, l, ssl);
			json_object_set_new(o, "ssl", ssl);
		} else if (t == 0xE0) {
			json_object_set_new(o, "entry", text(val, l));
		} else if (t == 0xE1) {
			json_object_set_new(o, "sha256", text(val, l));
		} else if (t == 0xE2) {
			uint8_t got[SHA256_DIGEST_SIZE], want[SHA256_DIGEST_SIZE];
			hmac = "bad";
			if (l == SHA256_DIGEST_SIZE && key != NULL) {
				struct hmac_sha256_ctx ctx;
				memcpy(got, val, l);
				memset(val, 0, l);
				hmac_sha256_set_key(&ctx, keylen, key);
				hmac_sha256_update(&ctx, 16 + len, all);
				hmac_sha256_digest(&ctx, sizeof(want), want);
				memcpy(val, got, l);
				if (memcmp(got, want, sizeof(want)) == 0)
					hmac = "ok";
			} else if (key == NULL) {
				hmac = "unchecked";
			}
		}
		off += 3 + l;
	}
	json_object_set_new(o, "hmac", json_string(hmac));
	free(all);
	return o;
}

static void respond(int fd, const char *status, const char *type, const void *body, size_t len)
{
	char head[256];
	int n = snprintf(head, sizeof(head), "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n", status, type, len);
	if (write_full(fd, head, (size_t)n))
		write_full(fd, body, len);
}

static void respond_json(int fd, json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	if (s != NULL)
		respond(fd, "200 OK", "application/json", s, strlen(s));
	else
		respond(fd, "500 Error", "text/plain", "", 0);
	free(s);
}

static void serve(int fd, FILE *log, const uint8_t *key, size_t keylen)
{
	uint8_t buf[65536];
	size_t have = 0;
	json_t *proxy = json_null();

	if (!read_full(fd, buf, 16))
		return;
	have = 16;
	if (memcmp(buf, sig, sizeof(sig)) == 0) {
		json_decref(proxy);
		proxy = parse_proxy(fd, buf, key, keylen);
		if (proxy == NULL)
			return;
		have = 0;
	}
	char *line = json_dumps(proxy, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	fprintf(log, "%s\n", line != NULL ? line : "null");
	fflush(log);
	free(line);
	/* the HTTP request head */
	char *end = NULL;
	while ((end = memmem(buf, have, "\r\n\r\n", 4)) == NULL && have < sizeof(buf) - 1) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, 10000) <= 0)
			goto out;
		ssize_t got = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (got <= 0)
			goto out;
		have += (size_t)got;
	}
	if (end == NULL)
		goto out;
	buf[have] = '\0';
	size_t head_len = (size_t)(end - (char *)buf) + 4;
	unsigned long n = 0;
	if (strncmp((char *)buf, "GET /info ", 10) == 0) {
		json_t *o = json_pack("{s:O}", "proxy", proxy);
		respond_json(fd, o);
		json_decref(o);
	} else if (sscanf((char *)buf, "GET /bytes/%lu ", &n) == 1 && n <= 64ul << 20) {
		char head[128];
		int hl = snprintf(head, sizeof(head), "HTTP/1.0 200 OK\r\nContent-Length: %lu\r\n\r\n", n);
		if (write_full(fd, head, (size_t)hl)) {
			uint8_t chunk[26 * 157];  /* a whole number of alphabets: the pattern runs on across chunks */
			for (size_t i = 0; i < sizeof(chunk); i++)
				chunk[i] = (uint8_t)('a' + i % 26);
			for (unsigned long sent = 0; sent < n;) {
				size_t k = n - sent < sizeof(chunk) ? n - sent : sizeof(chunk);
				if (!write_full(fd, chunk, k))
					break;
				sent += k;
			}
		}
	} else if (strncmp((char *)buf, "POST /sha256 ", 13) == 0) {
		const char *cl = strcasestr((char *)buf, "\r\nContent-Length:");
		unsigned long want = cl != NULL ? strtoul(cl + 17, NULL, 10) : 0, got = 0;
		struct sha256_ctx ctx;
		uint8_t d[SHA256_DIGEST_SIZE];
		sha256_init(&ctx);
		size_t extra = have - head_len;
		if (extra > want)
			extra = want;
		sha256_update(&ctx, extra, buf + head_len);
		got = extra;
		while (got < want && want <= 64ul << 20) {
			size_t k = want - got < sizeof(buf) ? want - got : sizeof(buf);
			if (!read_full(fd, buf, k))
				break;
			sha256_update(&ctx, k, buf);
			got += k;
		}
		sha256_digest(&ctx, sizeof(d), d);
		json_t *o = json_pack("{s:I s:o}", "len", (json_int_t)got, "sha256", hexstr(d, sizeof(d)));
		respond_json(fd, o);
		json_decref(o);
	} else {
		respond(fd, "404 Not Found", "text/plain", "no\n", 3);
	}
out:
	json_decref(proxy);
}

int main(int argc, char **argv)
{
	const char *port_file = NULL, *log_file = NULL, *key_file = NULL;
	long max = 1000;
	uint8_t key[4096];
	size_t keylen = 0;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--port-file") == 0)
			port_file = argv[i + 1];
		else if (strcmp(argv[i], "--log") == 0)
			log_file = argv[i + 1];
		else if (strcmp(argv[i], "--hmac-key") == 0)
			key_file = argv[i + 1];
		else if (strcmp(argv[i], "--max") == 0)
			max = atol(argv[i + 1]);
	}
	if (port_file == NULL || log_file == NULL) {
		fprintf(stderr, "usage: pp2_backend --port-file F --log F [--hmac-key F] [--max N]\n");
		return 2;
	}
	if (key_file != NULL) {
		FILE *kf = fopen(key_file, "r");
		if (kf == NULL)
			return 2;
		keylen = fread(key, 1, sizeof(key), kf);
		fclose(kf);
		if (keylen > 0 && key[keylen - 1] == '\n')
			keylen--;
	}
	FILE *log = fopen(log_file, "a");
	int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (log == NULL || ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(ls, 64) != 0 ||
	    getsockname(ls, (struct sockaddr *)&sa, &sl) != 0) {
		perror("pp2_backend");
		return 1;
	}
	FILE *pf = fopen(port_file, "w");
	if (pf == NULL)
		return 1;
	fprintf(pf, "%u\n", ntohs(sa.sin_port));
	fclose(pf);
	for (long i = 0; i < max; i++) {
		int fd = accept(ls, NULL, NULL);
		if (fd < 0)
			continue;
		serve(fd, log, key_file != NULL ? key : NULL, keylen);
		shutdown(fd, SHUT_WR);
		char drain[4096];
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		while (poll(&pfd, 1, 1000) > 0 && read(fd, drain, sizeof(drain)) > 0)
			;
		close(fd);
	}
	fclose(log);
	close(ls);
	return 0;
}
