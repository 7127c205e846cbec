/* Replays a fuzz corpus without libFuzzer: every regular file of the
 * directory in argv[1] (default FUZZ_CORPUS_DIR, set by the build) or the
 * single file named there goes once through LLVMFuzzerTestOneInput. Output is
 * TAP, one line per input and the plan last: a crash or sanitizer report
 * stops it without a plan (the test fails); an empty corpus fails it too. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef FUZZ_CORPUS_DIR
#define FUZZ_CORPUS_DIR "."
#endif

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	int ret = -1;

	if (f == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			if (cap > 64u * 1024 * 1024)
				goto out;
			uint8_t *p = realloc(buf, cap);
			if (p == NULL)
				goto out;
			buf = p;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f))
		goto out;
	LLVMFuzzerTestOneInput(buf, len);
	ret = 0;
out:
	if (ret != 0)
		fprintf(stderr, "%s: cannot read\n", path);
	free(buf);
	fclose(f);
	return ret;
}

int main(int argc, char **argv)
{
	const char *where = argc > 1 ? argv[1] : FUZZ_CORPUS_DIR;
	struct stat st;
	unsigned count = 0;
	int failed = 0;

	if (stat(where, &st) != 0) {
		fprintf(stderr, "%s: %s\n", where, strerror(errno));
		return 1;
	}
	if (!S_ISDIR(st.st_mode)) {
		int r = replay_file(where);
		printf("%s 1 - %s\n1..1\n", r == 0 ? "ok" : "not ok", where);
		return r == 0 ? 0 : 1;
	}
	DIR *d = opendir(where);
	if (d == NULL) {
		fprintf(stderr, "%s: %s\n", where, strerror(errno));
		return 1;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		char path[4096];
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", where, e->d_name);
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		count++;
		if (replay_file(path) != 0) {
			failed = 1;
			printf("not ok %u - %s (unreadable)\n", count, e->d_name);
		} else {
			printf("ok %u - %s\n", count, e->d_name);
		}
		fflush(stdout);  /* a crash on the next input must not lose these lines */
	}
	closedir(d);
	if (count == 0) {
		printf("not ok 1 - %s: empty corpus\n1..1\n", where);
		return 1;
	}
	printf("1..%u\n", count);
	return failed;
}
