/* Replays a fuzz target's seed corpus as an ordinary test: every regular
 * file of the directory in argv[1] (default: CORPUS_DIR, set by the build)
 * is fed once to LLVMFuzzerTestOneInput. A crash or an abort() in the target
 * fails the test; so does an empty or unreadable corpus. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cg_buf.h"

#ifndef CORPUS_DIR
#define CORPUS_DIR "."
#endif

#define REPLAY_MAX_INPUT (1024 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : CORPUS_DIR;
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned n = 0, bad = 0;

	if (d == NULL) {
		perror(dir);
		return EXIT_FAILURE;
	}
	while ((e = readdir(d)) != NULL) {
		char path[4096];
		char *data = NULL;
		size_t len = 0;
		enum cg_err r;
		if (e->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path)) {
			bad++;
			continue;
		}
		r = cg_read_file(path, REPLAY_MAX_INPUT, &data, &len);
		if (r != CG_OK) {
			fprintf(stderr, "%s: cannot read (%s)\n", path, cg_err_name(r));
			bad++;
			continue;
		}
		/* an exact-size copy so ASan sees reads past the input */
		uint8_t *copy = malloc(len > 0 ? len : 1);
		if (copy == NULL) {
			free(data);
			closedir(d);
			return EXIT_FAILURE;
		}
		memcpy(copy, data, len);
		free(data);
		LLVMFuzzerTestOneInput(copy, len);
		free(copy);
		n++;
	}
	closedir(d);
	printf("%s: %u inputs replayed\n", dir, n);
	return n > 0 && bad == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
