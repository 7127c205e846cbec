/* Fuzz target for ldap/dir_template.c. The input is "TEMPLATE\nVALUE": the
 * value becomes the certificate's cn and uid (up to its first NUL, as
 * pki/ never puts a NUL in those fields), the template is validated and then
 * rendered for a filter and for a DN. Checks: no crash or leak; render agrees
 * with validate; and in a rendered filter every '*', '(' and ')' comes from
 * the template's literal text, never from the certificate. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ldap/dir_template.h"
#include "tests/unit/facts_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t fuzz_count(const char *s, char c)
{
	size_t n = 0;
	for (; *s != '\0'; s++)
		n += *s == c;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t tlen = nl != NULL ? (size_t)(nl - data) : size;
	char *tmpl = malloc(tlen + 1);
	struct pki_facts *f = facts_fixture_new();
	char err[256];
	char *flt = NULL, *dn = NULL;
	enum cg_err v, rf, rd;

	if (tmpl == NULL)
		abort();
	memcpy(tmpl, data, tlen);
	tmpl[tlen] = '\0';
	if (nl != NULL) {
		facts_fixture_set_bytes(&f->cn, nl + 1, size - tlen - 1);
		facts_fixture_set_bytes(&f->uid, nl + 1, size - tlen - 1);
	}
	v = dir_template_validate(tmpl, err, sizeof(err));
	rf = dir_template_render(tmpl, f, DIR_ESCAPE_CTX_FILTER, &flt, err, sizeof(err));
	rd = dir_template_render(tmpl, f, DIR_ESCAPE_CTX_DN, &dn, err, sizeof(err));
	if (v != CG_OK && v != CG_ERR_ARG)
		abort();
	if (v == CG_ERR_ARG && (rf != CG_ERR_ARG || rd != CG_ERR_ARG))
		abort();
	if (v == CG_OK && (rf == CG_ERR_ARG || (rd == CG_ERR_ARG && strstr(tmpl, "{cert}") == NULL)))
		abort();
	if ((rf == CG_OK) != (flt != NULL) || (rd == CG_OK) != (dn != NULL))
		abort();
	if (flt != NULL && (fuzz_count(flt, '*') != fuzz_count(tmpl, '*') ||
			    fuzz_count(flt, '(') != fuzz_count(tmpl, '(') ||
			    fuzz_count(flt, ')') != fuzz_count(tmpl, ')')))
		abort();
	free(flt);
	free(dn);
	free(tmpl);
	facts_fixture_free(f);
	return 0;
}
