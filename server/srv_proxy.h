/* The PROXY protocol v2 header certgate sends a backend before the relayed
 * bytes (HAProxy's proxy-protocol.txt §2.2, DESIGN.md §9): the client and
 * listener addresses, PP2_TYPE_SSL with the TLS facts, and certgate's own
 * TLVs — 0xE0 the entry DN, 0xE1 the certificate's SHA-256 (hex) and, with a
 * key, 0xE2 an HMAC-SHA256 over the whole header so a backend can trust it. */
#ifndef SRV_PROXY_H
#define SRV_PROXY_H

#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "common/cg_buf.h"
#include "common/cg_err.h"

#define SRV_PP2_TYPE_SSL            0x20
#define SRV_PP2_SUBTYPE_SSL_VERSION 0x21
#define SRV_PP2_SUBTYPE_SSL_CN      0x22
#define SRV_PP2_SUBTYPE_SSL_CIPHER  0x23
#define SRV_PP2_SUBTYPE_SSL_SIG_ALG 0x24
#define SRV_PP2_SUBTYPE_SSL_KEY_ALG 0x25
#define SRV_PP2_SUBTYPE_SSL_CLIENT_CERT 0x28
#define SRV_PP2_TYPE_CERTGATE_ENTRY  0xE0
#define SRV_PP2_TYPE_CERTGATE_SHA256 0xE1
#define SRV_PP2_TYPE_CERTGATE_HMAC   0xE2
#define SRV_PP2_CLIENT_SSL       0x01
#define SRV_PP2_CLIENT_CERT_CONN 0x02
#define SRV_PP2_CLIENT_CERT_SESS 0x04
#define SRV_PP2_MAX_HEADER (16 + 65535)

struct srv_proxy_info {
	const struct sockaddr *src;      /* the client */
	const struct sockaddr *dst;      /* the listener address it connected to (same family) */
	bool resumed;                    /* the certificate came with a resumed session */
	const char *tls_version;         /* "TLSv1.3"; NULL = absent (likewise below) */
	const char *cn;
	const char *cipher;
	const char *sig_alg;
	const char *key_alg;
	const gnutls_datum_t *cert_der;  /* only with backend_send_cert */
	const char *entry;               /* the entry DN */
	const char *sha256_hex;
	const uint8_t *hmac_key;         /* NULL: no 0xE2 TLV */
	size_t hmac_key_len;
};

/* Append the header to out. CG_ERR_RANGE when it would not fit the 16-bit
 * length (a huge certificate): the caller fails closed. CG_ERR_ARG for an
 * address family other than IPv4/IPv6 or mixed families. */
CG_MUST_CHECK enum cg_err srv_proxy_v2_build(const struct srv_proxy_info *in, struct cg_buf *out);

#endif
