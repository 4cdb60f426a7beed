/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* The cross-face scenario through libpr_sdk; prints the dump that tests/cross-face.sh
 * compares with the Rust (async and blocking) and Python faces' (see
 * tests/src/cross_face.rs for the scenario and the dump's format). */
#include <stdbool.h>
#include <stdio.h>

#include "check.h"
#include "pr_sdk.h"

#define NODES 2
#define PATHS 2
#define NLUNS 3
#define KEY1 0x1111
#define KEY2 0x2222

static const char *outcome_word(const pr_fleet_result *r, size_t i) {
  if (pr_fleet_result_status(r, i) != PR_OK) return pr_result_message(pr_fleet_result_status(r, i));
  return pr_fleet_result_already_fenced(r, i) ? "already_fenced" : "ok";
}

int main(void) {
  pr_sim *sim = NULL;
  pr_lun *lun[NODES][NLUNS];
  OK(pr_sim_cluster(NODES, PATHS, NLUNS, PR_SIM_SPC5, &sim, err));
  for (size_t n = 0; n < NODES; n++)
    for (size_t l = 0; l < NLUNS; l++) OK(pr_sim_cluster_lun(sim, n, l, &lun[n][l], err));
  const pr_lun *node1[NLUNS] = {lun[0][0], lun[0][1], lun[0][2]};
  const pr_lun *node2[NLUNS] = {lun[1][0], lun[1][1], lun[1][2]};
  pr_fleet_result *res = NULL;
  OK(pr_fleet_unfence(node1, NLUNS, KEY1, NULL, &res, err));
  pr_fleet_result_free(res);
  OK(pr_fleet_unfence(node2, NLUNS, KEY2, NULL, &res, err));
  pr_fleet_result_free(res);
  for (size_t l = 0; l < NLUNS; l++)
    OK(pr_lun_reserve(lun[0][l], KEY1, PR_TYPE_WRITE_EXCLUSIVE_REG_ONLY, err));
  for (size_t l = 0; l < NLUNS; l++) {
    uint32_t path = 0;
    OK(pr_sim_cluster_path(sim, 0, l, 0, &path, err));
    OK(pr_sim_path_set_down(sim, path, true, err));
  }
  pr_fleet_options o = {.preempt_only = true};
  const char *rounds[2] = {"fence1", "fence2"};
  for (int k = 0; k < 2; k++) {
    pr_error *e = NULL;
    pr_result r = pr_fleet_fence(node2, NLUNS, KEY2, KEY1, PR_TYPE_WRITE_EXCLUSIVE_REG_ONLY, &o,
                                 &res, &e);
    CHECK(r == PR_OK || r == PR_ERR_FLEET_INCOMPLETE);
    pr_error_free(e);
    for (size_t i = 0; i < pr_fleet_result_count(res); i++)
      printf("%s lun%zu %s\n", rounds[k], i, outcome_word(res, i));
    pr_fleet_result_free(res);
  }
  for (size_t l = 0; l < NLUNS; l++) {
    pr_full_status *fs = NULL;
    OK(pr_lun_read_full_status(lun[1][l], &fs, err));
    printf("rfs lun%zu generation=%u\n", l, pr_full_status_generation(fs));
    for (size_t i = 0; i < pr_full_status_count(fs); i++) {
      pr_full_status_entry e;
      OK(pr_full_status_get(fs, i, &e, err));
      size_t len = 0;
      const uint8_t *tid = pr_full_status_transport_id_bytes(fs, i, &len);
      printf("rfs lun%zu key=0x%" PRIx64 " all_tg_pt=%d holder=%d type=%u rtpi=%u tid=", l, e.key,
             e.all_tg_pt ? 1 : 0, e.holder ? 1 : 0, (unsigned)e.type_, (unsigned)e.relative_target_port);
      for (size_t b = 0; b < len; b++) printf("%02x", tid[b]);
      printf("\n");
    }
    pr_full_status_free(fs);
  }
  for (size_t n = 0; n < NODES; n++)
    for (size_t l = 0; l < NLUNS; l++) pr_lun_free(lun[n][l]);
  pr_sim_free(sim);
  pr_library_exit();
  return 0;
}
