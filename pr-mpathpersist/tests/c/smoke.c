/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Functional test of libmpathpersist.so.0 on a real dm-multipath map (the lab):
 *   smoke MAP NPATHS KEY
 * with multipath.conf's "reservation_key file" (the lab's). Registers KEY on every
 * path (REGISTER AND IGNORE), reads keys, reserves (type 5), reads the reservation,
 * the capabilities and the full status into buffers of exactly the size
 * mpath_alloc_prin_response gives (so an overflow is an ASAN/valgrind error), checks
 * mpath_mx_alloc_len, a key mismatch, release, and unregisters. Exit 0 when every
 * check passed. Leaves the LUN without registrations.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static int failures, checks;

#define EXPECT(what, got, want)                                                        \
	do {                                                                           \
		long long g_ = (long long)(got), w_ = (long long)(want);               \
		checks++;                                                              \
		if (g_ != w_) {                                                        \
			failures++;                                                    \
			fprintf(stderr, "FAIL %s:%d: %s = %lld (0x%llx), want %lld (0x%llx)\n", \
				__FILE__, __LINE__, what, g_, (unsigned long long)g_, w_,  \
				(unsigned long long)w_);                               \
		}                                                                      \
	} while (0)

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = v & 0xff;
		v >>= 8;
	}
}

