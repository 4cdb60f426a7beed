/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Garbage in, error codes out: NULL pointers, wrong, closed and negative file descriptors,
 * regular files, /dev/null, nonexistent paths, invalid service actions, reservation types,
 * flags, personalities, faults and log levels, oversized TransportID / path / LUN /
 * cluster counts, malformed TransportIDs, out-of-range indexes. Every fallible call must return the documented
 * error code with an error object whose message names the bad argument, leave its
 * out-parameters untouched, and write nothing else; getters must return their neutral
 * value; frees must accept NULL. Run under ASan/UBSan and valgrind by test.sh.
 */
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include "pr_sdk.h"
#include "check.h"

/* A call that must fail with `code` and name `arg` in its message. */
#define BAD(code, arg, call)                                                         \
  do {                                                                               \
    pr_error *bad_e_ = NULL;                                                         \
    FAILS(code, bad_e_, call);                                                       \
    const char *m_ = pr_error_message(bad_e_);                                       \
    if (m_ == NULL || (arg[0] != '\0' && strstr(m_, arg) == NULL)) {                 \
      fprintf(stderr, "%s:%d: %s: message %s does not name %s\n", __FILE__,          \
              __LINE__, #call, m_ ? m_ : "(null)", arg);                             \
      exit(1);                                                                       \
    }                                                                                \
    pr_error_free(bad_e_);                                                           \
  } while (0)

#define SENTINEL ((void *)0x5a5a5a5a)

static pr_sim *sim;
static pr_device *dev;
static pr_lun *lun;
static uint32_t path0;

static void setup(void) {
  uint16_t l;
  uint32_t i;
  OK(pr_sim_new(1, &sim, err));
  OK(pr_sim_add_lun(sim, PR_SIM_SPC5, &l, err));
  OK(pr_sim_add_initiator(sim, "sas,5001405000000001", &i, err));
  OK(pr_sim_add_path(sim, i, 1, l, "p0", &path0, err));
  OK(pr_device_open_sim(sim, path0, &dev, err));
  OK(pr_lun_open_sim(sim, "lun", &path0, 1, &lun, err));
}

static void test_open(void) {
  pr_device *d = SENTINEL;
  BAD(PR_ERR_NULL_ARGUMENT, "`path`", pr_device_open(NULL, 0, &d, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`out`", pr_device_open("/dev/null", 0, NULL, err));
  BAD(PR_ERR_NOT_FOUND, "/nonexistent", pr_device_open("/nonexistent/sdq", 0, &d, err));
  BAD(PR_ERR_NOT_SCSI, "/dev/null", pr_device_open("/dev/null", 0, &d, err));
  BAD(PR_ERR_NOT_SCSI, "/dev/null", pr_device_open("/dev/null", PR_OPEN_READ_ONLY, &d, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`flags`", pr_device_open("/dev/null", 0x80, &d, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`path`", pr_device_open("\xff\xfe", 0, &d, err));

  char file[] = "/tmp/pr-garbage-XXXXXX";
  int fd = mkstemp(file);
  CHECK(fd >= 0);
  CHECK(write(fd, "not a disk\n", 11) == 11);
  BAD(PR_ERR_NOT_SCSI, file, pr_device_open(file, 0, &d, err));
  BAD(PR_ERR_NOT_SCSI, "not a SCSI device", pr_device_open_fd(fd, 0, &d, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`fd`", pr_device_open_fd(-1, 0, &d, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`fd`", pr_device_open_fd(-42, PR_OPEN_READ_ONLY, &d, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`flags`", pr_device_open_fd(fd, 0xffff, &d, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`out`", pr_device_open_fd(fd, 0, NULL, err));
  close(fd);
  unlink(file);
  /* fd is closed now. */
  BAD(PR_ERR_NOT_FOUND, "", pr_device_open_fd(fd, 0, &d, err));
  BAD(PR_ERR_NOT_FOUND, "", pr_device_open_fd(1000000, 0, &d, err));
  int null_fd = open("/dev/null", O_RDWR);
  CHECK(null_fd >= 0);
  BAD(PR_ERR_NOT_SCSI, "not a SCSI device", pr_device_open_fd(null_fd, 0, &d, err));
  close(null_fd);
  int dir_fd = open("/tmp", O_RDONLY | O_DIRECTORY);
  CHECK(dir_fd >= 0);
  pr_error *e = NULL;
  pr_result r = pr_device_open_fd(dir_fd, PR_OPEN_READ_ONLY, &d, &e);
  CHECK(r != PR_OK && e != NULL && pr_error_code(e) == r);
  pr_error_free(e);
  close(dir_fd);
  CHECK(d == SENTINEL);

  BAD(PR_ERR_NULL_ARGUMENT, "`sim`", pr_device_open_sim(NULL, 0, &d, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`path`", pr_device_open_sim(sim, 99, &d, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`out`", pr_device_open_sim(sim, path0, NULL, err));
  CHECK(d == SENTINEL);

  pr_lun *l = SENTINEL;
  BAD(PR_ERR_NULL_ARGUMENT, "`map`", pr_lun_open(NULL, 0, &l, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`flags`", pr_lun_open("mpatha", 0x100, &l, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`out`", pr_lun_open("mpatha", 0, NULL, err));
  e = NULL;
  r = pr_lun_open("no-such-map-pr-garbage", PR_LUN_NO_MULTIPATHD | PR_LUN_NO_CONFIG, &l, &e);
  CHECK(r != PR_OK && e != NULL && pr_error_code(e) == r); /* MAP, or OS when not root */
  pr_error_free(e);
  const char *devs[2] = {"/dev/null", NULL};
  BAD(PR_ERR_NULL_ARGUMENT, "`name`", pr_lun_open_paths(NULL, devs, 1, &l, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`devices`", pr_lun_open_paths("x", NULL, 2, &l, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`devices[1]`", pr_lun_open_paths("x", devs, 2, &l, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`count`", pr_lun_open_paths("x", devs, 0, &l, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`devices`", pr_lun_open_paths("x", devs, SIZE_MAX, &l, err));
  BAD(PR_ERR_NOT_SCSI, "/dev/null", pr_lun_open_paths("x", devs, 1, &l, err));
  uint32_t ids[2] = {path0, 77};
  BAD(PR_ERR_NULL_ARGUMENT, "`sim`", pr_lun_open_sim(NULL, "x", ids, 1, &l, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`name`", pr_lun_open_sim(sim, NULL, ids, 1, &l, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`paths`", pr_lun_open_sim(sim, "x", NULL, 1, &l, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`paths[1]`", pr_lun_open_sim(sim, "x", ids, 2, &l, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`count`", pr_lun_open_sim(sim, "x", ids, 0, &l, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`paths`", pr_lun_open_sim(sim, "x", ids, (size_t)1 << 40, &l, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`out`", pr_lun_open_sim(sim, "x", ids, 1, NULL, err));
  CHECK(l == SENTINEL);
}

static void test_actions(void) {
  /* NULL handles. */
  BAD(PR_ERR_NULL_ARGUMENT, "`device`", pr_device_register(NULL, 0, 1, 0, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`device`", pr_device_register_ignore(NULL, 1, 0, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`device`", pr_device_reserve(NULL, 1, PR_TYPE_WRITE_EXCLUSIVE, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`device`", pr_device_release(NULL, 1, PR_TYPE_WRITE_EXCLUSIVE, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`device`", pr_device_clear(NULL, 1, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`device`", pr_device_preempt(NULL, 1, 2, PR_TYPE_WRITE_EXCLUSIVE, true, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`device`",
      pr_device_register_and_move(NULL, 1, 2, PR_TYPE_WRITE_EXCLUSIVE, "sas,1", 1, 0, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`device`",
      pr_device_replace_lost_reservation(NULL, 1, PR_TYPE_WRITE_EXCLUSIVE, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`lun`", pr_lun_register(NULL, 0, 1, 0, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`lun`", pr_lun_register_ignore(NULL, 1, 0, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`lun`", pr_lun_register_spec_i_pt(NULL, 0, 1, 0, NULL, 0, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`lun`", pr_lun_reserve(NULL, 1, PR_TYPE_WRITE_EXCLUSIVE, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`lun`", pr_lun_release(NULL, 1, PR_TYPE_WRITE_EXCLUSIVE, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`lun`", pr_lun_clear(NULL, 1, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`lun`", pr_lun_preempt(NULL, 1, 2, PR_TYPE_WRITE_EXCLUSIVE, false, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`lun`",
      pr_lun_register_and_move(NULL, 1, 2, PR_TYPE_WRITE_EXCLUSIVE, "sas,1", 1, 0, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`lun`",
      pr_lun_replace_lost_reservation(NULL, 1, PR_TYPE_WRITE_EXCLUSIVE, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`lun`", pr_lun_reinstate_path(NULL, "p0", 0, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`path`", pr_lun_reinstate_path(lun, NULL, 0, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`path`", pr_lun_reinstate_path(lun, "nope", 0, err));

  /* Invalid reservation types: obsolete, reserved, huge. */
  const uint32_t bad_types[] = {0, 2, 4, 9, 0xf, 0x10, 0x101, 0xffffffffu};
  for (size_t i = 0; i < sizeof bad_types / sizeof bad_types[0]; i++) {
    uint32_t t = bad_types[i];
    BAD(PR_ERR_INVALID_ARGUMENT, "`type`", pr_device_reserve(dev, 1, t, err));
    BAD(PR_ERR_INVALID_ARGUMENT, "`type`", pr_lun_reserve(lun, 1, t, err));
    BAD(PR_ERR_INVALID_ARGUMENT, "`type`", pr_device_release(dev, 1, t, err));
    BAD(PR_ERR_INVALID_ARGUMENT, "`type`", pr_lun_release(lun, 1, t, err));
    BAD(PR_ERR_INVALID_ARGUMENT, "`type`", pr_device_preempt(dev, 1, 2, t, true, err));
    BAD(PR_ERR_INVALID_ARGUMENT, "`type`", pr_lun_preempt(lun, 1, 2, t, false, err));
    BAD(PR_ERR_INVALID_ARGUMENT, "`type`",
        pr_device_register_and_move(dev, 1, 2, t, "sas,5001405000000002", 1, 0, err));
    BAD(PR_ERR_INVALID_ARGUMENT, "`type`", pr_lun_replace_lost_reservation(lun, 1, t, err));
  }

  /* Flags not valid for the action. */
  BAD(PR_ERR_INVALID_ARGUMENT, "`flags`", pr_device_register(dev, 0, 1, PR_FLAG_UNREG, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`flags`", pr_lun_register(lun, 0, 1, 0x80000000u, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`flags`",
      pr_device_register_and_move(dev, 1, 2, PR_TYPE_WRITE_EXCLUSIVE, "sas,5001405000000002", 1,
                                  PR_FLAG_ALL_TG_PT, err));

  /* Generic PR OUT: NULL params, invalid service actions, TransportID counts. */
  pr_out_params p;
  memset(&p, 0, sizeof p);
  p.type_ = PR_TYPE_WRITE_EXCLUSIVE;
  BAD(PR_ERR_NULL_ARGUMENT, "`params`", pr_device_out(dev, PR_OUT_RESERVE, NULL, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`params`", pr_lun_out(lun, PR_OUT_RESERVE, NULL, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`device`", pr_device_out(NULL, PR_OUT_RESERVE, &p, err));
  const uint32_t bad_sa[] = {9, 0x1f, 0x20, 0xff, 0xffffffffu};
  for (size_t i = 0; i < sizeof bad_sa / sizeof bad_sa[0]; i++) {
    BAD(PR_ERR_INVALID_ARGUMENT, "`service_action`", pr_device_out(dev, bad_sa[i], &p, err));
    BAD(PR_ERR_INVALID_ARGUMENT, "`service_action`", pr_lun_out(lun, bad_sa[i], &p, err));
  }
  p.transport_id_count = SIZE_MAX; /* oversized: refused before the array is read */
  BAD(PR_ERR_INVALID_ARGUMENT, "`transport_ids`", pr_device_out(dev, PR_OUT_REGISTER, &p, err));
  p.transport_id_count = PR_MAX_TRANSPORT_IDS + 1;
  BAD(PR_ERR_INVALID_ARGUMENT, "`transport_ids`", pr_lun_out(lun, PR_OUT_REGISTER, &p, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`transport_id_count`",
      pr_device_out(dev, PR_OUT_REGISTER_AND_MOVE, &p, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`transport_id_count`", pr_device_out(dev, PR_OUT_RESERVE, &p, err));
  p.transport_id_count = 2;
  BAD(PR_ERR_NULL_ARGUMENT, "`transport_ids`", pr_device_out(dev, PR_OUT_REGISTER, &p, err));
  const char *tids[3] = {"sas,5001405000000002", NULL, "garbage"};
  p.transport_ids = tids;
  BAD(PR_ERR_NULL_ARGUMENT, "`transport_ids[1]`", pr_device_out(dev, PR_OUT_REGISTER, &p, err));
  tids[1] = "not a transport id !";
  BAD(PR_ERR_INVALID_TRANSPORT_ID, "`transport_ids[1]`", pr_lun_out(lun, PR_OUT_REGISTER, &p, err));
  tids[1] = "sas,12345";
  BAD(PR_ERR_INVALID_TRANSPORT_ID, "`transport_ids[1]`", pr_device_out(dev, PR_OUT_REGISTER, &p, err));
  p.transport_id_count = 0;
  p.flags = PR_FLAG_SPEC_I_PT;
  BAD(PR_ERR_INVALID_ARGUMENT, "`transport_ids`", pr_device_out(dev, PR_OUT_REGISTER, &p, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`flags`", pr_device_out(dev, PR_OUT_REGISTER_AND_MOVE, &p, err));
  p.flags = 0;
  BAD(PR_ERR_INVALID_ARGUMENT, "`transport_id_count`",
      pr_device_out(dev, PR_OUT_REGISTER_AND_MOVE, &p, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`transport_ids`",
      pr_lun_register_spec_i_pt(lun, 0, 1, 0, NULL, 3, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`transport_ids`",
      pr_lun_register_spec_i_pt(lun, 0, 1, 0, tids, SIZE_MAX, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`transport_ids`",
      pr_lun_register_spec_i_pt(lun, 0, 1, 0, tids, 0, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`transport_ids[0]`",
      pr_device_register_and_move(dev, 1, 2, PR_TYPE_WRITE_EXCLUSIVE, NULL, 1, 0, err));
  BAD(PR_ERR_INVALID_TRANSPORT_ID, "`transport_ids[0]`",
      pr_lun_register_and_move(lun, 1, 2, PR_TYPE_WRITE_EXCLUSIVE, "", 1, 0, err));

  /* PR IN with NULL handles or out-parameters: out untouched. */
  pr_keys *k = SENTINEL;
  pr_reservation *r = SENTINEL;
  pr_capabilities *c = SENTINEL;
  pr_full_status *f = SENTINEL;
  BAD(PR_ERR_NULL_ARGUMENT, "`device`", pr_device_read_keys(NULL, &k, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`out`", pr_device_read_keys(dev, NULL, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`device`", pr_device_read_reservation(NULL, &r, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`out`", pr_device_read_reservation(dev, NULL, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`device`", pr_device_report_capabilities(NULL, &c, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`out`", pr_device_report_capabilities(dev, NULL, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`device`", pr_device_read_full_status(NULL, &f, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`out`", pr_device_read_full_status(dev, NULL, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`lun`", pr_lun_read_keys(NULL, &k, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`out`", pr_lun_read_keys(lun, NULL, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`lun`", pr_lun_read_reservation(NULL, &r, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`lun`", pr_lun_report_capabilities(NULL, &c, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`lun`", pr_lun_read_full_status(NULL, &f, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`out`", pr_lun_read_full_status(lun, NULL, err));
  CHECK(k == SENTINEL && r == SENTINEL && c == SENTINEL && f == SENTINEL);

  /* A failing call with err == NULL: the code only, nothing leaks. */
  CHECK(pr_device_reserve(NULL, 1, 1, NULL) == PR_ERR_NULL_ARGUMENT);
  CHECK(pr_lun_out(lun, 42, &p, NULL) == PR_ERR_INVALID_ARGUMENT);

  /* The device still works after all that. */
  OK(pr_device_read_keys(dev, &k, err));
  CHECK(pr_keys_count(k) == 0);
  /* Out-of-range indexes. */
  uint64_t v = 7;
  BAD(PR_ERR_INVALID_ARGUMENT, "`index`", pr_keys_get(k, 0, &v, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`index`", pr_keys_get(k, SIZE_MAX, &v, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`out`", pr_keys_get(k, 0, NULL, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`keys`", pr_keys_get(NULL, 0, &v, err));
  CHECK(v == 7);
  pr_keys_free(k);
  OK(pr_device_read_full_status(dev, &f, err));
  pr_full_status_entry fe = {.key = 9};
  BAD(PR_ERR_INVALID_ARGUMENT, "`index`", pr_full_status_get(f, 0, &fe, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`status`", pr_full_status_get(NULL, 0, &fe, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`out`", pr_full_status_get(f, 0, NULL, err));
  CHECK(fe.key == 9);
  size_t len = 5;
  CHECK(pr_full_status_transport_id(f, 0) == NULL);
  CHECK(pr_full_status_transport_id_bytes(f, SIZE_MAX, &len) == NULL && len == 0);
  CHECK(pr_full_status_transport_id_bytes(f, 0, NULL) == NULL);
  pr_full_status_free(f);
}

static void test_fleet(void) {
  pr_fleet_result *res = SENTINEL;
  const pr_lun *luns[3] = {lun, NULL, lun};
  BAD(PR_ERR_NULL_ARGUMENT, "`luns`", pr_fleet_unfence(NULL, 3, 1, NULL, &res, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`luns[1]`", pr_fleet_unfence(luns, 3, 1, NULL, &res, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`luns`", pr_fleet_unfence(luns, SIZE_MAX, 1, NULL, &res, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`luns`",
      pr_fleet_fence(luns, PR_MAX_FLEET_LUNS + 1, 1, 2, PR_TYPE_WRITE_EXCLUSIVE, NULL, &res, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`out`", pr_fleet_unfence(luns, 1, 1, NULL, NULL, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`key`", pr_fleet_unfence(luns, 1, 0, NULL, &res, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`type`", pr_fleet_fence(luns, 1, 1, 2, 0, NULL, &res, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`type`", pr_fleet_fence(luns, 1, 1, 2, 77, NULL, &res, err));
  pr_fleet_options o = {.cancel = NULL};
  o.cancel = (const pr_cancel *)NULL;
  BAD(PR_ERR_NULL_ARGUMENT, "`luns[1]`", pr_fleet_fence(luns, 2, 1, 2, 1, &o, &res, err));
  CHECK(res == SENTINEL);
  /* Zero LUNs is not an error: an empty result. */
  OK(pr_fleet_unfence(NULL, 0, 1, NULL, &res, err));
  CHECK(pr_fleet_result_count(res) == 0 && pr_fleet_result_failed_count(res) == 0);
  CHECK(pr_fleet_result_lun(res, 0) == NULL);
  CHECK(pr_fleet_result_status(res, 0) == PR_ERR_INVALID_ARGUMENT);
  CHECK(pr_fleet_result_error(res, 0) == NULL);
  CHECK(!pr_fleet_result_already_fenced(res, 0));
  pr_fleet_result_free(res);

  pr_cancel *c = SENTINEL;
  BAD(PR_ERR_NULL_ARGUMENT, "`out`", pr_cancel_new(NULL, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`cancel`", pr_cancel_cancel(NULL, err));
  CHECK(c == SENTINEL);
}

static void test_sim(void) {
  pr_sim *s = SENTINEL;
  BAD(PR_ERR_INVALID_ARGUMENT, "`target_ports`", pr_sim_new(0, &s, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`target_ports`", pr_sim_new(256, &s, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`out`", pr_sim_new(1, NULL, err));
  CHECK(s == SENTINEL);
  uint16_t l = 0x1234;
  uint32_t id = 0x1234;
  BAD(PR_ERR_NULL_ARGUMENT, "`sim`", pr_sim_add_lun(NULL, PR_SIM_SPC5, &l, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`personality`", pr_sim_add_lun(sim, 2, &l, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`lun`", pr_sim_add_lun(sim, PR_SIM_SPC5, NULL, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`transport_id`", pr_sim_add_initiator(sim, NULL, &id, err));
  BAD(PR_ERR_INVALID_TRANSPORT_ID, "`transport_id`", pr_sim_add_initiator(sim, "fcp,xyz", &id, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`initiator`", pr_sim_add_initiator(sim, "sas,5001405000000009", NULL, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`initiator`", pr_sim_add_path(sim, 99, 1, 0, NULL, &id, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`target_port`", pr_sim_add_path(sim, 0, 7, 0, NULL, &id, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`lun`", pr_sim_add_path(sim, 0, 1, 500, NULL, &id, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`path`", pr_sim_add_path(sim, 0, 1, 0, NULL, NULL, err));
  CHECK(l == 0x1234 && id == 0x1234);
  BAD(PR_ERR_INVALID_ARGUMENT, "`path`", pr_sim_path_set_down(sim, 5000, true, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`sim`", pr_sim_path_set_down(NULL, 0, true, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`fault`", pr_sim_path_inject(sim, path0, 0, 0, 0, 1, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`fault`", pr_sim_path_inject(sim, path0, 99, 0, 0, 1, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`count`",
      pr_sim_path_inject(sim, path0, PR_SIM_FAULT_BUSY, 0, 0, 0xffffffffu, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`path`", pr_sim_path_inject(sim, 0xffffffffu, 1, 0, 0, 1, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`path`", pr_sim_path_lose_replies(sim, 9, 1, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`path`", pr_sim_path_clear_faults(sim, 9, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`sim`", pr_sim_path_clear_faults(NULL, 0, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`lun`", pr_sim_lose_reservation(sim, 300, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`sim`", pr_sim_power_cycle(NULL, err));

  /* Clusters. */
  BAD(PR_ERR_INVALID_ARGUMENT, "`nodes`", pr_sim_cluster(0, 1, 1, PR_SIM_SPC5, &s, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`nodes`", pr_sim_cluster(256, 1, 1, PR_SIM_SPC5, &s, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`paths_per_node`", pr_sim_cluster(1, 0, 1, PR_SIM_SPC5, &s, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`luns`", pr_sim_cluster(1, 1, 65536, PR_SIM_SPC5, &s, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`luns`", pr_sim_cluster(255, 255, 65535, PR_SIM_SPC5, &s, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`luns`", pr_sim_cluster(1, 1, SIZE_MAX, PR_SIM_SPC5, &s, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`personality`", pr_sim_cluster(1, 1, 1, 5, &s, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`out`", pr_sim_cluster(1, 1, 1, PR_SIM_SPC5, NULL, err));
  CHECK(s == SENTINEL);
  pr_lun *cl = SENTINEL;
  BAD(PR_ERR_NULL_ARGUMENT, "`sim`", pr_sim_cluster_lun(NULL, 0, 0, &cl, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`sim`", pr_sim_cluster_lun(sim, 0, 0, &cl, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`sim`", pr_sim_cluster_path(sim, 0, 0, 0, &id, err));
  OK(pr_sim_cluster(2, 1, 1, PR_SIM_LIO, &s, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`node`", pr_sim_cluster_lun(s, 2, 0, &cl, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`node`", pr_sim_cluster_lun(s, SIZE_MAX, 0, &cl, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`lun`", pr_sim_cluster_lun(s, 0, 1, &cl, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`out`", pr_sim_cluster_lun(s, 0, 0, NULL, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`index`", pr_sim_cluster_path(s, 1, 0, 1, &id, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`lun`", pr_sim_cluster_path(s, 1, SIZE_MAX, 0, &id, err));
  BAD(PR_ERR_NULL_ARGUMENT, "`path`", pr_sim_cluster_path(s, 1, 0, 0, NULL, err));
  CHECK(cl == SENTINEL && id == 0x1234);
  OK(pr_sim_cluster_path(s, 1, 0, 0, &id, err));
  CHECK(id == 1);
  pr_sim_free(s);
}

static void test_log(void) {
  BAD(PR_ERR_INVALID_ARGUMENT, "`max_level`", pr_set_log_callback(NULL, NULL, -1, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`max_level`", pr_set_log_callback(NULL, NULL, PR_LOG_TRACE + 1, err));
  BAD(PR_ERR_INVALID_ARGUMENT, "`max_level`", pr_set_log_callback(NULL, NULL, 0x7fffffff, err));
  OK(pr_set_log_callback(NULL, NULL, PR_LOG_OFF, err)); /* off when never on: nothing */
}

static void test_getters_and_frees(void) {
  /* Getters on NULL return their neutral value. */
  CHECK(pr_device_name(NULL) == NULL);
  CHECK(pr_lun_name(NULL) == NULL);
  CHECK(pr_lun_path_count(NULL) == 0 && pr_lun_usable_path_count(NULL) == 0);
  CHECK(pr_keys_count(NULL) == 0 && pr_keys_generation(NULL) == 0 && pr_keys_path(NULL) == NULL);
  CHECK(!pr_reservation_is_held(NULL) && pr_reservation_key(NULL) == 0);
  CHECK(pr_reservation_type(NULL) == 0 && pr_reservation_scope(NULL) == 0);
  CHECK(pr_reservation_generation(NULL) == 0 && pr_reservation_path(NULL) == NULL);
  CHECK(pr_capabilities_flags(NULL) == 0 && pr_capabilities_type_mask(NULL) == 0);
  CHECK(pr_capabilities_allow_commands(NULL) == 0 && pr_capabilities_path(NULL) == NULL);
  CHECK(pr_full_status_count(NULL) == 0 && pr_full_status_generation(NULL) == 0);
  CHECK(pr_full_status_transport_id(NULL, 0) == NULL && pr_full_status_path(NULL) == NULL);
  size_t len = 3;
  CHECK(pr_full_status_transport_id_bytes(NULL, 0, &len) == NULL && len == 0);
  CHECK(pr_fleet_result_count(NULL) == 0 && pr_fleet_result_failed_count(NULL) == 0);
  CHECK(pr_fleet_result_lun(NULL, 0) == NULL && pr_fleet_result_error(NULL, 0) == NULL);
  CHECK(pr_fleet_result_status(NULL, 0) == PR_ERR_INVALID_ARGUMENT);
  CHECK(!pr_fleet_result_already_fenced(NULL, 0));
  CHECK(!pr_cancel_is_cancelled(NULL));
  CHECK(pr_error_code(NULL) == PR_ERR_INVALID_ARGUMENT);
  CHECK(pr_error_message(NULL) == NULL && pr_error_path(NULL) == NULL);
  CHECK(pr_error_scsi_status(NULL) == -1 && pr_error_sense_key(NULL) == -1);
  CHECK(pr_error_asc(NULL) == -1 && pr_error_ascq(NULL) == -1);
  len = 3;
  CHECK(pr_error_sense(NULL, &len) == NULL && len == 0);
  CHECK(pr_error_sense(NULL, NULL) == NULL);
  CHECK(pr_error_host_status(NULL) == 0 && pr_error_driver_status(NULL) == 0);
  CHECK(!pr_error_outcome_unknown(NULL) && pr_error_report(NULL) == NULL);
  CHECK(strcmp(pr_result_message(12345), "unknown result code") == 0);
  CHECK(strcmp(pr_result_message(0xffffffffu), "unknown result code") == 0);
  for (uint32_t code = 7000; code < 7500; code++) CHECK(pr_result_message(code) != NULL);

  /* Every free accepts NULL. */
  pr_error_free(NULL);
  pr_device_free(NULL);
  pr_lun_free(NULL);
  pr_sim_free(NULL);
  pr_cancel_free(NULL);
  pr_keys_free(NULL);
  pr_reservation_free(NULL);
  pr_capabilities_free(NULL);
  pr_full_status_free(NULL);
  pr_fleet_result_free(NULL);
}

int main(void) {
  setup();
  test_open();
  test_actions();
  test_fleet();
  test_sim();
  test_log();
  test_getters_and_frees();
  pr_device_free(dev);
  pr_lun_free(lun);
  pr_sim_free(sim);
  pr_library_exit();
  /* After exit, calls that need no runtime still fail cleanly, and a call that needs one
   * starts it again. */
  CHECK(pr_device_read_keys(NULL, NULL, NULL) == PR_ERR_NULL_ARGUMENT);
  pr_library_exit();
  printf("garbage: %d checks passed\n", checks_run);
  return 0;
}
