/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Tiny assertion helpers shared by the C tests of libpr_sdk. */
#ifndef PR_TEST_CHECK_H
#define PR_TEST_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int checks_run;

#define CHECK(cond)                                                                  \
  do {                                                                               \
    checks_run++;                                                                    \
    if (!(cond)) {                                                                   \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);     \
      exit(1);                                                                       \
    }                                                                                \
  } while (0)

/* Runs a call that must succeed; on failure prints the error object and exits. */
#define OK(call)                                                                     \
  do {                                                                               \
    pr_error *ok_err_ = NULL;                                                        \
    pr_error **err = &ok_err_;                                                       \
    pr_result ok_r_ = (call);                                                        \
    checks_run++;                                                                    \
    if (ok_r_ != PR_OK) {                                                            \
      fprintf(stderr, "%s:%d: %s returned %u (%s): %s\n", __FILE__, __LINE__, #call, \
              (unsigned)ok_r_, pr_result_message(ok_r_),                             \
              ok_err_ ? pr_error_message(ok_err_) : "(no error object)");            \
      exit(1);                                                                       \
    }                                                                                \
    if (ok_err_ != NULL) {                                                           \
      fprintf(stderr, "%s:%d: %s set an error on success\n", __FILE__, __LINE__,     \
              #call);                                                                \
      exit(1);                                                                       \
    }                                                                                \
  } while (0)

/* Runs a call that must fail with `code`; the error object goes to `e` (caller frees). */
#define FAILS(code, e, call)                                                         \
  do {                                                                               \
    pr_error **err = &(e);                                                           \
    (e) = NULL;                                                                      \
    pr_result f_r_ = (call);                                                         \
    checks_run++;                                                                    \
    if (f_r_ != (code)) {                                                            \
      fprintf(stderr, "%s:%d: %s returned %u (%s), expected %u: %s\n", __FILE__,     \
              __LINE__, #call, (unsigned)f_r_, pr_result_message(f_r_),              \
              (unsigned)(code), (e) ? pr_error_message(e) : "(no error object)");    \
      exit(1);                                                                       \
    }                                                                                \
    if ((e) == NULL || pr_error_code(e) != (code)) {                                 \
      fprintf(stderr, "%s:%d: %s: no matching error object\n", __FILE__, __LINE__,   \
              #call);                                                                \
      exit(1);                                                                       \
    }                                                                                \
  } while (0)

#endif
