/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* The internal entry points (__LIBMPATHPERSIST_INT_*) that multipath-tools' own
 * programs declare for themselves; the C tests call them too. */
#ifndef PR_SDK_TEST_INTERNAL_H
#define PR_SDK_TEST_INTERNAL_H
#include <mpath_persist.h>
void dumpHex(const char *str, int len, int log);
void *mpath_alloc_prin_response(int prin_sa);
int prin_do_scsi_ioctl(char *dev, int rq_servact, struct prin_resp *resp, int noisy);
int prout_do_scsi_ioctl(char *dev, int rq_servact, int rq_scope, unsigned int rq_type,
			struct prout_param_descriptor *paramp, int noisy);
#endif
