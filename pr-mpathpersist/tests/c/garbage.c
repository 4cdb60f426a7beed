/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Garbage in, error codes out: every entry point of libmpathpersist.so.0 gets NULL
 * pointers, bad, closed and wrong file descriptors, invalid service actions, scopes
 * and types, oversized transport ID counts and bad transport IDs, and must return an
 * error code (the exact one is checked) without crashing, writing into the caller's
 * buffers, or leaking. Needs no SCSI device; run it under AddressSanitizer and under
 * valgrind (tests/c/run.sh does both). Exit status 0 when every check passed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

static int failures, checks;

#define EXPECT(what, got, want)                                                       \
	do {                                                                          \
		int g_ = (got), w_ = (want);                                          \
		checks++;                                                             \
		if (g_ != w_) {                                                       \
			failures++;                                                   \
			fprintf(stderr, "FAIL %s:%d: %s = %d, want %d\n", __FILE__,    \
				__LINE__, what, g_, w_);                              \
		}                                                                     \
	} while (0)

#define EXPECT_TRUE(what, cond) EXPECT(what, !!(cond), 1)

/* A PR OUT parameter block with exactly MPATH_MX_TIDS pointer slots after it, so
 * that reading a slot beyond them is a heap overflow ASAN and valgrind report. */
static struct prout_param_descriptor *alloc_param(void)
{
	struct prout_param_descriptor *p =
		calloc(1, sizeof(*p) + MPATH_MX_TIDS * sizeof(struct transportid *));
	if (!p) {
		perror("calloc");
		exit(2);
	}
	p->key[7] = 0x11;
	p->sa_key[7] = 0x22;
	return p;
}

static int untouched(const unsigned char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (buf[i] != 0xa5)
			return 0;
	return 1;
}

/* PR IN on fd with a pattern-filled buffer: returns the code, checks the buffer
 * stayed as it was. */
static int prin_pattern(int fd, int sa)
{
	size_t n = sizeof(struct prin_resp) + MPATH_MX_TIDS * sizeof(void *);
	unsigned char *buf = malloc(n);
	memset(buf, 0xa5, n);
	int rc = mpath_persistent_reserve_in(fd, sa, (struct prin_resp *)buf, 0, 0);
	EXPECT_TRUE("buffer untouched after a failed PR IN", untouched(buf, n));
	free(buf);
	return rc;
}

static void fds(void)
{
	struct prout_param_descriptor *p = alloc_param();
	int closed = open("/dev/null", O_RDONLY);
	close(closed);
	char tmpl[] = "/tmp/mpp-garbage-XXXXXX";
	int reg = mkstemp(tmpl);
	unlink(tmpl);
	int null = open("/dev/null", O_RDONLY);
	int dir = open("/", O_RDONLY | O_DIRECTORY);
	int pipefd[2];
	if (reg < 0 || null < 0 || dir < 0 || pipe(pipefd)) {
		perror("setup");
		exit(2);
	}
	const struct {
		const char *what;
		int fd;
	} bad[] = {
		{"fd -1", -1},         {"fd INT_MIN", INT_MIN}, {"fd 123456", 123456},
		{"closed fd", closed}, {"regular file", reg},   {"/dev/null", null},
		{"directory", dir},    {"pipe", pipefd[0]},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (int sa = 0; sa <= 3; sa++)
			EXPECT(bad[i].what, prin_pattern(bad[i].fd, sa), MPATH_PR_FILE_ERROR);
		EXPECT(bad[i].what,
		       mpath_persistent_reserve_out(bad[i].fd, MPATH_PROUT_REG_SA, 0, 0, p, 0, 0),
		       MPATH_PR_FILE_ERROR);
		EXPECT(bad[i].what,
		       __mpath_persistent_reserve_out(bad[i].fd, MPATH_PROUT_RES_SA, 0,
						      MPATH_PRTPE_WE_RO, p, 1),
		       MPATH_PR_FILE_ERROR);
		EXPECT(bad[i].what,
		       mpath_persistent_reserve_out__(bad[i].fd, MPATH_PROUT_CLEAR_SA, 0, 0, p, 0),
		       MPATH_PR_FILE_ERROR);
		EXPECT(bad[i].what,
		       mpath_persistent_reserve_out__(bad[i].fd, MPATH_PROUT_REG_MOV_SA, 0,
						      MPATH_PRTPE_WE, p, 0),
		       MPATH_PR_FILE_ERROR);
	}
	/* A block device that is not a multipath map: DMMP_ERROR. */
	const char *blk[] = {"/dev/loop0", "/dev/vda", "/dev/sda", "/dev/zram0"};
	int tested = 0;
	for (size_t i = 0; i < sizeof(blk) / sizeof(blk[0]) && !tested; i++) {
		struct stat st;
		int fd = open(blk[i], O_RDONLY | O_NONBLOCK);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) == 0 && S_ISBLK(st.st_mode)) {
			EXPECT(blk[i], prin_pattern(fd, MPATH_PRIN_RKEY_SA), MPATH_PR_DMMP_ERROR);
			EXPECT(blk[i],
			       mpath_persistent_reserve_out(fd, MPATH_PROUT_REG_IGN_SA, 0, 0, p, 0, 0),
			       MPATH_PR_DMMP_ERROR);
			tested = 1;
		}
		close(fd);
	}
	if (!tested)
		printf("note: no block device could be opened: the DMMP_ERROR case was not checked\n");
	close(reg);
	close(null);
	close(dir);
	close(pipefd[0]);
	close(pipefd[1]);
	free(p);
}

