/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Functional test of libprsdk on its simulator, no hardware: two cluster nodes, each with
 * two paths (two initiator ports, two target ports) to three shared LUNs, plus a LUN seen
 * by 40 initiators. Exercises every PR OUT and PR IN action through pr_lun and pr_device,
 * the error objects with sense data, many-LUN unfence/fence with progress and
 * cancellation, a simulated cluster from pr_sim_cluster, the log callback, fault injection
 * (path down, unit attention, NOT READY, BUSY, lost replies), concurrent calls from several
 * threads, fork(), and pr_library_exit.
 */
#include <pthread.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pr_sdk.h"
#include "check.h"

#define NLUNS 3
#define KEY_A 0xa1
#define KEY_B 0xb2

static const char *node_tid[2][2] = {
    {"sas,5001405000010000", "sas,5001405000010001"},
    {"sas,5001405000020000", "sas,5001405000020001"},
};

static pr_sim *sim;
static uint32_t path_id[2][NLUNS + 1][2]; /* [node][lun][port] */
static pr_lun *lun[2][NLUNS];             /* [node][lun] */

static size_t count_key(const pr_keys *k, uint64_t key) {
  size_t n = 0;
  for (size_t i = 0; i < pr_keys_count(k); i++) {
    uint64_t v = 0;
    OK(pr_keys_get(k, i, &v, err));
    if (v == key) n++;
  }
  return n;
}

static void expect_keys(const pr_lun *l, size_t total, uint64_t key, size_t with_key) {
  pr_keys *k = NULL;
  OK(pr_lun_read_keys(l, &k, err));
  if (pr_keys_count(k) != total || count_key(k, key) != with_key) {
    fprintf(stderr, "keys: %zu in all, %zu of %#" PRIx64 "; expected %zu and %zu\n",
            pr_keys_count(k), count_key(k, key), key, total, with_key);
    exit(1);
  }
  CHECK(pr_keys_path(k) != NULL && strlen(pr_keys_path(k)) > 0);
  pr_keys_free(k);
}

static void expect_holder(const pr_lun *l, uint64_t key, uint32_t type) {
  pr_reservation *r = NULL;
  OK(pr_lun_read_reservation(l, &r, err));
  CHECK(pr_reservation_is_held(r));
  CHECK(pr_reservation_key(r) == key);
  CHECK(pr_reservation_type(r) == type);
  CHECK(pr_reservation_scope(r) == 0);
  pr_reservation_free(r);
}

static void setup(void) {
  uint32_t init[2][2];
  OK(pr_sim_new(2, &sim, err));
  for (int l = 0; l <= NLUNS; l++) {
    uint16_t n = 0xffff;
    OK(pr_sim_add_lun(sim, PR_SIM_SPC5, &n, err));
    CHECK(n == l);
  }
  for (int node = 0; node < 2; node++)
    for (int p = 0; p < 2; p++) OK(pr_sim_add_initiator(sim, node_tid[node][p], &init[node][p], err));
  for (int node = 0; node < 2; node++) {
    for (int l = 0; l <= NLUNS; l++) {
      for (int p = 0; p < 2; p++) {
        char name[48];
        snprintf(name, sizeof name, "n%dp%dl%d", node, p, l);
        OK(pr_sim_add_path(sim, init[node][p], (uint16_t)(p + 1), (uint16_t)l, name,
                           &path_id[node][l][p], err));
      }
    }
    for (int l = 0; l < NLUNS; l++) {
      char name[48];
      snprintf(name, sizeof name, "lun%d", l);
      OK(pr_lun_open_sim(sim, name, path_id[node][l], 2, &lun[node][l], err));
      CHECK(strcmp(pr_lun_name(lun[node][l]), name) == 0);
      CHECK(pr_lun_path_count(lun[node][l]) == 2);
      CHECK(pr_lun_usable_path_count(lun[node][l]) == 2);
    }
  }
}

static void test_version(void) {
  char buf[64];
  snprintf(buf, sizeof buf, "%d.%d.%d", PR_SDK_VERSION_MAJOR, PR_SDK_VERSION_MINOR,
           PR_SDK_VERSION_PATCH);
  CHECK(strcmp(buf, pr_sdk_version()) == 0);
  CHECK(pr_sdk_version_number() == PR_SDK_VERSION_NUMBER);
  CHECK(PR_SDK_VERSION_NUMBER == ((PR_SDK_VERSION_MAJOR << 16) | (PR_SDK_VERSION_MINOR << 8) |
                                  PR_SDK_VERSION_PATCH));
  CHECK(strcmp(pr_result_message(PR_OK), "success") == 0);
  CHECK(strcmp(pr_result_message(PR_ERR_RESERVATION_CONFLICT), "reservation conflict") == 0);
  CHECK(strcmp(pr_result_message(424242), "unknown result code") == 0);
}

