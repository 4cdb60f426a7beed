/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Negative control for test.sh: this program leaks a READ KEYS result on purpose
 * (PR_LEAK_CONTROL=leak) or writes past a library string (=overflow). AddressSanitizer and
 * valgrind must both fail it; if they do not, the harness could not catch a real leak or
 * overflow either, and test.sh fails.
 */
#include <stdlib.h>
#include <string.h>

#include "pr_sdk.h"

int main(void) {
  const char *mode = getenv("PR_LEAK_CONTROL");
  pr_sim *sim = NULL;
  pr_device *dev = NULL;
  pr_keys *keys = NULL;
  uint16_t lun;
  uint32_t init, path;
  if (pr_sim_new(1, &sim, NULL) != PR_OK || pr_sim_add_lun(sim, PR_SIM_SPC5, &lun, NULL) != PR_OK ||
      pr_sim_add_initiator(sim, "sas,5001405000000001", &init, NULL) != PR_OK ||
      pr_sim_add_path(sim, init, 1, lun, "p", &path, NULL) != PR_OK ||
      pr_device_open_sim(sim, path, &dev, NULL) != PR_OK ||
      pr_device_read_keys(dev, &keys, NULL) != PR_OK)
    return 2;
  if (mode != NULL && strcmp(mode, "overflow") == 0) {
    char *copy = malloc(strlen(pr_device_name(dev)));
    strcpy(copy, pr_device_name(dev)); /* one byte too many */
    free(copy);
  }
  if (mode == NULL || strcmp(mode, "leak") != 0) pr_keys_free(keys);
  keys = NULL;
  pr_device_free(dev);
  pr_sim_free(sim);
  pr_library_exit();
  return 0;
}
