/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * mpath_persist.h - declarations of the libmpathpersist-compatible ABI
 * provided by the pr-sdk bindings-c crate.
 *
 * This header is an independent re-declaration of the public libmpathpersist
 * interface (names, values, types and layouts), written for pr-sdk. It is
 * meant to be source- and binary-compatible with programs written against
 * libmpathpersist. It is not derived from the multipath-tools sources.
 *
 * Layout notes: natural alignment, no packing. On 64-bit targets:
 *   sizeof(struct prin_resp) == 8200, sizeof(struct prout_param_descriptor) == 8224.
 */
#ifndef PR_SDK_MPATH_PERSIST_H
#define PR_SDK_MPATH_PERSIST_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Buffer limits. */
#define MPATH_MAX_PARAM_LEN 8192 /* bytes in key_list / private_buffer */
#define MPATH_MX_TIDS 32         /* READ FULL STATUS descriptor pointers */
#define MPATH_MX_TID_LEN 256     /* bytes of a transport ID name */

/* PERSISTENT RESERVE IN service actions. */
#define MPATH_PRIN_RKEY_SA 0x00   /* READ KEYS */
#define MPATH_PRIN_RRES_SA 0x01   /* READ RESERVATION */
#define MPATH_PRIN_RCAP_SA 0x02   /* REPORT CAPABILITIES */
#define MPATH_PRIN_RFSTAT_SA 0x03 /* READ FULL STATUS */

/* PERSISTENT RESERVE OUT service actions. */
#define MPATH_PROUT_REG_SA 0x00     /* REGISTER */
#define MPATH_PROUT_RES_SA 0x01     /* RESERVE */
#define MPATH_PROUT_REL_SA 0x02     /* RELEASE */
#define MPATH_PROUT_CLEAR_SA 0x03   /* CLEAR */
#define MPATH_PROUT_PREE_SA 0x04    /* PREEMPT */
#define MPATH_PROUT_PREE_AB_SA 0x05 /* PREEMPT AND ABORT */
#define MPATH_PROUT_REG_IGN_SA 0x06 /* REGISTER AND IGNORE EXISTING KEY */
#define MPATH_PROUT_REG_MOV_SA 0x07 /* REGISTER AND MOVE */

/* Scope. */
#define MPATH_LU_SCOPE 0x00

/* Reservation types. */
#define MPATH_PRTPE_WE 0x01    /* Write Exclusive */
#define MPATH_PRTPE_EA 0x03    /* Exclusive Access */
#define MPATH_PRTPE_WE_RO 0x05 /* Write Exclusive, Registrants Only */
#define MPATH_PRTPE_EA_RO 0x06 /* Exclusive Access, Registrants Only */
#define MPATH_PRTPE_WE_AR 0x07 /* Write Exclusive, All Registrants */
#define MPATH_PRTPE_EA_AR 0x08 /* Exclusive Access, All Registrants */

/* Return codes. */
#define MPATH_PR_SKIP -1
#define MPATH_PR_SUCCESS 0
#define MPATH_PR_SYNTAX_ERROR 1
#define MPATH_PR_SENSE_NOT_READY 2
#define MPATH_PR_SENSE_MEDIUM_ERROR 3
#define MPATH_PR_SENSE_HARDWARE_ERROR 4
#define MPATH_PR_ILLEGAL_REQ 5
#define MPATH_PR_SENSE_UNIT_ATTENTION 6
#define MPATH_PR_SENSE_INVALID_OP 7
#define MPATH_PR_SENSE_ABORTED_COMMAND 8
#define MPATH_PR_NO_SENSE 9
#define MPATH_PR_SENSE_MALFORMED 10
#define MPATH_PR_RESERV_CONFLICT 11
#define MPATH_PR_FILE_ERROR 12
#define MPATH_PR_DMMP_ERROR 13
#define MPATH_PR_THREAD_ERROR 14
#define MPATH_PR_OTHER 15
#define MPATH_PR_RETRYABLE_ERROR 16    /* newer ABI revisions */
#define MPATH_PR_SUCCESS_UNREGISTER 17 /* internal, newer ABI revisions */

/* Masks for sa_flags and scope_type. */
#define MPATH_F_APTPL_MASK 0x01
#define MPATH_F_ALL_TG_PT_MASK 0x04
#define MPATH_F_SPEC_I_PT_MASK 0x08
#define MPATH_PR_TYPE_MASK 0x0f
#define MPATH_PR_SCOPE_MASK 0xf0

/* Transport ID protocol identifiers and (pre-shifted) iSCSI format codes. */
#define MPATH_PROTOCOL_ID_FC 0x00
#define MPATH_PROTOCOL_ID_ISCSI 0x05
#define MPATH_PROTOCOL_ID_SAS 0x06
#define MPATH_WWUI_DEVICE_NAME 0x00
#define MPATH_WWUI_PORT_IDENTIFIER 0x40

/* READ KEYS result; counters in CPU order, keys raw big-endian. */
struct prin_readdescr {
	uint32_t prgeneration;
	uint32_t additional_length;
	uint8_t key_list[MPATH_MAX_PARAM_LEN];
};

/* READ RESERVATION result. */
struct prin_resvdescr {
	uint32_t prgeneration;
	uint32_t additional_length;
	uint8_t key[8];
	uint32_t _obsolete;
	uint8_t _reserved;
	uint8_t scope_type; /* scope in bits 7:4, type in bits 3:0 */
	uint16_t _obsolete1;
};

