/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The lock calls of libpr_sdk from C (pr-lock underneath), no hardware:
 *  - LUN locks on a simulated cluster (two hosts, two paths each): node 1 holds; node 2 is
 *    refused and the error names node 1's key (pr_error_holders) and leaves nothing on the
 *    LUN; node 2 forces and holds the reservation with node 1's key gone; node 1's release
 *    says not held; keep, then release by key.
 *  - A disk lock over a pr_lun (lock file and reservation), freed while held (releases).
 *  - A file-only disk lock of an image path in a temporary lockspace: the lock file exists,
 *    a forked child's acquire fails with PR_ERR_LOCK_FILE_BUSY, release unlinks the file,
 *    then a child can take it.
 *  - Bad input: a missing lockspace directory, a NULL disk, force with key 0, a wrong
 *    struct_size.
 * (The fenced host's WRITE getting RESERVATION CONFLICT is checked by the Rust tests,
 * src/lock_tests.rs: the C API sends no WRITE.)
 */
#include <errno.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pr_sdk.h"
#include "check.h"

#define K1 0x1111
#define K2 0x2222

static pr_sim *sim;
static pr_lun *node[2];

static size_t keys(uint64_t out[8]) {
  pr_keys *k = NULL;
  OK(pr_lun_read_keys(node[0], &k, err));
  size_t n = pr_keys_count(k);
  CHECK(n <= 8);
  for (size_t i = 0; i < n; i++) OK(pr_keys_get(k, i, &out[i], err));
  pr_keys_free(k);
  return n;
}

/* Every registration (one per path) is `key`'s; `paths` of them. */
static void expect_only(uint64_t key, size_t paths) {
  uint64_t k[8];
  size_t n = keys(k);
  CHECK(n == paths);
  for (size_t i = 0; i < n; i++) CHECK(k[i] == key);
}

static void expect_holder(uint64_t key, uint32_t type) {
  pr_reservation *r = NULL;
  OK(pr_lun_read_reservation(node[0], &r, err));
  if (key == 0) {
    CHECK(!pr_reservation_is_held(r));
  } else {
    CHECK(pr_reservation_is_held(r));
    CHECK(pr_reservation_key(r) == key);
    CHECK(pr_reservation_type(r) == type);
  }
  pr_reservation_free(r);
}

static void test_lun_locks(void) {
  pr_lun_lock *l1 = NULL, *l2 = NULL;
  pr_error *e = NULL;
  OK(pr_lun_lock_acquire(node[0], K1, PR_LOCK_EXCLUSIVE, 0, &l1, err));
  CHECK(pr_lun_lock_is_held(l1) && pr_lun_lock_key(l1) == K1);
  expect_only(K1, 2);
  expect_holder(K1, PR_TYPE_WRITE_EXCLUSIVE_REG_ONLY);

  /* Node 2 is refused: the error names node 1's key and the LUN. */
  FAILS(PR_ERR_LOCK_HELD, e, pr_lun_lock_acquire(node[1], K2, PR_LOCK_EXCLUSIVE, 0, &l2, err));
  size_t n = 0;
  const uint64_t *holders = pr_error_holders(e, &n);
  CHECK(n == 1 && holders != NULL && holders[0] == K1);
  CHECK(strcmp(pr_error_path(e), "lun0") == 0);
  CHECK(strstr(pr_error_message(e), "0x1111") != NULL);
  printf("node 2 refused: %s\n", pr_error_message(e));
  pr_error_free(e);
  CHECK(l2 == NULL);
  expect_only(K1, 2); /* nothing of node 2 left */

  /* Node 2 forces: node 1 fenced. */
  OK(pr_lun_lock_acquire(node[1], K2, PR_LOCK_EXCLUSIVE, PR_LOCK_FORCE, &l2, err));
  expect_only(K2, 2);
  expect_holder(K2, PR_TYPE_WRITE_EXCLUSIVE_REG_ONLY);

  /* Node 1's release: its key is gone. */
  FAILS(PR_ERR_LOCK_NOT_HELD, e, pr_lun_lock_release(l1, err));
  pr_error_free(e);
  CHECK(!pr_lun_lock_is_held(l1));
  pr_lun_lock_free(l1);
  expect_only(K2, 2);

  /* Node 2 keeps its lock past the handle, then releases it by key. */
  uint64_t kept = 0;
  OK(pr_lun_lock_keep(l2, &kept, err));
  CHECK(kept == K2);
  pr_lun_lock_free(l2);
  expect_holder(K2, PR_TYPE_WRITE_EXCLUSIVE_REG_ONLY);
  OK(pr_lun_release_key(node[1], K2, PR_LOCK_EXCLUSIVE, err));
  expect_only(0, 0);
  expect_holder(0, 0);
  FAILS(PR_ERR_LOCK_NOT_HELD, e, pr_lun_release_key(node[1], K2, PR_LOCK_EXCLUSIVE, err));
  pr_error_free(e);
}

