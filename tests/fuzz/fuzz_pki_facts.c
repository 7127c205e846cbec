/* Fuzz target for pki/pki_facts.c: any byte string as a DER certificate.
 * Whatever the input, pki_facts_from_der must return cleanly and, on
 * success, hand back NUL-terminated, bounded strings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pki/pki_facts.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct pki_facts *f = NULL;
	gnutls_datum_t der = { (unsigned char *)(uintptr_t)d, (unsigned)n };

	if (n == 0 || n > 1024 * 1024)
		return 0;
	if (pki_facts_from_der(&der, &f) != CG_OK)
		return 0;
	/* touch every string so ASan sees any overread */
	if (strlen(f->subject_dn) > PKI_MAX_DN_LEN || strlen(f->issuer_dn) > PKI_MAX_DN_LEN ||
	    strlen(f->subject_dn_x500) != strlen(f->subject_dn))
		abort();
	const struct pki_strlist *lists[] = { &f->san_email, &f->san_dns, &f->san_uri, &f->san_upn, &f->eku };
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		if (lists[i]->n > PKI_MAX_SANS)
			abort();
		for (size_t k = 0; k < lists[i]->n; k++)
			(void)strlen(lists[i]->v[k]);
	}
	char hex[sizeof(f->serial_hex)];
	pki_serial_hex(f, true, true, hex, sizeof(hex));
	if (strlen(hex) != 2 * f->serial_len)
		abort();
	pki_facts_free(f);
	return 0;
}