static void test_register_reserve(void) {
  OK(pr_lun_register(lun[0][0], 0, KEY_A, 0, err));
  OK(pr_lun_register(lun[1][0], 0, KEY_B, 0, err));
  expect_keys(lun[0][0], 4, KEY_A, 2);
  expect_keys(lun[1][0], 4, KEY_B, 2);

  OK(pr_lun_reserve(lun[0][0], KEY_A, PR_TYPE_WRITE_EXCLUSIVE_REG_ONLY, err));
  expect_holder(lun[1][0], KEY_A, PR_TYPE_WRITE_EXCLUSIVE_REG_ONLY);

  /* Another node's RESERVE of another type conflicts: the error keeps status and path. */
  pr_device *dev = NULL;
  OK(pr_device_open_sim(sim, path_id[1][0][0], &dev, err));
  CHECK(strcmp(pr_device_name(dev), "n1p0l0") == 0);
  pr_error *e = NULL;
  FAILS(PR_ERR_RESERVATION_CONFLICT, e,
        pr_device_reserve(dev, KEY_B, PR_TYPE_EXCLUSIVE_ACCESS, err));
  CHECK(pr_error_scsi_status(e) == 0x18);
  CHECK(pr_error_path(e) != NULL && strcmp(pr_error_path(e), "n1p0l0") == 0);
  CHECK(strstr(pr_error_message(e), "conflict") != NULL);
  CHECK(pr_error_sense_key(e) == -1);
  CHECK(!pr_error_outcome_unknown(e));
  pr_error_free(e);

  /* REGISTER with a wrong current key conflicts too. */
  FAILS(PR_ERR_RESERVATION_CONFLICT, e, pr_device_register(dev, 0x999, 0x1000, 0, err));
  pr_error_free(e);
  pr_device_free(dev);
}

static void test_capabilities(void) {
  pr_capabilities *c = NULL;
  OK(pr_lun_report_capabilities(lun[0][0], &c, err));
  uint16_t f = pr_capabilities_flags(c);
  CHECK(f & PR_CAP_TMV);
  CHECK(f & PR_CAP_RLR_C);
  CHECK(f & PR_CAP_SIP_C);
  CHECK(f & PR_CAP_ATP_C);
  CHECK(pr_capabilities_type_mask(c) == 0xea01);
  CHECK(pr_capabilities_allow_commands(c) == 1);
  CHECK(pr_capabilities_path(c) != NULL);
  pr_capabilities_free(c);
}

static void test_full_status(void) {
  pr_full_status *fs = NULL;
  OK(pr_lun_read_full_status(lun[0][0], &fs, err));
  CHECK(pr_full_status_count(fs) == 4);
  size_t holders = 0;
  for (size_t i = 0; i < pr_full_status_count(fs); i++) {
    pr_full_status_entry d;
    OK(pr_full_status_get(fs, i, &d, err));
    const char *tid = pr_full_status_transport_id(fs, i);
    size_t len = 0;
    const uint8_t *bytes = pr_full_status_transport_id_bytes(fs, i, &len);
    CHECK(tid != NULL && bytes != NULL && len == 24);
    CHECK(bytes[0] == 0x06); /* SAS */
    CHECK(d.relative_target_port == 1 || d.relative_target_port == 2);
    if (d.key == KEY_A) {
      CHECK(strncmp(tid, "sas,500140500001000", 19) == 0);
    } else {
      CHECK(d.key == KEY_B);
      CHECK(strncmp(tid, "sas,500140500002000", 19) == 0);
    }
    if (d.holder) {
      holders++;
      CHECK(d.key == KEY_A && d.type_ == PR_TYPE_WRITE_EXCLUSIVE_REG_ONLY);
    }
  }
  CHECK(holders == 1);
  pr_full_status_free(fs);
}

/* 40 registrants: more than the 32 descriptors libmpathpersist's structures can hold. */
static void test_full_status_no_cap(void) {
  enum { N = 40 };
  uint32_t paths[N];
  for (int i = 0; i < N; i++) {
    char tid[64];
    uint32_t init = 0;
    snprintf(tid, sizeof tid, "sas,50014050000300%02x", i);
    OK(pr_sim_add_initiator(sim, tid, &init, err));
    OK(pr_sim_add_path(sim, init, 1, NLUNS, NULL, &paths[i], err));
    pr_device *d = NULL;
    OK(pr_device_open_sim(sim, paths[i], &d, err));
    OK(pr_device_register(d, 0, 0x1000 + (uint64_t)i, PR_FLAG_APTPL, err));
    pr_device_free(d);
  }
  pr_device *d = NULL;
  OK(pr_device_open_sim(sim, paths[0], &d, err));
  pr_full_status *fs = NULL;
  OK(pr_device_read_full_status(d, &fs, err));
  CHECK(pr_full_status_count(fs) == N);
  for (size_t i = 0; i < N; i++) {
    pr_full_status_entry e;
    OK(pr_full_status_get(fs, i, &e, err));
    CHECK(e.key >= 0x1000 && e.key < 0x1000 + N);
    CHECK(pr_full_status_transport_id(fs, i) != NULL);
  }
  pr_keys *k = NULL;
  OK(pr_device_read_keys(d, &k, err));
  CHECK(pr_keys_count(k) == N);
  pr_keys_free(k);
  pr_capabilities *c = NULL;
  OK(pr_device_report_capabilities(d, &c, err));
  CHECK(pr_capabilities_flags(c) & PR_CAP_PTPL_A); /* APTPL was set by the registrations */
  pr_capabilities_free(c);
  /* CLEAR through a device: everything goes. */
  OK(pr_device_clear(d, 0x1000, err));
  OK(pr_device_read_keys(d, &k, err));
  CHECK(pr_keys_count(k) == 0);
  pr_keys_free(k);
  pr_full_status_free(fs);
  pr_device_free(d);
}