static pr_disk_lock_options options(const char *file_dir) {
  pr_disk_lock_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.mode = PR_LOCK_EXCLUSIVE;
  o.file_lockspace_dir = file_dir;
  return o;
}

static bool exists(const char *path) { return access(path, F_OK) == 0; }

static void test_disk_lock_over_lun(const char *dir) {
  pr_disk_lock_options o = options(dir);
  o.key = K1;
  o.lun = node[0];
  pr_disk_lock *l = NULL;
  OK(pr_disk_lock_acquire("/dev/mapper/mpatha", &o, &l, err));
  CHECK(pr_disk_lock_enforcement(l) == PR_LOCK_FILE_AND_RESERVATION);
  CHECK(pr_disk_lock_file_only_reason(l) == NULL);
  CHECK(pr_disk_lock_name_kind(l) == PR_LOCK_NAME_SHA256);
  CHECK(strlen(pr_disk_lock_name(l)) == 64);
  CHECK(exists(pr_disk_lock_path(l)));
  expect_holder(K1, PR_TYPE_WRITE_EXCLUSIVE_REG_ONLY);
  char path[4096];
  snprintf(path, sizeof path, "%s", pr_disk_lock_path(l));
  pr_disk_lock_free(l); /* still held: freeing releases both */
  CHECK(!exists(path));
  expect_only(0, 0);
  expect_holder(0, 0);
}

/* Forks a child that tries to lock `disk` file-only in `dir`; returns the child's code. */
static pr_result child_acquire(const char *dir, const char *disk) {
  int fds[2];
  CHECK(pipe(fds) == 0);
  fflush(stdout); /* nothing buffered is written twice */
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    pr_disk_lock_options o = options(dir);
    pr_disk_lock *l = NULL;
    pr_error *e = NULL;
    uint32_t r = (uint32_t)pr_disk_lock_acquire(disk, &o, &l, &e);
    if (r == PR_OK) r = (uint32_t)pr_disk_lock_release(l, NULL);
    pr_disk_lock_free(l);
    pr_error_free(e);
    ssize_t w = write(fds[1], &r, sizeof r);
    _exit(w == (ssize_t)sizeof r ? 0 : 1);
  }
  close(fds[1]);
  uint32_t r = 0xffffffff;
  CHECK(read(fds[0], &r, sizeof r) == (ssize_t)sizeof r);
  close(fds[0]);
  int status = -1;
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  return (pr_result)r;
}