/* REPORT CAPABILITIES result. */
struct prin_capdescr {
	uint16_t length;
	uint8_t flags[2];
	uint16_t pr_type_mask;
	uint16_t _reserved;
};

/* A SCSI transport identifier. */
struct transportid {
	uint8_t format_code; /* pre-shifted to bits 7:6 */
	uint8_t protocol_id;
	union {
		uint8_t n_port_name[8];
		uint8_t sas_address[8];
		uint8_t iscsi_name[MPATH_MX_TID_LEN];
	};
};

/* One READ FULL STATUS descriptor. flag: 0x02 all target ports, 0x01 holder. */
struct prin_fulldescr {
	uint8_t key[8];
	uint8_t flag;
	uint8_t scope_type;
	uint16_t rtpi;
	struct transportid trnptid;
};

/* READ FULL STATUS result: descriptors[] points into private_buffer. */
struct print_fulldescr_list {
	uint32_t prgeneration;
	uint32_t number_of_descriptor; /* count of descriptors[] */
	uint8_t private_buffer[MPATH_MAX_PARAM_LEN];
	struct prin_fulldescr *descriptors[];
};

/* The PR IN response buffer. */
struct prin_resp {
	union { /* untagged, as in the original ABI */
		struct prin_readdescr prin_readkeys;
		struct prin_resvdescr prin_readresv;
		struct prin_capdescr prin_readcap;
		struct print_fulldescr_list prin_readfd;
	} prin_descriptor;
};

/* The PR OUT parameters. */
struct prout_param_descriptor {
	uint8_t key[8];
	uint8_t sa_key[8];
	uint32_t _obsolete;
	uint8_t sa_flags;
	uint8_t _reserved;
	uint16_t _obsolete1;
	uint8_t private_buffer[MPATH_MAX_PARAM_LEN];
	uint32_t num_transportid;
	struct transportid *trnptid_list[];
};

/*
 * Functions of libmpathpersist.so.0 (LIBMPATHPERSIST_2.1.0 unless noted).
 * All return MPATH_PR_* codes unless noted. `fd` is an open descriptor of a
 * dm-multipath map (not a block device or closed: MPATH_PR_FILE_ERROR; another
 * block device: MPATH_PR_DMMP_ERROR). `noisy` dumps the PR IN response and the
 * PR OUT parameter list in hex on stderr; `verbose` sets the verbosity of messages
 * on stderr (0: only errors, 2: notices, 3: what each call did, 4: the per-path
 * report of every command).
 */

/* Library setup: 0 on success. Calling exit without init, or init again after
 * exit, is allowed. */
int libmpathpersist_init(void);
int libmpathpersist_exit(void);

/* Old setup calls: mpath_lib_init returns an opaque non-NULL pointer (NULL on
 * failure) that only mpath_lib_exit may receive. */
struct config;
struct config *mpath_lib_init(void);
int mpath_lib_exit(struct config *conf);

/* PR IN/OUT, self-contained (thread-safe). The PR IN result is written into the
 * structure of rq_servact only: allocate it with mpath_alloc_prin_response (below)
 * or as struct prin_resp followed by room for MPATH_MX_TIDS descriptor pointers:
 *   calloc(1, sizeof(struct prin_resp) +
 *             MPATH_MX_TIDS * sizeof(struct prin_fulldescr *))
 */
int mpath_persistent_reserve_in(int fd, int rq_servact, struct prin_resp *resp,
				int noisy, int verbose);
int mpath_persistent_reserve_out(int fd, int rq_servact, int rq_scope,
				 unsigned int rq_type,
				 struct prout_param_descriptor *paramp, int noisy,
				 int verbose);

/* The same after mpath_persistent_reserve_init_vecs(verbose) (LIBMPATHPERSIST_2.2.0;
 * the double-underscore names are the older spelling, LIBMPATHPERSIST_2.1.0). */
int mpath_persistent_reserve_init_vecs(int verbose);
void mpath_persistent_reserve_free_vecs(void);
int mpath_persistent_reserve_in__(int fd, int rq_servact, struct prin_resp *resp,
				  int noisy);
int mpath_persistent_reserve_out__(int fd, int rq_servact, int rq_scope,
				   unsigned int rq_type,
				   struct prout_param_descriptor *paramp,
				   int noisy);
int __mpath_persistent_reserve_in(int fd, int rq_servact, struct prin_resp *resp,
				  int noisy);
int __mpath_persistent_reserve_out(int fd, int rq_servact, int rq_scope,
				   unsigned int rq_type,
				   struct prout_param_descriptor *paramp,
				   int noisy);

/* When non-zero: the ALLOCATION LENGTH of every PR IN (capped at
 * MPATH_MAX_PARAM_LEN). */
extern unsigned int mpath_mx_alloc_len;

/* A zeroed buffer for the PR IN result of prin_sa (READ FULL STATUS: followed by
 * MPATH_MX_TIDS descriptor pointers), to be released with free(); NULL for an
 * unknown service action. An internal entry point of libmpathpersist
 * (__LIBMPATHPERSIST_INT_1.0.0 and __LIBMPATHPERSIST_INT_2.1.0), which
 * multipath-tools' own programs declare for themselves and Debian's header does
 * not declare. A program linked against this library binds it at
 * __LIBMPATHPERSIST_INT_2.1.0, a version Debian 12's libmpathpersist (0.9.4) does
 * not define: a program that must also run on that library allocates the result
 * with calloc as shown above. */
void *mpath_alloc_prin_response(int prin_sa);

#ifdef __cplusplus
}
#endif

#endif /* PR_SDK_MPATH_PERSIST_H */