static void test_preempt_move_replace(void) {
  /* Node 1 fences node 0: PREEMPT AND ABORT takes the reservation and removes A's keys. */
  OK(pr_lun_preempt(lun[1][0], KEY_B, KEY_A, PR_TYPE_WRITE_EXCLUSIVE_REG_ONLY, true, err));
  expect_keys(lun[1][0], 2, KEY_B, 2);
  expect_holder(lun[0][0], KEY_B, PR_TYPE_WRITE_EXCLUSIVE_REG_ONLY);

  /* Node 0 is fenced: its REGISTER with the old key conflicts; the error has the report. */
  pr_error *e = NULL;
  FAILS(PR_ERR_RESERVATION_CONFLICT, e, pr_lun_register(lun[0][0], KEY_A, 0xa2, 0, err));
  CHECK(pr_error_report(e) != NULL);
  CHECK(pr_error_path(e) != NULL);
  pr_error_free(e);

  /* REGISTER AND MOVE: node 1 moves its reservation to node 0's first port (target port 1)
   * with key 0xa3, and stays registered. */
  OK(pr_lun_register_and_move(lun[1][0], KEY_B, 0xa3, PR_TYPE_WRITE_EXCLUSIVE_REG_ONLY,
                              node_tid[0][0], 1, 0, err));
  expect_holder(lun[0][0], 0xa3, PR_TYPE_WRITE_EXCLUSIVE_REG_ONLY);
  pr_full_status *fs = NULL;
  OK(pr_lun_read_full_status(lun[0][0], &fs, err));
  bool found = false;
  for (size_t i = 0; i < pr_full_status_count(fs); i++) {
    pr_full_status_entry d;
    OK(pr_full_status_get(fs, i, &d, err));
    if (d.holder) {
      found = true;
      CHECK(d.key == 0xa3 && d.relative_target_port == 1);
      CHECK(strcmp(pr_full_status_transport_id(fs, i), node_tid[0][0]) == 0);
    }
  }
  CHECK(found);
  pr_full_status_free(fs);

  /* The same through the generic call with PR_FLAG_UNREG: move back to node 1, port 2. */
  const char *tids[1] = {node_tid[1][1]};
  pr_out_params p;
  memset(&p, 0, sizeof p);
  p.key = 0xa3;
  p.sa_key = KEY_B;
  p.type_ = PR_TYPE_WRITE_EXCLUSIVE_REG_ONLY;
  p.flags = PR_FLAG_UNREG;
  p.transport_ids = tids;
  p.transport_id_count = 1;
  p.relative_target_port = 2;
  pr_device *d0 = NULL;
  OK(pr_device_open_sim(sim, path_id[0][0][0], &d0, err));
  OK(pr_device_out(d0, PR_OUT_REGISTER_AND_MOVE, &p, err));
  expect_holder(lun[1][0], KEY_B, PR_TYPE_WRITE_EXCLUSIVE_REG_ONLY);
  pr_device_free(d0);

  /* The LUN loses its PR state: commands fail with DATA PROTECT, 44h/01h (sense kept);
   * REPLACE LOST RESERVATION recovers. */
  OK(pr_sim_lose_reservation(sim, 0, err));
  FAILS(PR_ERR_CHECK_CONDITION, e, pr_lun_reserve(lun[1][0], KEY_B, PR_TYPE_WRITE_EXCLUSIVE, err));
  CHECK(pr_error_scsi_status(e) == 0x02);
  CHECK(pr_error_sense_key(e) == 0x7);
  CHECK(pr_error_asc(e) == 0x44 && pr_error_ascq(e) == 0x01);
  size_t slen = 0;
  const uint8_t *sense = pr_error_sense(e, &slen);
  CHECK(sense != NULL && slen >= 14);
  CHECK((sense[0] & 0x7f) == 0x70 || (sense[0] & 0x7f) == 0x72);
  pr_error_free(e);
  OK(pr_lun_replace_lost_reservation(lun[1][0], 0xb3, PR_TYPE_EXCLUSIVE_ACCESS_REG_ONLY, err));
  expect_holder(lun[0][0], 0xb3, PR_TYPE_EXCLUSIVE_ACCESS_REG_ONLY);
  expect_keys(lun[1][0], 2, 0xb3, 2);

  /* RELEASE and unregister. */
  OK(pr_lun_release(lun[1][0], 0xb3, PR_TYPE_EXCLUSIVE_ACCESS_REG_ONLY, err));
  pr_reservation *r = NULL;
  OK(pr_lun_read_reservation(lun[0][0], &r, err));
  CHECK(!pr_reservation_is_held(r) && pr_reservation_key(r) == 0 && pr_reservation_type(r) == 0);
  pr_reservation_free(r);
  OK(pr_lun_register(lun[1][0], 0xb3, 0, 0, err));
  expect_keys(lun[0][0], 0, 0, 0);
}