static void arguments(void)
{
	struct prout_param_descriptor *p = alloc_param();
	struct prin_resp *resp = mpath_alloc_prin_response(MPATH_PRIN_RFSTAT_SA);
	int null = open("/dev/null", O_RDONLY);
	/* NULL result / parameter pointers. */
	for (int sa = 0; sa <= 3; sa++) {
		EXPECT("NULL resp", mpath_persistent_reserve_in(null, sa, NULL, 0, 0),
		       MPATH_PR_SYNTAX_ERROR);
		EXPECT("NULL resp", __mpath_persistent_reserve_in(null, sa, NULL, 0),
		       MPATH_PR_SYNTAX_ERROR);
		EXPECT("NULL resp", mpath_persistent_reserve_in__(-1, sa, NULL, 1),
		       MPATH_PR_SYNTAX_ERROR);
	}
	for (int sa = 0; sa <= 6; sa++)
		EXPECT("NULL paramp",
		       mpath_persistent_reserve_out(null, sa, 0, MPATH_PRTPE_WE, NULL, 0, 0),
		       MPATH_PR_SYNTAX_ERROR);
	/* Invalid service actions. */
	const int bad_in[] = {-1, 4, 5, 255, 256, INT_MAX, INT_MIN};
	for (size_t i = 0; i < sizeof(bad_in) / sizeof(bad_in[0]); i++) {
		EXPECT("bad PR IN SA", mpath_persistent_reserve_in(null, bad_in[i], resp, 0, 0),
		       MPATH_PR_SYNTAX_ERROR);
		EXPECT("bad PR IN SA", mpath_persistent_reserve_in__(null, bad_in[i], resp, 0),
		       MPATH_PR_SYNTAX_ERROR);
	}
	const int bad_out[] = {-1, 8, 9, 31, 0x100, INT_MAX, INT_MIN};
	for (size_t i = 0; i < sizeof(bad_out) / sizeof(bad_out[0]); i++)
		EXPECT("bad PR OUT SA",
		       mpath_persistent_reserve_out(null, bad_out[i], 0, MPATH_PRTPE_WE, p, 0, 0),
		       MPATH_PR_SYNTAX_ERROR);
	/* Invalid types for the actions that take one, invalid scopes. */
	const unsigned int bad_types[] = {0, 2, 4, 9, 0xf, 0x15, 0x105, UINT_MAX};
	const int typed[] = {MPATH_PROUT_RES_SA, MPATH_PROUT_REL_SA, MPATH_PROUT_PREE_SA,
			     MPATH_PROUT_PREE_AB_SA};
	for (size_t i = 0; i < sizeof(bad_types) / sizeof(bad_types[0]); i++)
		for (size_t j = 0; j < sizeof(typed) / sizeof(typed[0]); j++)
			EXPECT("bad type",
			       mpath_persistent_reserve_out(null, typed[j], 0, bad_types[i], p, 0, 0),
			       MPATH_PR_SYNTAX_ERROR);
	const int bad_scopes[] = {1, 2, 0xf, -1, INT_MAX};
	for (size_t i = 0; i < sizeof(bad_scopes) / sizeof(bad_scopes[0]); i++)
		EXPECT("bad scope",
		       mpath_persistent_reserve_out(null, MPATH_PROUT_RES_SA, bad_scopes[i],
						    MPATH_PRTPE_WE, p, 0, 0),
		       MPATH_PR_SYNTAX_ERROR);
	/* Oversized transport ID counts: no slot past the 32 allocated may be read. */
	const uint32_t counts[] = {MPATH_MX_TIDS + 1, 1000, 1u << 20, UINT32_MAX};
	p->sa_flags = MPATH_F_SPEC_I_PT_MASK;
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		p->num_transportid = counts[i];
		EXPECT("oversized num_transportid",
		       mpath_persistent_reserve_out(null, MPATH_PROUT_REG_SA, 0, 0, p, 0, 0),
		       MPATH_PR_SYNTAX_ERROR);
	}
	/* NULL entries, unknown protocols, bad iSCSI lengths. */
	p->num_transportid = 2;
	struct transportid tid;
	memset(&tid, 0, sizeof(tid));
	tid.protocol_id = MPATH_PROTOCOL_ID_SAS;
	p->trnptid_list[0] = &tid;
	p->trnptid_list[1] = NULL;
	EXPECT("NULL transport id",
	       mpath_persistent_reserve_out(null, MPATH_PROUT_REG_SA, 0, 0, p, 0, 0),
	       MPATH_PR_SYNTAX_ERROR);
	p->num_transportid = 1;
	tid.protocol_id = 0x9;
	EXPECT("unknown protocol",
	       mpath_persistent_reserve_out(null, MPATH_PROUT_REG_SA, 0, 0, p, 0, 0),
	       MPATH_PR_SYNTAX_ERROR);
	tid.protocol_id = MPATH_PROTOCOL_ID_ISCSI;
	tid.iscsi_name[0] = 0xff; /* length 0xff00: longer than iscsi_name */
	EXPECT("iSCSI name too long",
	       mpath_persistent_reserve_out(null, MPATH_PROUT_REG_SA, 0, 0, p, 0, 0),
	       MPATH_PR_SYNTAX_ERROR);
	tid.iscsi_name[0] = 0;
	tid.iscsi_name[1] = 0;
	EXPECT("iSCSI name empty",
	       mpath_persistent_reserve_out(null, MPATH_PROUT_REG_SA, 0, 0, p, 0, 0),
	       MPATH_PR_SYNTAX_ERROR);
	/* SPEC_I_PT is only for REGISTER. */
	tid.protocol_id = MPATH_PROTOCOL_ID_SAS;
	EXPECT("SPEC_I_PT with RESERVE",
	       mpath_persistent_reserve_out(null, MPATH_PROUT_RES_SA, 0, MPATH_PRTPE_WE, p, 0, 0),
	       MPATH_PR_SYNTAX_ERROR);
	EXPECT("SPEC_I_PT with REGISTER AND IGNORE",
	       mpath_persistent_reserve_out(null, MPATH_PROUT_REG_IGN_SA, 0, 0, p, 0, 0),
	       MPATH_PR_SYNTAX_ERROR);
	/* A valid SAS id is accepted: the fd is what fails. */
	EXPECT("valid SPEC_I_PT, bad fd",
	       mpath_persistent_reserve_out(null, MPATH_PROUT_REG_SA, 0, 0, p, 0, 0),
	       MPATH_PR_FILE_ERROR);
	close(null);
	free(resp);
	free(p);
}