static void test_file_only(const char *dir) {
  const char *disk = "/var/lib/libvirt/images/vm1.qcow2";
  pr_disk_lock_options o = options(dir);
  pr_disk_lock *l = NULL;
  pr_error *e = NULL;
  OK(pr_disk_lock_acquire(disk, &o, &l, err));
  CHECK(pr_disk_lock_is_held(l));
  CHECK(pr_disk_lock_enforcement(l) == PR_LOCK_FILE_ONLY);
  CHECK(strcmp(pr_disk_lock_file_only_reason(l), "no reservation key given") == 0);
  CHECK(pr_disk_lock_key(l) == 0 && pr_disk_lock_mode(l) == PR_LOCK_EXCLUSIVE);
  char path[4096]; /* a copy: the handle's string goes with the handle */
  snprintf(path, sizeof path, "%s", pr_disk_lock_path(l));
  CHECK(strncmp(path, dir, strlen(dir)) == 0);
  CHECK(exists(path));
  struct stat st;
  CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);

  /* Another process (a forked child) is refused; this process too, differently. */
  CHECK(child_acquire(dir, disk) == PR_ERR_LOCK_FILE_BUSY);
  pr_disk_lock *again = NULL;
  FAILS(PR_ERR_LOCK_HELD_BY_THIS_PROCESS, e, pr_disk_lock_acquire(disk, &o, &again, err));
  pr_error_free(e);
  CHECK(exists(path)); /* the child did not unlink it */

  OK(pr_disk_lock_release(l, err));
  CHECK(!pr_disk_lock_is_held(l));
  CHECK(!exists(path));
  OK(pr_disk_lock_release(l, err)); /* again: nothing to do */
  pr_disk_lock_free(l);

  /* Free now: a child takes it (and releases it). */
  CHECK(child_acquire(dir, disk) == PR_OK);
  CHECK(!exists(path));
}

static void test_bad_input(const char *dir) {
  pr_error *e = NULL;
  pr_disk_lock *l = NULL;
  char missing[4200];
  snprintf(missing, sizeof missing, "%s/missing", dir);
  pr_disk_lock_options o = options(missing);
  FAILS(PR_ERR_NO_LOCKSPACE, e, pr_disk_lock_acquire("/var/lib/libvirt/images/a.img", &o, &l, err));
  CHECK(strcmp(pr_error_path(e), missing) == 0);
  pr_error_free(e);

  o = options(dir);
  FAILS(PR_ERR_NULL_ARGUMENT, e, pr_disk_lock_acquire(NULL, &o, &l, err));
  CHECK(strstr(pr_error_message(e), "disk") != NULL);
  pr_error_free(e);

  o.force = true; /* and key 0 */
  FAILS(PR_ERR_INVALID_ARGUMENT, e, pr_disk_lock_acquire("/var/lib/libvirt/images/a.img", &o, &l, err));
  CHECK(strstr(pr_error_message(e), "force") != NULL);
  pr_error_free(e);

  o = options(dir);
  o.struct_size = 4;
  FAILS(PR_ERR_INVALID_ARGUMENT, e, pr_disk_lock_acquire("/var/lib/libvirt/images/a.img", &o, &l, err));
  CHECK(strstr(pr_error_message(e), "struct_size") != NULL);
  pr_error_free(e);

  FAILS(PR_ERR_INVALID_ARGUMENT, e, pr_lun_lock_acquire(node[0], 0, PR_LOCK_EXCLUSIVE, PR_LOCK_FORCE, NULL, err));
  pr_error_free(e);
  CHECK(l == NULL);
  CHECK(rmdir(dir) == 0); /* nothing was left in the lockspace */
}

int main(void) {
  OK(pr_sim_cluster(2, 2, 1, PR_SIM_SPC5, &sim, err));
  OK(pr_sim_cluster_lun(sim, 0, 0, &node[0], err));
  OK(pr_sim_cluster_lun(sim, 1, 0, &node[1], err));
  test_lun_locks();

  char dir[] = "/tmp/pr-c-locks-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  test_disk_lock_over_lun(dir);
  test_file_only(dir);
  test_bad_input(dir);

  pr_lun_free(node[1]);
  pr_lun_free(node[0]);
  pr_sim_free(sim);
  pr_library_exit();
  printf("locks: %d checks passed\n", checks_run);
  return 0;
}