static int out(int fd, int sa, unsigned type, uint64_t key, uint64_t sa_key)
{
	struct prout_param_descriptor *p = calloc(1, sizeof(*p));
	put_be64(p->key, key);
	put_be64(p->sa_key, sa_key);
	int rc = __mpath_persistent_reserve_out(fd, sa, 0, type, p, 0);
	free(p);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: smoke MAP NPATHS KEY\n");
		return 2;
	}
	int npaths = atoi(argv[2]);
	uint64_t key = strtoull(argv[3], NULL, 0);
	int fd = open(argv[1], O_RDONLY);
	if (fd < 0) {
		perror(argv[1]);
		return 2;
	}
	EXPECT("init", libmpathpersist_init(), 0);
	EXPECT("init_vecs", mpath_persistent_reserve_init_vecs(0), 0);

	EXPECT("register-ignore", out(fd, MPATH_PROUT_REG_IGN_SA, 0, 0, key), MPATH_PR_SUCCESS);

	struct prin_resp *rk = mpath_alloc_prin_response(MPATH_PRIN_RKEY_SA);
	EXPECT("read keys", __mpath_persistent_reserve_in(fd, MPATH_PRIN_RKEY_SA, rk, 0),
	       MPATH_PR_SUCCESS);
	EXPECT("additional length = 8 x paths",
	       rk->prin_descriptor.prin_readkeys.additional_length, 8 * npaths);
	for (int i = 0; i < npaths; i++)
		EXPECT("key i", be64(&rk->prin_descriptor.prin_readkeys.key_list[8 * i]), key);

	/* mpath_mx_alloc_len: 16 bytes = header + one key; the rest stays zero. */
	memset(rk, 0x5a, sizeof(struct prin_readdescr));
	mpath_mx_alloc_len = 16;
	EXPECT("read keys, alloc 16",
	       mpath_persistent_reserve_in(fd, MPATH_PRIN_RKEY_SA, rk, 0, 0), MPATH_PR_SUCCESS);
	mpath_mx_alloc_len = 0;
	EXPECT("alloc 16: additional length still reported",
	       rk->prin_descriptor.prin_readkeys.additional_length, 8 * npaths);
	EXPECT("alloc 16: first key", be64(rk->prin_descriptor.prin_readkeys.key_list), key);
	if (npaths > 1)
		EXPECT("alloc 16: second key not transferred",
		       be64(&rk->prin_descriptor.prin_readkeys.key_list[8]), 0);
	free(rk);

	EXPECT("reserve", out(fd, MPATH_PROUT_RES_SA, MPATH_PRTPE_WE_RO, key, 0), MPATH_PR_SUCCESS);
	EXPECT("reserve with a key that is not the configured one",
	       out(fd, MPATH_PROUT_RES_SA, MPATH_PRTPE_WE_RO, key + 1, 0), MPATH_PR_SYNTAX_ERROR);

	/* 24 bytes, as mpath_alloc_prin_response allocates for READ RESERVATION */
	struct prin_resp *rr = mpath_alloc_prin_response(MPATH_PRIN_RRES_SA);
	EXPECT("read reservation",
	       mpath_persistent_reserve_in__(fd, MPATH_PRIN_RRES_SA, rr, 1), MPATH_PR_SUCCESS);
	EXPECT("reservation additional length", rr->prin_descriptor.prin_readresv.additional_length, 16);
	EXPECT("reservation key", be64(rr->prin_descriptor.prin_readresv.key), key);
	EXPECT("reservation scope/type", rr->prin_descriptor.prin_readresv.scope_type, 0x05);
	free(rr);

	/* 8 bytes */
	struct prin_resp *rc = mpath_alloc_prin_response(MPATH_PRIN_RCAP_SA);
	EXPECT("report capabilities",
	       mpath_persistent_reserve_in(fd, MPATH_PRIN_RCAP_SA, rc, 0, 0), MPATH_PR_SUCCESS);
	EXPECT("capabilities length (CPU order)", rc->prin_descriptor.prin_readcap.length, 8);
	EXPECT("type mask valid", !!(rc->prin_descriptor.prin_readcap.flags[1] & 0x80), 1);
	free(rc);

	struct prin_resp *fs = mpath_alloc_prin_response(MPATH_PRIN_RFSTAT_SA);
	EXPECT("read full status",
	       mpath_persistent_reserve_in(fd, MPATH_PRIN_RFSTAT_SA, fs, 0, 0), MPATH_PR_SUCCESS);
	struct print_fulldescr_list *l = &fs->prin_descriptor.prin_readfd;
	EXPECT("descriptor count", l->number_of_descriptor, npaths);
	int holders = 0;
	for (uint32_t i = 0; i < l->number_of_descriptor && i < MPATH_MX_TIDS; i++) {
		struct prin_fulldescr *d = l->descriptors[i];
		EXPECT("descriptor points into private_buffer",
		       (uint8_t *)d >= l->private_buffer &&
			       (uint8_t *)d + sizeof(*d) <= l->private_buffer + MPATH_MAX_PARAM_LEN,
		       1);
		EXPECT("descriptor key", be64(d->key), key);
		if (d->flag & 0x01) {
			holders++;
			EXPECT("holder scope/type", d->scope_type, 0x05);
		}
		EXPECT("transport id protocol is SAS or iSCSI",
		       d->trnptid.protocol_id == MPATH_PROTOCOL_ID_SAS ||
			       d->trnptid.protocol_id == MPATH_PROTOCOL_ID_ISCSI,
		       1);
	}
	EXPECT("one holder (type 5)", holders, 1);
	free(fs);

	EXPECT("release", out(fd, MPATH_PROUT_REL_SA, MPATH_PRTPE_WE_RO, key, 0), MPATH_PR_SUCCESS);
	rr = mpath_alloc_prin_response(MPATH_PRIN_RRES_SA);
	EXPECT("read reservation", mpath_persistent_reserve_in__(fd, MPATH_PRIN_RRES_SA, rr, 0),
	       MPATH_PR_SUCCESS);
	EXPECT("no reservation after release", rr->prin_descriptor.prin_readresv.additional_length, 0);
	free(rr);

	EXPECT("unregister", out(fd, MPATH_PROUT_REG_IGN_SA, 0, key, 0), MPATH_PR_SUCCESS);
	rk = mpath_alloc_prin_response(MPATH_PRIN_RKEY_SA);
	EXPECT("read keys", __mpath_persistent_reserve_in(fd, MPATH_PRIN_RKEY_SA, rk, 0),
	       MPATH_PR_SUCCESS);
	EXPECT("no keys after unregister", rk->prin_descriptor.prin_readkeys.additional_length, 0);
	free(rk);

	mpath_persistent_reserve_free_vecs();
	EXPECT("exit", libmpathpersist_exit(), 0);
	close(fd);
	printf("smoke: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