static void test_spec_i_pt_and_ignore(void) {
  /* Node 1 registers itself and, with SPEC_I_PT, node 0's second initiator port on LUN 2.
   * The TransportID names no target port, so the new registration is that initiator
   * through the target port that received the command (node 1's first path: port 1). */
  const char *tids[1] = {node_tid[0][1]};
  OK(pr_lun_register_spec_i_pt(lun[1][2], 0, KEY_B, 0, tids, 1, err));
  pr_full_status *fs = NULL;
  OK(pr_lun_read_full_status(lun[0][2], &fs, err));
  CHECK(pr_full_status_count(fs) == 3);
  size_t specified = 0;
  for (size_t i = 0; i < pr_full_status_count(fs); i++) {
    pr_full_status_entry d;
    OK(pr_full_status_get(fs, i, &d, err));
    CHECK(d.key == KEY_B);
    if (strcmp(pr_full_status_transport_id(fs, i), node_tid[0][1]) == 0) {
      specified++;
      CHECK(d.relative_target_port == 1);
    }
  }
  CHECK(specified == 1);
  pr_full_status_free(fs);
  /* REGISTER AND IGNORE EXISTING KEY: node 0's two paths now have 0xa7. */
  OK(pr_lun_register_ignore(lun[0][2], 0xa7, 0, err));
  expect_keys(lun[0][2], 5, 0xa7, 2);
  /* PREEMPT (without abort) of 0xa7 by B, then CLEAR. */
  OK(pr_lun_preempt(lun[1][2], KEY_B, 0xa7, PR_TYPE_WRITE_EXCLUSIVE, false, err));
  expect_keys(lun[1][2], 3, KEY_B, 3);
  OK(pr_lun_clear(lun[1][2], KEY_B, err));
  expect_keys(lun[1][2], 0, 0, 0);
}

/* Progress: on the calling thread, in order, once per LUN. */
struct progress {
  pthread_t caller;
  size_t calls;
  size_t last_done;
  size_t total;
  size_t ok;
  int cancel_after; /* cancel after this many calls (0: never) */
  bool wrong_thread;
};

static int on_progress(void *user, size_t done, size_t total, const char *l, pr_result outcome) {
  struct progress *p = user;
  if (!pthread_equal(pthread_self(), p->caller)) p->wrong_thread = true;
  p->calls++;
  CHECK(done == p->last_done + 1);
  p->last_done = done;
  p->total = total;
  CHECK(l != NULL && strncmp(l, "lun", 3) == 0);
  if (outcome == PR_OK) p->ok++;
  return p->cancel_after != 0 && (int)p->calls >= p->cancel_after;
}

