/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Calls per second of libmpathpersist: REGISTER AND IGNORE EXISTING KEY and READ KEYS
 * on many multipath maps, through the two API families (init_vecs + __mpath_* as
 * mpathpersist uses it, and the self-contained mpath_persistent_reserve_in/out).
 *   bench ITER KEY MAP...
 * BENCH_PHASES (optional, comma-separated: vecs-register, vecs-read-keys,
 * oneshot-register, oneshot-read-keys, or "none") runs only those phases, so a profiler
 * can subtract a run of "none" (set-up and clean-up only) from a run of one phase.
 * Built once against include/mpath_persist.h and linked with -lmpathpersist (the
 * LIBMPATHPERSIST_2.1.0 names only, which Debian's 0.9.4 library has too); run it with
 * Debian's library and with ours (LD_LIBRARY_PATH). Prints which library it loaded and
 * one line per (api, op). Exit 1 when any call failed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mpath_persist.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = v & 0xff;
		v >>= 8;
	}
}

static int failed;

static int reg(int fd, uint64_t key, int oneshot)
{
	struct prout_param_descriptor *p = calloc(1, sizeof(*p));
	put_be64(p->sa_key, key);
	int rc = oneshot ? mpath_persistent_reserve_out(fd, MPATH_PROUT_REG_IGN_SA, 0, 0, p, 0, 0)
			 : __mpath_persistent_reserve_out(fd, MPATH_PROUT_REG_IGN_SA, 0, 0, p, 0);
	free(p);
	return rc;
}

/* noinline: bench/profile.sh counts instructions inside the timed calls only
 * (callgrind --toggle-collect=timed_reg --toggle-collect=read_keys), not the warm-up */
__attribute__((noinline)) static int timed_reg(int fd, uint64_t key, int oneshot)
{
	return reg(fd, key, oneshot);
}

__attribute__((noinline)) static int read_keys(int fd, int oneshot, struct prin_resp *resp)
{
	int rc = oneshot ? mpath_persistent_reserve_in(fd, MPATH_PRIN_RKEY_SA, resp, 0, 0)
			 : __mpath_persistent_reserve_in(fd, MPATH_PRIN_RKEY_SA, resp, 0);
	if (rc == 0 && resp->prin_descriptor.prin_readkeys.additional_length == 0)
		rc = -100; /* our key must be there */
	return rc;
}

static int selected(const char *api, const char *op)
{
	const char *want = getenv("BENCH_PHASES");
	if (!want)
		return 1;
	char name[64];
	snprintf(name, sizeof(name), "%s-%s", api, op);
	size_t len = strlen(name);
	for (const char *p = want; (p = strstr(p, name)); p += len)
		if ((p == want || p[-1] == ',') && (p[len] == ',' || p[len] == 0))
			return 1;
	return 0;
}

static void phase(const char *api, const char *op, int oneshot, int is_reg, int iter,
		  uint64_t key, int *fds, int n)
{
	if (!selected(api, op))
		return;
	struct prin_resp *resp = calloc(1, sizeof(*resp));
	int calls = 0, errors = 0;
	double t0 = now();
	for (int i = 0; i < iter; i++)
		for (int m = 0; m < n; m++) {
			int rc = is_reg ? timed_reg(fds[m], key, oneshot) : read_keys(fds[m], oneshot, resp);
			calls++;
			if (rc) {
				errors++;
				fprintf(stderr, "%s %s map %d: rc %d\n", api, op, m, rc);
			}
		}
	double secs = now() - t0;
	printf("api=%-7s op=%-9s calls=%d errors=%d secs=%.3f calls_per_s=%.2f\n", api, op,
	       calls, errors, secs, calls / secs);
	fflush(stdout);
	failed |= errors != 0;
	free(resp);
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: bench ITER KEY MAP...\n");
		return 2;
	}
	int iter = atoi(argv[1]);
	uint64_t key = strtoull(argv[2], NULL, 0);
	int n = argc - 3;
	int *fds = calloc(n, sizeof(int));
	for (int i = 0; i < n; i++) {
		fds[i] = open(argv[3 + i], O_RDONLY);
		if (fds[i] < 0) {
			perror(argv[3 + i]);
			return 2;
		}
	}
	Dl_info info;
	if (dladdr((void *)&mpath_persistent_reserve_in, &info) && info.dli_fname)
		printf("library: %s\n", info.dli_fname);
	if (libmpathpersist_init()) {
		fprintf(stderr, "libmpathpersist_init failed\n");
		return 1;
	}
	if (mpath_persistent_reserve_init_vecs(0)) {
		fprintf(stderr, "init_vecs failed\n");
		return 1;
	}
	/* warm-up: register every map once (sets the key in multipathd, file mode) */
	for (int m = 0; m < n; m++)
		if (reg(fds[m], key, 0)) {
			fprintf(stderr, "warm-up register failed on %s\n", argv[3 + m]);
			return 1;
		}
	phase("vecs", "register", 0, 1, iter, key, fds, n);
	phase("vecs", "read-keys", 0, 0, iter, key, fds, n);
	phase("oneshot", "register", 1, 1, iter, key, fds, n);
	phase("oneshot", "read-keys", 1, 0, iter, key, fds, n);
	for (int m = 0; m < n; m++) {
		struct prout_param_descriptor *p = calloc(1, sizeof(*p));
		put_be64(p->key, key);
		if (__mpath_persistent_reserve_out(fds[m], MPATH_PROUT_REG_IGN_SA, 0, 0, p, 0))
			fprintf(stderr, "unregister failed on %s\n", argv[3 + m]);
		free(p);
		close(fds[m]);
	}
	mpath_persistent_reserve_free_vecs();
	libmpathpersist_exit();
	free(fds);
	return failed;
}