static void internal(void)
{
	EXPECT_TRUE("alloc(-1) is NULL", mpath_alloc_prin_response(-1) == NULL);
	EXPECT_TRUE("alloc(4) is NULL", mpath_alloc_prin_response(4) == NULL);
	EXPECT_TRUE("alloc(INT_MIN) is NULL", mpath_alloc_prin_response(INT_MIN) == NULL);
	for (int sa = 0; sa <= 3; sa++) {
		unsigned char *b = mpath_alloc_prin_response(sa);
		EXPECT_TRUE("alloc(sa) is not NULL", b != NULL);
		free(b);
	}
	dumpHex(NULL, 16, 0);
	dumpHex("abc", 0, 0);
	dumpHex("abc", -5, 0);
	dumpHex("abc", INT_MIN, 1);
	fflush(stdout);

	struct prin_resp *resp = mpath_alloc_prin_response(MPATH_PRIN_RKEY_SA);
	struct prout_param_descriptor *p = alloc_param();
	EXPECT("prin NULL dev", prin_do_scsi_ioctl(NULL, 0, resp, 0), MPATH_PR_SYNTAX_ERROR);
	EXPECT("prin path dev", prin_do_scsi_ioctl("../etc/passwd", 0, resp, 0),
	       MPATH_PR_SYNTAX_ERROR);
	EXPECT("prin empty dev", prin_do_scsi_ioctl("", 0, resp, 0), MPATH_PR_SYNTAX_ERROR);
	EXPECT("prin NULL resp", prin_do_scsi_ioctl("sda", 0, NULL, 0), MPATH_PR_SYNTAX_ERROR);
	EXPECT("prin bad SA", prin_do_scsi_ioctl("sda", 9, resp, 0), MPATH_PR_SYNTAX_ERROR);
	EXPECT("prout NULL dev", prout_do_scsi_ioctl(NULL, 0, 0, 0, p, 0), MPATH_PR_SYNTAX_ERROR);
	EXPECT("prout NULL paramp", prout_do_scsi_ioctl("sda", 0, 0, 0, NULL, 0),
	       MPATH_PR_SYNTAX_ERROR);
	EXPECT("prout bad SA", prout_do_scsi_ioctl("sda", 77, 0, 0, p, 0), MPATH_PR_SYNTAX_ERROR);
	/* These pass the argument checks and run on the runtime thread: a device that does
	 * not exist, and one that is not SCSI. */
	EXPECT("prin missing dev", prin_do_scsi_ioctl("no-such-dev", 0, resp, 0),
	       MPATH_PR_DMMP_ERROR);
	EXPECT("prout /dev/null", prout_do_scsi_ioctl("null", MPATH_PROUT_REG_SA, 0, 0, p, 0),
	       MPATH_PR_DMMP_ERROR);
	free(resp);
	free(p);
}

