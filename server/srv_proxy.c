/* PROXY protocol v2 header with TLS and identity TLVs. */
#include "server/srv_proxy.h"

#include <netinet/in.h>
#include <nettle/hmac.h>
#include <string.h>

static const uint8_t pp2_signature[12] = { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A };

static enum cg_err put_u8(struct cg_buf *b, uint8_t v)
{
	return cg_buf_append(b, &v, 1);
}

static enum cg_err put_u16(struct cg_buf *b, size_t v)
{
	uint8_t be[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	CG_ENSURE(v <= 0xFFFF, CG_ERR_RANGE);
	return cg_buf_append(b, be, 2);
}

/* One TLV; absent (NULL) values are skipped. */
static enum cg_err put_tlv(struct cg_buf *b, uint8_t type, const void *val, size_t len)
{
	if (val == NULL)
		return CG_OK;
	CG_ENSURE(len <= 0xFFFF, CG_ERR_RANGE);
	CG_GUARD(put_u8(b, type));
	CG_GUARD(put_u16(b, len));
	return cg_buf_append(b, val, len);
}

static enum cg_err put_str_tlv(struct cg_buf *b, uint8_t type, const char *s)
{
	return put_tlv(b, type, s, s != NULL ? strlen(s) : 0);
}

/* The PP2_TYPE_SSL value: client flags, verify result, sub-TLVs. */
static enum cg_err ssl_value(const struct srv_proxy_info *in, struct cg_buf *v)
{
	uint8_t client = SRV_PP2_CLIENT_SSL | (in->resumed ? SRV_PP2_CLIENT_CERT_SESS : SRV_PP2_CLIENT_CERT_CONN);
	static const uint8_t verified[4] = { 0, 0, 0, 0 };  /* 0: the certificate was verified */
	CG_GUARD(put_u8(v, client));
	CG_GUARD(cg_buf_append(v, verified, sizeof(verified)));
	CG_GUARD(put_str_tlv(v, SRV_PP2_SUBTYPE_SSL_VERSION, in->tls_version));
	CG_GUARD(put_str_tlv(v, SRV_PP2_SUBTYPE_SSL_CN, in->cn));
	CG_GUARD(put_str_tlv(v, SRV_PP2_SUBTYPE_SSL_CIPHER, in->cipher));
	CG_GUARD(put_str_tlv(v, SRV_PP2_SUBTYPE_SSL_SIG_ALG, in->sig_alg));
	CG_GUARD(put_str_tlv(v, SRV_PP2_SUBTYPE_SSL_KEY_ALG, in->key_alg));
	if (in->cert_der != NULL)
		CG_GUARD(put_tlv(v, SRV_PP2_SUBTYPE_SSL_CLIENT_CERT, in->cert_der->data, in->cert_der->size));
	return CG_OK;
}

static enum cg_err addresses(const struct srv_proxy_info *in, struct cg_buf *b, uint8_t *fam)
{
	if (in->src->sa_family == AF_INET && in->dst->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)in->src, *d = (const void *)in->dst;
		*fam = 0x11;  /* TCP over IPv4 */
		CG_GUARD(cg_buf_append(b, &s->sin_addr, 4));
		CG_GUARD(cg_buf_append(b, &d->sin_addr, 4));
		CG_GUARD(cg_buf_append(b, &s->sin_port, 2));  /* already network order */
		return cg_buf_append(b, &d->sin_port, 2);
	}
	if (in->src->sa_family == AF_INET6 && in->dst->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)in->src, *d = (const void *)in->dst;
		*fam = 0x21;  /* TCP over IPv6 */
		CG_GUARD(cg_buf_append(b, &s->sin6_addr, 16));
		CG_GUARD(cg_buf_append(b, &d->sin6_addr, 16));
		CG_GUARD(cg_buf_append(b, &s->sin6_port, 2));
		return cg_buf_append(b, &d->sin6_port, 2);
	}
	return CG_ERR_ARG;
}

enum cg_err srv_proxy_v2_build(const struct srv_proxy_info *in, struct cg_buf *out)
{
	struct cg_buf body, ssl;
	enum cg_err r;
	uint8_t fam = 0;
	size_t start = out->len;

	cg_buf_init(&body, SRV_PP2_MAX_HEADER);
	cg_buf_init(&ssl, SRV_PP2_MAX_HEADER);
	if ((r = addresses(in, &body, &fam)) != CG_OK || (r = ssl_value(in, &ssl)) != CG_OK ||
	    (r = put_tlv(&body, SRV_PP2_TYPE_SSL, ssl.data, ssl.len)) != CG_OK ||
	    (r = put_str_tlv(&body, SRV_PP2_TYPE_CERTGATE_ENTRY, in->entry)) != CG_OK ||
	    (r = put_str_tlv(&body, SRV_PP2_TYPE_CERTGATE_SHA256, in->sha256_hex)) != CG_OK)
		goto out;
	if (in->hmac_key != NULL) {
		static const uint8_t zero[SHA256_DIGEST_SIZE];  /* the MAC is computed with its own value zeroed */
		if ((r = put_tlv(&body, SRV_PP2_TYPE_CERTGATE_HMAC, zero, sizeof(zero))) != CG_OK)
			goto out;
	}
	r = CG_ERR_RANGE;
	if (body.len > 0xFFFF)
		goto out;
	if ((r = cg_buf_append(out, pp2_signature, sizeof(pp2_signature))) != CG_OK ||
	    (r = put_u8(out, 0x21)) != CG_OK ||  /* version 2, command PROXY */
	    (r = put_u8(out, fam)) != CG_OK || (r = put_u16(out, body.len)) != CG_OK ||
	    (r = cg_buf_append(out, body.data, body.len)) != CG_OK)
		goto out;
	if (in->hmac_key != NULL) {
		struct hmac_sha256_ctx ctx;
		uint8_t *mac = (uint8_t *)out->data + out->len - SHA256_DIGEST_SIZE;
		hmac_sha256_set_key(&ctx, in->hmac_key_len, in->hmac_key);
		hmac_sha256_update(&ctx, out->len - start, (const uint8_t *)out->data + start);
		hmac_sha256_digest(&ctx, SHA256_DIGEST_SIZE, mac);
		memset(&ctx, 0, sizeof(ctx));
	}
out:
	if (r != CG_OK && out->len > start) {
		out->len = start;  /* nothing half-written */
		out->data[start] = '\0';
	}
	cg_buf_free(&body);
	cg_buf_free(&ssl);
	return r;
}
