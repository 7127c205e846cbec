/* Fuzz target for ldap/dir_match.c. The input is "EXPR\nVALUE": the rule
 * expression is compiled, and, when it compiles, evaluated against a fixture
 * certificate whose subject DN, SAN email and UPN are VALUE. Checks: no crash,
 * no leak, no unbounded work (the compiler's bounds: 32 components, 1024-byte
 * regexes); evaluation is deterministic. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ldap/dir_match.h"
#include "tests/unit/facts_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t elen = nl != NULL ? (size_t)(nl - data) : size;
	char *expr = malloc(elen + 1);
	struct pki_facts *f = facts_fixture_new();
	struct dir_match *m = NULL;
	char err[256];

	if (expr == NULL)
		abort();
	memcpy(expr, data, elen);
	expr[elen] = '\0';
	if (nl != NULL) {
		const char *vals[1];
		char *v = malloc(size - elen);
		if (v == NULL)
			abort();
		memcpy(v, nl + 1, size - elen - 1);
		v[size - elen - 1] = '\0';
		facts_fixture_set(&f->subject_dn, v);
		vals[0] = v;
		facts_fixture_set_list(&f->san_email, vals, 1);
		facts_fixture_set_list(&f->san_upn, vals, 1);
		free(v);
	}
	enum cg_err r = dir_match_compile(expr, &m, err, sizeof(err));
	if (r != CG_OK && r != CG_ERR_ARG && r != CG_ERR_NOMEM)
		abort();
	if ((r == CG_OK) != (m != NULL))
		abort();
	if (m != NULL && dir_match_eval(m, f) != dir_match_eval(m, f))
		abort();
	dir_match_free(m);
	free(expr);
	facts_fixture_free(f);
	return 0;
}
