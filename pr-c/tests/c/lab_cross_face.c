/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Node 1's side of the lab cross-face test (tests/tests/lab_cross_face.rs) through
 * libpr_sdk: one PR action on a real dm-multipath map per run, as Debian's mpathpersist
 * does through the drop-in libmpathpersist.so.0 in the other half of that test.
 *
 *   lab_cross_face MAP register NEW_KEY          pr_lun_register(lun, 0, NEW_KEY)
 *   lab_cross_face MAP reserve KEY TYPE          pr_lun_reserve
 *   lab_cross_face MAP fence KEY VICTIM TYPE     pr_fleet_fence, preempt_only (PREEMPT)
 *
 * MAP is what pr_lun_open takes (/dev/mapper/NAME); keys are numbers in C syntax (0x...).
 * Prints what the library answered on stdout (`paths=N usable=U`, then one line per
 * result); exit status 0 when the call returned PR_OK, 1 when it failed (the code and the
 * error message on stderr), 2 on bad usage or a header/library version mismatch. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pr_sdk.h"

static int usage(void) {
  fprintf(stderr,
          "usage: lab_cross_face MAP register NEW_KEY\n"
          "       lab_cross_face MAP reserve KEY TYPE\n"
          "       lab_cross_face MAP fence KEY VICTIM TYPE\n");
  return 2;
}

static bool number(const char *s, uint64_t *out) {
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 0);
  if (errno != 0 || end == s || *end != '\0' || s[0] == '-') return false;
  *out = (uint64_t)v;
  return true;
}

/* Prints the failure of `what` and frees the error object; returns the exit status 1. */
static int failed(const char *what, pr_result r, pr_error *err) {
  printf("%s: failed %u (%s)\n", what, (unsigned)r, pr_result_message(r));
  fprintf(stderr, "lab_cross_face: %s: %s\n", what,
          err != NULL ? pr_error_message(err) : "(no error object)");
  pr_error_free(err);
  return 1;
}

/* One fence (PREEMPT, not PREEMPT AND ABORT: the latter hangs LIO over tcm_loop). */
static int fence(const pr_lun *lun, uint64_t key, uint64_t victim, uint32_t type) {
  pr_error *err = NULL;
  pr_fleet_result *res = NULL;
  pr_fleet_options o;
  memset(&o, 0, sizeof o);
  o.preempt_only = true;
  const pr_lun *luns[1] = {lun};
  pr_result r = pr_fleet_fence(luns, 1, key, victim, type, &o, &res, &err);
  if (res == NULL) return failed("fence", r, err); /* bad arguments: nothing sent */
  int rc = r == PR_OK ? 0 : 1;
  for (size_t i = 0; i < pr_fleet_result_count(res); i++) {
    pr_result s = pr_fleet_result_status(res, i);
    if (s == PR_OK) {
      printf("fence %s: %s\n", pr_fleet_result_lun(res, i),
             pr_fleet_result_already_fenced(res, i) ? "already_fenced" : "ok");
    } else {
      const pr_error *e = pr_fleet_result_error(res, i);
      printf("fence %s: failed %u (%s)\n", pr_fleet_result_lun(res, i), (unsigned)s,
             pr_result_message(s));
      fprintf(stderr, "lab_cross_face: fence %s: %s\n", pr_fleet_result_lun(res, i),
              e != NULL ? pr_error_message(e) : "(no error object)");
      rc = 1;
    }
  }
  pr_error_free(err);
  pr_fleet_result_free(res);
  return rc;
}

int main(int argc, char **argv) {
  if (pr_sdk_version_number() != PR_SDK_VERSION_NUMBER) {
    fprintf(stderr, "lab_cross_face: libpr_sdk %s does not match pr_sdk.h (%u)\n",
            pr_sdk_version(), (unsigned)PR_SDK_VERSION_NUMBER);
    return 2;
  }
  if (argc < 4) return usage();
  const char *map = argv[1], *action = argv[2];
  uint64_t a = 0, b = 0, c = 0;
  int want = strcmp(action, "register") == 0 ? 1
             : strcmp(action, "reserve") == 0 ? 2
             : strcmp(action, "fence") == 0   ? 3
                                              : -1;
  if (want < 0 || argc != 3 + want || !number(argv[3], &a) ||
      (want >= 2 && !number(argv[4], &b)) || (want == 3 && !number(argv[5], &c)))
    return usage();

  pr_error *err = NULL;
  pr_lun *lun = NULL;
  pr_result r = pr_lun_open(map, 0, &lun, &err);
  if (r != PR_OK) return failed("open", r, err);
  printf("paths=%zu usable=%zu\n", pr_lun_path_count(lun), pr_lun_usable_path_count(lun));

  int rc = 0;
  if (want == 1) {
    r = pr_lun_register(lun, 0, a, 0, &err);
    if (r == PR_OK) printf("register: ok\n"); else rc = failed("register", r, err);
  } else if (want == 2) {
    if (b > UINT32_MAX) {
      rc = 2;
    } else {
      r = pr_lun_reserve(lun, a, (uint32_t)b, &err);
      if (r == PR_OK) printf("reserve: ok\n"); else rc = failed("reserve", r, err);
    }
  } else {
    rc = c > UINT32_MAX ? 2 : fence(lun, a, b, (uint32_t)c);
  }
  pr_lun_free(lun);
  pr_library_exit();
  return rc;
}