static void test_fleet(void) {
  const pr_lun *node0[NLUNS] = {lun[0][0], lun[0][1], lun[0][2]};
  const pr_lun *node1[NLUNS] = {lun[1][0], lun[1][1], lun[1][2]};
  struct progress p = {.caller = pthread_self()};
  pr_fleet_options o = {.concurrency = 2, .progress = on_progress, .user_data = &p};
  pr_fleet_result *res = NULL;
  OK(pr_fleet_unfence(node0, NLUNS, 0xa5, &o, &res, err));
  CHECK(pr_fleet_result_count(res) == NLUNS && pr_fleet_result_failed_count(res) == 0);
  CHECK(p.calls == NLUNS && p.total == NLUNS && p.ok == NLUNS && !p.wrong_thread);
  for (size_t i = 0; i < NLUNS; i++) {
    CHECK(pr_fleet_result_status(res, i) == PR_OK);
    CHECK(pr_fleet_result_error(res, i) == NULL);
    CHECK(strcmp(pr_fleet_result_lun(res, i), pr_lun_name(node0[i])) == 0);
  }
  pr_fleet_result_free(res);
  OK(pr_fleet_unfence(node1, NLUNS, 0xb5, NULL, &res, err));
  pr_fleet_result_free(res);
  for (int l = 0; l < NLUNS; l++) expect_keys(lun[0][l], 4, 0xa5, 2);

  /* Node 1 reserves LUN 0, then fences node 0 everywhere. */
  OK(pr_lun_reserve(lun[1][0], 0xb5, PR_TYPE_WRITE_EXCLUSIVE_REG_ONLY, err));
  memset(&p, 0, sizeof p);
  p.caller = pthread_self();
  OK(pr_fleet_fence(node1, NLUNS, 0xb5, 0xa5, PR_TYPE_WRITE_EXCLUSIVE_REG_ONLY, &o, &res, err));
  CHECK(p.calls == NLUNS && p.ok == NLUNS);
  for (size_t i = 0; i < NLUNS; i++) CHECK(!pr_fleet_result_already_fenced(res, i));
  pr_fleet_result_free(res);
  for (int l = 0; l < NLUNS; l++) expect_keys(lun[1][l], 2, 0xb5, 2);

  /* Fencing is idempotent: a retry (here with PREEMPT) succeeds, every LUN already fenced. */
  pr_fleet_options op = {.concurrency = 2, .preempt_only = true};
  OK(pr_fleet_fence(node1, NLUNS, 0xb5, 0xa5, PR_TYPE_WRITE_EXCLUSIVE_REG_ONLY, &op, &res, err));
  CHECK(pr_fleet_result_failed_count(res) == 0);
  for (size_t i = 0; i < NLUNS; i++) {
    CHECK(pr_fleet_result_status(res, i) == PR_OK);
    CHECK(pr_fleet_result_already_fenced(res, i));
  }
  pr_fleet_result_free(res);
  for (int l = 0; l < NLUNS; l++) expect_keys(lun[1][l], 2, 0xb5, 2);

  /* Node 0, fenced, cannot fence back: every LUN fails with a conflict and its sense. */
  pr_error *e = NULL;
  FAILS(PR_ERR_FLEET_INCOMPLETE, e,
        pr_fleet_fence(node0, NLUNS, 0xa5, 0xb5, PR_TYPE_WRITE_EXCLUSIVE_REG_ONLY, NULL, &res, err));
  pr_error_free(e);
  CHECK(res != NULL && pr_fleet_result_failed_count(res) == NLUNS);
  for (size_t i = 0; i < NLUNS; i++) {
    CHECK(pr_fleet_result_status(res, i) == PR_ERR_RESERVATION_CONFLICT);
    const pr_error *le = pr_fleet_result_error(res, i);
    CHECK(le != NULL && pr_error_scsi_status(le) == 0x18);
    CHECK(pr_error_report(le) != NULL);
  }
  pr_fleet_result_free(res);

  /* A token cancelled before the call: nothing starts, every LUN says CANCELLED. */
  pr_cancel *c = NULL;
  OK(pr_cancel_new(&c, err));
  CHECK(!pr_cancel_is_cancelled(c));
  OK(pr_cancel_cancel(c, err));
  CHECK(pr_cancel_is_cancelled(c));
  pr_fleet_options oc = {.concurrency = 1, .cancel = c};
  FAILS(PR_ERR_FLEET_INCOMPLETE, e, pr_fleet_unfence(node1, NLUNS, 0xb6, &oc, &res, err));
  pr_error_free(e);
  CHECK(pr_fleet_result_failed_count(res) == NLUNS);
  for (size_t i = 0; i < NLUNS; i++) {
    CHECK(pr_fleet_result_status(res, i) == PR_ERR_CANCELLED);
    CHECK(pr_error_code(pr_fleet_result_error(res, i)) == PR_ERR_CANCELLED);
  }
  pr_fleet_result_free(res);
  pr_cancel_free(c);
  expect_keys(lun[1][0], 2, 0xb5, 2); /* nothing was sent */

  /* The progress callback cancels after the first LUN (one at a time). The operation does
   * not wait for the callback: the second LUN has started by then (made slow here by four
   * BUSY answers on each of its paths, 150 ms of backoff) and finishes; the third is not
   * started. */
  memset(&p, 0, sizeof p);
  p.caller = pthread_self();
  p.cancel_after = 1;
  for (int l = 1; l < NLUNS; l++)
    for (int q = 0; q < 2; q++)
      OK(pr_sim_path_inject(sim, path_id[1][l][q], PR_SIM_FAULT_BUSY, 0, 0, 4, err));
  pr_fleet_options o1 = {.concurrency = 1, .progress = on_progress, .user_data = &p};
  FAILS(PR_ERR_FLEET_INCOMPLETE, e, pr_fleet_unfence(node1, NLUNS, 0xb6, &o1, &res, err));
  pr_error_free(e);
  CHECK(pr_fleet_result_status(res, 0) == PR_OK);
  CHECK(pr_fleet_result_status(res, 1) == PR_OK);
  CHECK(pr_fleet_result_status(res, 2) == PR_ERR_CANCELLED);
  CHECK(pr_fleet_result_failed_count(res) == 1);
  CHECK(p.calls == NLUNS && p.ok == 2); /* cancelled LUNs are reported too */
  pr_fleet_result_free(res);
  for (int q = 0; q < 2; q++) OK(pr_sim_path_clear_faults(sim, path_id[1][2][q], err));
  expect_keys(lun[1][0], 2, 0xb6, 2);
  expect_keys(lun[1][1], 2, 0xb6, 2);
  expect_keys(lun[1][2], 2, 0xb5, 2);

  /* Clean up: node 1 releases and clears every LUN. */
  OK(pr_lun_clear(lun[1][0], 0xb6, err));
  OK(pr_lun_clear(lun[1][1], 0xb6, err));
  OK(pr_lun_clear(lun[1][2], 0xb5, err));
}

