/* Hand-built certificate facts for the ldap/ tests: see facts_fixture.h. */
#include "tests/unit/facts_fixture.h"

#include "common/cg_buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *fixture_must(void *p)
{
	if (p == NULL) {
		fputs("facts_fixture: out of memory\n", stderr);
		abort();
	}
	return p;
}

void facts_fixture_set_bytes(char **field, const void *value, size_t n)
{
	char *s = fixture_must(malloc(n + 1));
	memcpy(s, value, n);
	s[n] = '\0';
	free(*field);
	*field = s;
}

void facts_fixture_set(char **field, const char *value)
{
	if (value == NULL) {
		free(*field);
		*field = NULL;
		return;
	}
	facts_fixture_set_bytes(field, value, strlen(value));
}

static void fixture_list_free(struct pki_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void facts_fixture_set_list(struct pki_strlist *l, const char *const *vals, size_t n)
{
	fixture_list_free(l);
	if (n == 0)
		return;
	l->v = fixture_must(calloc(n, sizeof(*l->v)));
	for (size_t i = 0; i < n; i++)
		l->v[i] = fixture_must(strdup(vals[i]));
	l->n = n;
}

void facts_fixture_set_serial(struct pki_facts *f, const uint8_t *p, size_t n, const char *dec)
{
	if (n > PKI_MAX_SERIAL + 1)
		abort();
	if (n > 0)
		memcpy(f->serial, p, n);
	f->serial_len = n;
	cg_hex_encode(p, n, f->serial_hex);
	snprintf(f->serial_dec, sizeof(f->serial_dec), "%s", dec != NULL ? dec : "");
}

void facts_fixture_set_der(struct pki_facts *f, const void *p, size_t n)
{
	free(f->der.data);
	f->der.data = NULL;
	f->der.size = 0;
	if (n == 0)
		return;
	f->der.data = fixture_must(malloc(n));
	memcpy(f->der.data, p, n);
	f->der.size = (unsigned)n;
}

struct pki_facts *facts_fixture_new(void)
{
	static const uint8_t serial[] = { 0x3f, 0x9a, 0x0c, 0x01, 0x02, 0x0a };
	/* not a certificate: bytes chosen so that several are filter specials */
	static const uint8_t der[] = { 0x30, 0x0a, 0x02, 0x01, 0x2a, 0x0c, 0x05, 'a', '(', ')', '\\', 0x00 };
	static const char *const san_email[] = { "alice@example.org", "a.example@mail.example.org" };
	static const char *const san_dns[] = { "alice.example.org" };
	static const char *const san_uri[] = { "https://id.example.org/alice" };
	static const char *const san_upn[] = { "alice@EXAMPLE.ORG" };
	static const char *const eku[] = { "1.3.6.1.5.5.7.3.2", "1.3.6.1.5.5.7.3.4" };
	struct pki_facts *f = fixture_must(calloc(1, sizeof(*f)));

	facts_fixture_set(&f->subject_dn, "CN=Alice Example,UID=alice,OU=People,O=Example,DC=example,DC=org");
	facts_fixture_set(&f->subject_dn_x500, "DC=org,DC=example,O=Example,OU=People,UID=alice,CN=Alice Example");
	facts_fixture_set(&f->issuer_dn, "CN=Example Issuing CA,O=Example,DC=example,DC=org");
	facts_fixture_set(&f->issuer_dn_x500, "DC=org,DC=example,O=Example,CN=Example Issuing CA");
	facts_fixture_set(&f->cn, "Alice Example");
	facts_fixture_set(&f->uid, "alice");
	facts_fixture_set(&f->email, "alice@example.org");
	facts_fixture_set(&f->o, "Example");
	facts_fixture_set(&f->ou, "People");
	facts_fixture_set_list(&f->san_email, san_email, 2);
	facts_fixture_set_list(&f->san_dns, san_dns, 1);
	facts_fixture_set_list(&f->san_uri, san_uri, 1);
	facts_fixture_set_list(&f->san_upn, san_upn, 1);
	facts_fixture_set_list(&f->eku, eku, 2);
	facts_fixture_set_serial(f, serial, sizeof(serial), "69930858906122");
	facts_fixture_set_der(f, der, sizeof(der));
	snprintf(f->sha256_hex, sizeof(f->sha256_hex), "%s",
		 "9c0b5e6a1f2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccd");
	snprintf(f->sha1_hex, sizeof(f->sha1_hex), "%s", "0123456789abcdef0123456789abcdef01234567");
	snprintf(f->spki_sha256_hex, sizeof(f->spki_sha256_hex), "%s",
		 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210");
	facts_fixture_set(&f->ski_hex, "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678");
	f->not_before = 1700000000;
	f->not_after = 1800000000;
	f->key_usage = GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_ENCIPHERMENT;
	f->has_key_usage = true;
	snprintf(f->key_alg, sizeof(f->key_alg), "%s", "ECDSA-P256");
	snprintf(f->sig_alg, sizeof(f->sig_alg), "%s", "ECDSA-SHA256");
	return f;
}

void facts_fixture_free(struct pki_facts *f)
{
	pki_facts_free(f);
}
