/* Replays a fuzz corpus without libFuzzer: every regular file of the
 * directory in argv[1] (default FUZZ_CORPUS_DIR, set by the build) or the
 * single file named there goes once through LLVMFuzzerTestOneInput. A crash
 * or sanitizer report fails the test; an empty corpus fails it too. */
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
	if (!S_ISDIR(st.st_mode))
		return replay_file(where) == 0 ? 0 : 1;
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
		if (replay_file(path) != 0)
			failed = 1;
		count++;
	}
	closedir(d);
	printf("replayed %u inputs from %s\n", count, where);
	if (count == 0) {
		fprintf(stderr, "%s: empty corpus\n", where);
		return 1;
	}
	return failed;
}
