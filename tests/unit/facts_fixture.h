/* A struct pki_facts built by hand for the ldap/ unit tests and fuzz
 * targets, so they need nothing from pki/ (no parsing, no GnuTLS calls).
 * Every string is the fixture's own heap copy; free with facts_fixture_free. */
#ifndef FACTS_FIXTURE_H
#define FACTS_FIXTURE_H

#include <stddef.h>
#include <stdint.h>
#include "pki/pki_facts.h"

/* Alice's certificate from Example's issuing CA (values in facts_fixture.c).
 * Never NULL: aborts when out of memory. */
struct pki_facts *facts_fixture_new(void);
/* Frees every field the fixture functions filled in, then f. NULL is fine. */
void facts_fixture_free(struct pki_facts *f);
/* Replace a string field with a copy of value (NULL clears it). */
void facts_fixture_set(char **field, const char *value);
/* Replace a string field with a copy of n bytes (which may hold NUL). */
void facts_fixture_set_bytes(char **field, const void *value, size_t n);
/* Replace a list with copies of vals[0..n). */
void facts_fixture_set_list(struct pki_strlist *l, const char *const *vals, size_t n);
/* Serial bytes (n <= PKI_MAX_SERIAL + 1) and their decimal form; fills serial_hex. */
void facts_fixture_set_serial(struct pki_facts *f, const uint8_t *p, size_t n, const char *dec);
/* Replace the DER bytes. */
void facts_fixture_set_der(struct pki_facts *f, const void *p, size_t n);

#endif