static void *thread_fn(void *arg)
{
	(void)arg;
	struct prin_resp *resp = mpath_alloc_prin_response(MPATH_PRIN_RKEY_SA);
	int bad = 0;
	for (int i = 0; i < 20; i++) {
		if (prin_do_scsi_ioctl("no-such-dev", 0, resp, 0) != MPATH_PR_DMMP_ERROR)
			bad++;
		if (mpath_persistent_reserve_in(-1, 0, resp, 0, 0) != MPATH_PR_FILE_ERROR)
			bad++;
	}
	free(resp);
	return (void *)(intptr_t)bad;
}

static void threads(void)
{
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, thread_fn, NULL);
	for (int i = 0; i < 4; i++) {
		void *bad;
		pthread_join(t[i], &bad);
		EXPECT("errors from concurrent callers", (int)(intptr_t)bad, 0);
	}
}

/* After fork() the child (which has no runtime thread) must still be served. */
static void forked(void)
{
	struct prin_resp *resp = mpath_alloc_prin_response(MPATH_PRIN_RKEY_SA);
	/* make sure the parent's runtime thread runs */
	EXPECT("parent before fork", prin_do_scsi_ioctl("no-such-dev", 0, resp, 0),
	       MPATH_PR_DMMP_ERROR);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		alarm(60);
		int rc = prin_do_scsi_ioctl("no-such-dev", 0, resp, 0);
		rc = (rc == MPATH_PR_DMMP_ERROR) ? 0 : 10 + rc;
		libmpathpersist_exit();
		free(resp);
		_exit(rc);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	EXPECT("child after fork exits 0", WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st), 0);
	EXPECT("parent after fork", prin_do_scsi_ioctl("no-such-dev", 0, resp, 0),
	       MPATH_PR_DMMP_ERROR);
	free(resp);
}

int main(void)
{
	/* exit without init, init twice, exit twice, old API with NULL */
	EXPECT("exit without init", libmpathpersist_exit(), 0);
	EXPECT("init", libmpathpersist_init(), 0);
	EXPECT("init again", libmpathpersist_init(), 0);
	EXPECT("init_vecs", mpath_persistent_reserve_init_vecs(0), MPATH_PR_SUCCESS);
	EXPECT("init_vecs negative verbosity", mpath_persistent_reserve_init_vecs(-7),
	       MPATH_PR_SUCCESS);
	mpath_persistent_reserve_free_vecs();
	mpath_persistent_reserve_free_vecs();
	struct config *conf = mpath_lib_init();
	EXPECT_TRUE("mpath_lib_init is not NULL", conf != NULL);
	EXPECT("mpath_lib_exit", mpath_lib_exit(conf), 0);
	EXPECT("mpath_lib_exit(NULL)", mpath_lib_exit(NULL), 0);
	EXPECT("init after exit", libmpathpersist_init(), 0);

	mpath_mx_alloc_len = 65535; /* oversized: capped by the library, never trusted */
	fds();
	arguments();
	internal();
	threads();
	/* Under valgrind the forked child reports the inherited per-thread allocations of
	 * the parent's threads (which do not exist in the child) as lost: run.sh checks the
	 * fork case under ASAN only and sets GARBAGE_SKIP_FORK for valgrind. */
	if (!getenv("GARBAGE_SKIP_FORK"))
		forked();
	else
		printf("note: fork case skipped (GARBAGE_SKIP_FORK)\n");
	mpath_mx_alloc_len = 0;

	EXPECT("exit", libmpathpersist_exit(), 0);
	EXPECT("exit again", libmpathpersist_exit(), 0);
	printf("garbage: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
