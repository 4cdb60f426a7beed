/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The documented usage of include/mpath_persist.h, with nothing but the header: both
 * ways of allocating a PR IN result, a PR IN and a PR OUT call. Compiled with
 * -Werror=implicit-function-declaration (tests/c_layout.rs, and tests/c/run.sh, which
 * also runs it: every call here fails cleanly on /dev/null with MPATH_PR_FILE_ERROR).
 * Exit status 0 when every check passed.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <mpath_persist.h>

static int check(const char *what, int got, int want)
{
	if (got == want)
		return 0;
	fprintf(stderr, "FAIL %s: %d, want %d\n", what, got, want);
	return 1;
}

int main(void)
{
	int failed = 0;
	int fd = open("/dev/null", O_RDONLY);
	if (fd < 0 || libmpathpersist_init() != 0) {
		perror("setup");
		return 2;
	}
	/* The library's allocator. */
	struct prin_resp *resp = mpath_alloc_prin_response(MPATH_PRIN_RFSTAT_SA);
	failed |= check("mpath_alloc_prin_response", resp != NULL, 1);
	/* The portable allocation (Debian's library too). */
	struct prin_resp *own =
		calloc(1, sizeof(struct prin_resp) + MPATH_MX_TIDS * sizeof(struct prin_fulldescr *));
	failed |= check("calloc", own != NULL, 1);
	if (resp && own) {
		failed |= check("PR IN", mpath_persistent_reserve_in(fd, MPATH_PRIN_RKEY_SA, resp, 0, 0),
				MPATH_PR_FILE_ERROR);
		failed |= check("PR IN, noisy",
				mpath_persistent_reserve_in(fd, MPATH_PRIN_RFSTAT_SA, own, 1, 0),
				MPATH_PR_FILE_ERROR);
	}
	struct prout_param_descriptor *p = calloc(1, sizeof(*p));
	if (p) {
		p->sa_key[7] = 0x01;
		failed |= check("PR OUT",
				mpath_persistent_reserve_out(fd, MPATH_PROUT_REG_IGN_SA, 0, 0, p, 0, 0),
				MPATH_PR_FILE_ERROR);
	}
	free(p);
	free(own);
	free(resp);
	close(fd);
	failed |= check("exit", libmpathpersist_exit(), 0);
	printf("usage: %s\n", failed ? "FAILED" : "ok");
	return failed;
}