static void test_faults(void) {
  /* A path down: REGISTER still succeeds on the other path; the down path is marked
   * failed; a device on it reports PATH DOWN; reinstating registers it. */
  uint32_t down = path_id[0][1][0];
  OK(pr_sim_path_set_down(sim, down, true, err));
  OK(pr_lun_register(lun[0][1], 0, 0xa8, 0, err));
  CHECK(pr_lun_usable_path_count(lun[0][1]) == 1);
  expect_keys(lun[0][1], 1, 0xa8, 1);
  pr_device *d = NULL;
  OK(pr_device_open_sim(sim, down, &d, err));
  pr_error *e = NULL;
  pr_keys *k = (pr_keys *)0x1; /* sentinel: must stay untouched on failure */
  FAILS(PR_ERR_PATH_DOWN, e, pr_device_read_keys(d, &k, err));
  CHECK(k == (pr_keys *)0x1);
  CHECK(pr_error_outcome_unknown(e));
  CHECK(strcmp(pr_error_path(e), "n0p0l1") == 0);
  pr_error_free(e);
  OK(pr_sim_path_set_down(sim, down, false, err));
  OK(pr_lun_reinstate_path(lun[0][1], "n0p0l1", 0xa8, err));
  CHECK(pr_lun_usable_path_count(lun[0][1]) == 2);
  expect_keys(lun[0][1], 2, 0xa8, 2);

  /* Two unit attentions are retried away. */
  OK(pr_sim_path_inject(sim, down, PR_SIM_FAULT_UNIT_ATTENTION, 0x2a, 0x03, 2, err));
  k = NULL;
  OK(pr_device_read_keys(d, &k, err));
  CHECK(pr_keys_count(k) == 2);
  pr_keys_free(k);

  /* NOT READY, 04h/03h (manual intervention required) is not retried. */
  OK(pr_sim_path_inject(sim, down, PR_SIM_FAULT_NOT_READY, 0x04, 0x03, 1, err));
  FAILS(PR_ERR_NOT_READY, e, pr_device_read_keys(d, &k, err));
  CHECK(pr_error_sense_key(e) == 0x2 && pr_error_asc(e) == 0x04 && pr_error_ascq(e) == 0x03);
  CHECK(pr_error_scsi_status(e) == 0x02);
  pr_error_free(e);

  /* BUSY beyond the retries. */
  OK(pr_sim_path_inject(sim, down, PR_SIM_FAULT_BUSY, 0, 0, 10, err));
  FAILS(PR_ERR_SCSI_STATUS, e, pr_device_read_reservation(d, &(pr_reservation *){NULL}, err));
  CHECK(pr_error_scsi_status(e) == 0x08);
  pr_error_free(e);
  OK(pr_sim_path_clear_faults(sim, down, err));

  /* A lost reply: TIMEOUT, and the outcome is unknown (the REGISTER did happen). */
  OK(pr_sim_path_lose_replies(sim, down, 1, err));
  FAILS(PR_ERR_TIMEOUT, e, pr_device_register(d, 0xa8, 0xa9, 0, err));
  CHECK(pr_error_outcome_unknown(e));
  pr_error_free(e);
  OK(pr_device_register(d, 0xa9, 0, 0, err)); /* it did: 0xa9 unregisters */
  pr_device_free(d);

  /* Every path down: NO USABLE PATH or PATH DOWN, never success. */
  OK(pr_sim_path_set_down(sim, path_id[0][1][0], true, err));
  OK(pr_sim_path_set_down(sim, path_id[0][1][1], true, err));
  pr_result r = pr_lun_read_keys(lun[0][1], &k, &e);
  CHECK(r == PR_ERR_NO_USABLE_PATH || r == PR_ERR_PATH_DOWN);
  CHECK(e != NULL && pr_error_code(e) == r);
  pr_error_free(e);
  OK(pr_sim_path_clear_faults(sim, path_id[0][1][0], err));
  OK(pr_sim_path_clear_faults(sim, path_id[0][1][1], err));
  /* n0p0l1 was unregistered through the device above: reinstating registers it again. */
  OK(pr_lun_reinstate_path(lun[0][1], "n0p0l1", 0xa8, err));
  OK(pr_lun_reinstate_path(lun[0][1], "n0p1l1", 0, err));
  expect_keys(lun[0][1], 2, 0xa8, 2);
  OK(pr_lun_clear(lun[0][1], 0xa8, err));

  /* Power cycle: non-APTPL registrations vanish; the unit attention is retried away. */
  OK(pr_lun_register(lun[0][0], 0, 0xaa, 0, err));
  OK(pr_sim_power_cycle(sim, err));
  expect_keys(lun[0][0], 0, 0, 0);
}

/* The log callback: called on library threads, so it takes a lock. */
struct log_seen {
  pthread_mutex_t mu;
  size_t lines;
  bool read_keys_on_path; /* a line names READ KEYS and the path n0p0l0 */
  bool bad_level;
};

