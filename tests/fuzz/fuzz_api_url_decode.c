/* Fuzz target for api_url_decode (the X-SSL-Client-Cert header of /v1/authz,
 * which nginx fills with $ssl_client_escaped_cert: attacker-chosen bytes).
 * Checks: no crash; a success never writes past the output, never yields an
 * embedded NUL, and decodes to at most as many bytes as went in; a too-small
 * output is CG_ERR_RANGE, never a silent truncation. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *out = malloc(size + 1);
	char small[8];
	size_t len = 0, len2 = 0;

	if (out == NULL)
		abort();
	enum cg_err r = api_url_decode((const char *)data, size, out, size + 1, &len);
	if (r == CG_OK) {
		if (len > size || out[len] != '\0' || memchr(out, '\0', len) != NULL)
			abort();
		enum cg_err r2 = api_url_decode((const char *)data, size, small, sizeof(small), &len2);
		if (len + 1 <= sizeof(small) ? (r2 != CG_OK || len2 != len || memcmp(small, out, len) != 0)
					     : r2 != CG_ERR_RANGE)
			abort();
	} else if (r != CG_ERR_ARG && r != CG_ERR_RANGE) {
		abort();
	}
	free(out);
	return 0;
}