static void on_log(int level, const char *msg, void *user) {
  struct log_seen *s = user;
  pthread_mutex_lock(&s->mu);
  s->lines++;
  if (level < PR_LOG_ERROR || level > PR_LOG_DEBUG) s->bad_level = true;
  if (strstr(msg, "READ KEYS") != NULL && strstr(msg, "n0p0l0") != NULL) s->read_keys_on_path = true;
  pthread_mutex_unlock(&s->mu);
}

static struct log_seen seen = {.mu = PTHREAD_MUTEX_INITIALIZER};

static size_t log_lines(void) {
  pthread_mutex_lock(&seen.mu);
  size_t n = seen.lines;
  pthread_mutex_unlock(&seen.mu);
  return n;
}

/* pr_sim_cluster: two nodes with two paths each to two LUNs, each node's view of a LUN from
 * pr_sim_cluster_lun; the log of a READ KEYS names the path and the action. */
static void test_cluster_and_log(void) {
  pr_sim *c = NULL;
  OK(pr_sim_cluster(2, 2, 2, PR_SIM_SPC5, &c, err));
  pr_lun *a[2] = {NULL, NULL}, *b[2] = {NULL, NULL};
  for (int l = 0; l < 2; l++) {
    OK(pr_sim_cluster_lun(c, 0, (size_t)l, &a[l], err));
    OK(pr_sim_cluster_lun(c, 1, (size_t)l, &b[l], err));
  }
  CHECK(strcmp(pr_lun_name(a[1]), "lun1") == 0 && pr_lun_path_count(a[1]) == 2);

  OK(pr_set_log_callback(on_log, &seen, PR_LOG_DEBUG, err));
  OK(pr_lun_register(a[0], 0, 0xc1, 0, err));
  expect_keys(a[0], 2, 0xc1, 2);
  OK(pr_set_log_callback(NULL, NULL, PR_LOG_OFF, err));
  pthread_mutex_lock(&seen.mu);
  CHECK(seen.read_keys_on_path && !seen.bad_level && seen.lines >= 2);
  pthread_mutex_unlock(&seen.mu);
  size_t n = log_lines();
  expect_keys(b[0], 2, 0xc1, 2); /* the log is off: no more lines */
  CHECK(log_lines() == n);

  /* NULL callback: lines go to stderr (captured here in a file). */
  fflush(stderr);
  int saved = dup(2);
  FILE *f = tmpfile();
  CHECK(saved >= 0 && f != NULL);
  CHECK(dup2(fileno(f), 2) == 2);
  OK(pr_set_log_callback(NULL, NULL, PR_LOG_DEBUG, err));
  expect_keys(b[0], 2, 0xc1, 2);
  OK(pr_set_log_callback(NULL, NULL, PR_LOG_OFF, err));
  fflush(stderr);
  CHECK(dup2(saved, 2) == 2);
  close(saved);
  char text[4096] = {0};
  rewind(f);
  size_t got = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  CHECK(got > 0 && strstr(text, "prsdk: DEBUG: ") != NULL && strstr(text, "READ KEYS") != NULL);

  /* A cluster path by id: node 0's first path to LUN 1 goes down; node 0 registers through
   * the other one; node 1 fences node 0 on both LUNs. */
  uint32_t id = 0;
  OK(pr_sim_cluster_path(c, 0, 1, 0, &id, err));
  OK(pr_sim_path_set_down(c, id, true, err));
  OK(pr_lun_register(a[1], 0, 0xc1, 0, err));
  CHECK(pr_lun_usable_path_count(a[1]) == 1);
  OK(pr_lun_register(b[0], 0, 0xc2, 0, err));
  OK(pr_lun_register(b[1], 0, 0xc2, 0, err));
  OK(pr_lun_reserve(b[0], 0xc2, PR_TYPE_WRITE_EXCLUSIVE_REG_ONLY, err));
  const pr_lun *fence[2] = {b[0], b[1]};
  pr_fleet_result *res = NULL;
  OK(pr_fleet_fence(fence, 2, 0xc2, 0xc1, PR_TYPE_WRITE_EXCLUSIVE_REG_ONLY, NULL, &res, err));
  CHECK(pr_fleet_result_count(res) == 2 && pr_fleet_result_failed_count(res) == 0);
  pr_fleet_result_free(res);
  expect_keys(b[0], 2, 0xc2, 2);
  expect_keys(b[1], 2, 0xc2, 2);
  for (int l = 0; l < 2; l++) {
    pr_lun_free(a[l]);
    pr_lun_free(b[l]);
  }
  pr_sim_free(c);
}

/* Several threads at once, each with its own calls (handles are thread-safe). */
static void *reader(void *arg) {
  const pr_lun *l = arg;
  for (int i = 0; i < 50; i++) {
    pr_keys *k = NULL;
    if (pr_lun_read_keys(l, &k, NULL) != PR_OK) return (void *)1;
    pr_keys_free(k);
  }
  return NULL;
}

static void test_threads(void) {
  OK(pr_lun_register(lun[0][2], 0, 0xac, 0, err));
  pthread_t t[4];
  for (int i = 0; i < 4; i++) CHECK(pthread_create(&t[i], NULL, reader, lun[i % 2][2]) == 0);
  for (int i = 0; i < 4; i++) {
    void *ret = (void *)1;
    CHECK(pthread_join(t[i], &ret) == 0);
    CHECK(ret == NULL);
  }
  OK(pr_lun_clear(lun[0][2], 0xac, err));
}

/* fork(): the child gets no runtime thread; its first call starts one. Handles opened in
 * the parent work in the child. The child reports through a pipe, not its exit status:
 * under valgrind a forked child's exit status carries valgrind's verdict on memory that
 * belonged to the parent's threads (which do not exist in the child), a false positive of
 * fork() without exec() that test.sh silences with --child-silent-after-fork. */
static void test_fork(void) {
  pr_keys *k = NULL;
  OK(pr_lun_read_keys(lun[0][0], &k, err)); /* the parent's runtime is running */
  pr_keys_free(k);
  int fds[2];
  CHECK(pipe(fds) == 0);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    pr_keys *ck = NULL;
    int bad = pr_lun_register(lun[0][0], 0, 0xf0, 0, NULL) != PR_OK;
    bad |= pr_lun_read_keys(lun[0][0], &ck, NULL) != PR_OK;
    bad |= ck == NULL || pr_keys_count(ck) != 2;
    pr_keys_free(ck);
    bad |= pr_lun_register(lun[0][0], 0xf0, 0, 0, NULL) != PR_OK;
    pr_library_exit();
    char verdict = bad ? 'F' : 'K';
    ssize_t w = write(fds[1], &verdict, 1);
    _exit(w == 1 ? 0 : 1);
  }
  close(fds[1]);
  char verdict = 0;
  CHECK(read(fds[0], &verdict, 1) == 1);
  close(fds[0]);
  CHECK(verdict == 'K');
  int status = -1;
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  /* The parent's simulator is its own (the child changed a copy): still no keys here. */
  expect_keys(lun[0][0], 0, 0, 0);
}

int main(void) {
  test_version();
  setup();
  test_register_reserve();
  test_capabilities();
  test_full_status();
  test_full_status_no_cap();
  test_preempt_move_replace();
  test_spec_i_pt_and_ignore();
  test_fleet();
  test_cluster_and_log();
  test_faults();
  test_threads();
  test_fork();
  for (int node = 0; node < 2; node++)
    for (int l = 0; l < NLUNS; l++) pr_lun_free(lun[node][l]);
  pr_sim_free(sim);
  pr_library_exit();
  pr_library_exit(); /* twice is fine */
  /* The library starts again after exit. */
  pr_sim *s2 = NULL;
  uint16_t l0;
  uint32_t i0, p0;
  OK(pr_sim_new(1, &s2, err));
  OK(pr_sim_add_lun(s2, PR_SIM_LIO, &l0, err));
  OK(pr_sim_add_initiator(s2, "iqn.1994-05.com.example:node1,i,0x23d000000001", &i0, err));
  OK(pr_sim_add_path(s2, i0, 1, l0, "iscsi0", &p0, err));
  pr_device *d = NULL;
  OK(pr_device_open_sim(s2, p0, &d, err));
  OK(pr_device_register_ignore(d, 0x77, 0, err));
  pr_full_status *fs = NULL;
  OK(pr_device_read_full_status(d, &fs, err));
  CHECK(pr_full_status_count(fs) == 1);
  CHECK(strcmp(pr_full_status_transport_id(fs, 0),
               "iqn.1994-05.com.example:node1,i,0x23d000000001") == 0);
  pr_full_status_free(fs);
  OK(pr_device_release(d, 0x77, PR_TYPE_WRITE_EXCLUSIVE, err)); /* no reservation: no-op */
  /* LIO does not implement REPLACE LOST RESERVATION: ILLEGAL REQUEST, INVALID FIELD IN
   * CDB, with the sense data. */
  pr_error *e = NULL;
  FAILS(PR_ERR_ILLEGAL_REQUEST, e,
        pr_device_replace_lost_reservation(d, 0x78, PR_TYPE_WRITE_EXCLUSIVE, err));
  CHECK(pr_error_sense_key(e) == 0x5 && pr_error_asc(e) == 0x24);
  pr_error_free(e);
  OK(pr_device_register(d, 0x77, 0, 0, err));
  pr_keys *k = NULL;
  OK(pr_device_read_keys(d, &k, err));
  /* LIO does not count unregistering in PRgeneration (pr-sim DEPARTURES.md #2). */
  CHECK(pr_keys_count(k) == 0 && pr_keys_generation(k) == 1);
  pr_keys_free(k);
  pr_device_free(d);
  pr_sim_free(s2);
  pr_library_exit();
  printf("functional: %d checks passed\n", checks_run);
  return 0;
}
