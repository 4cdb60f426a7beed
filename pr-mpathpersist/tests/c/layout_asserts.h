/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Layout and constant checks of the libmpathpersist ABI, shared by layout.c
 * (our include/mpath_persist.h) and system_layout.c (the installed header).
 * Include after a mpath_persist.h. Sizes and offsets are those of 64-bit
 * targets (x86_64 documented).
 */
#include <stddef.h>

#define PR_CHECK(expr) _Static_assert(expr, #expr)

/* Constants. */
PR_CHECK(MPATH_MAX_PARAM_LEN == 8192);
PR_CHECK(MPATH_MX_TIDS == 32);
PR_CHECK(MPATH_MX_TID_LEN == 256);
PR_CHECK(MPATH_PRIN_RKEY_SA == 0 && MPATH_PRIN_RRES_SA == 1);
PR_CHECK(MPATH_PRIN_RCAP_SA == 2 && MPATH_PRIN_RFSTAT_SA == 3);
PR_CHECK(MPATH_PROUT_REG_SA == 0 && MPATH_PROUT_RES_SA == 1);
PR_CHECK(MPATH_PROUT_REL_SA == 2 && MPATH_PROUT_CLEAR_SA == 3);
PR_CHECK(MPATH_PROUT_PREE_SA == 4 && MPATH_PROUT_PREE_AB_SA == 5);
PR_CHECK(MPATH_PROUT_REG_IGN_SA == 6 && MPATH_PROUT_REG_MOV_SA == 7);
PR_CHECK(MPATH_LU_SCOPE == 0);
PR_CHECK(MPATH_PRTPE_WE == 1 && MPATH_PRTPE_EA == 3 && MPATH_PRTPE_WE_RO == 5);
PR_CHECK(MPATH_PRTPE_EA_RO == 6 && MPATH_PRTPE_WE_AR == 7 && MPATH_PRTPE_EA_AR == 8);
PR_CHECK(MPATH_PR_SKIP == -1 && MPATH_PR_SUCCESS == 0 && MPATH_PR_SYNTAX_ERROR == 1);
PR_CHECK(MPATH_PR_SENSE_NOT_READY == 2 && MPATH_PR_SENSE_MEDIUM_ERROR == 3);
PR_CHECK(MPATH_PR_SENSE_HARDWARE_ERROR == 4 && MPATH_PR_ILLEGAL_REQ == 5);
PR_CHECK(MPATH_PR_SENSE_UNIT_ATTENTION == 6 && MPATH_PR_SENSE_INVALID_OP == 7);
PR_CHECK(MPATH_PR_SENSE_ABORTED_COMMAND == 8 && MPATH_PR_NO_SENSE == 9);
PR_CHECK(MPATH_PR_SENSE_MALFORMED == 10 && MPATH_PR_RESERV_CONFLICT == 11);
PR_CHECK(MPATH_PR_FILE_ERROR == 12 && MPATH_PR_DMMP_ERROR == 13);
PR_CHECK(MPATH_PR_THREAD_ERROR == 14 && MPATH_PR_OTHER == 15);
/* Only newer headers (0.13+) define these; older ones (Debian 12) do not. */
#ifdef MPATH_PR_RETRYABLE_ERROR
PR_CHECK(MPATH_PR_RETRYABLE_ERROR == 16);
#endif
#ifdef MPATH_PR_SUCCESS_UNREGISTER
PR_CHECK(MPATH_PR_SUCCESS_UNREGISTER == 17);
#endif
PR_CHECK(MPATH_F_APTPL_MASK == 0x01 && MPATH_F_ALL_TG_PT_MASK == 0x04);
PR_CHECK(MPATH_F_SPEC_I_PT_MASK == 0x08);
PR_CHECK(MPATH_PR_TYPE_MASK == 0x0f && MPATH_PR_SCOPE_MASK == 0xf0);
PR_CHECK(MPATH_PROTOCOL_ID_FC == 0 && MPATH_PROTOCOL_ID_ISCSI == 5);
PR_CHECK(MPATH_PROTOCOL_ID_SAS == 6);
PR_CHECK(MPATH_WWUI_DEVICE_NAME == 0 && MPATH_WWUI_PORT_IDENTIFIER == 0x40);

#if defined(__x86_64__) || defined(__LP64__)
/* struct prin_readdescr */
PR_CHECK(sizeof(struct prin_readdescr) == 8200 && _Alignof(struct prin_readdescr) == 4);
PR_CHECK(offsetof(struct prin_readdescr, prgeneration) == 0);
PR_CHECK(offsetof(struct prin_readdescr, additional_length) == 4);
PR_CHECK(offsetof(struct prin_readdescr, key_list) == 8);

/* struct prin_resvdescr */
PR_CHECK(sizeof(struct prin_resvdescr) == 24 && _Alignof(struct prin_resvdescr) == 4);
PR_CHECK(offsetof(struct prin_resvdescr, prgeneration) == 0);
PR_CHECK(offsetof(struct prin_resvdescr, additional_length) == 4);
PR_CHECK(offsetof(struct prin_resvdescr, key) == 8);
PR_CHECK(offsetof(struct prin_resvdescr, _obsolete) == 16);
PR_CHECK(offsetof(struct prin_resvdescr, _reserved) == 20);
PR_CHECK(offsetof(struct prin_resvdescr, scope_type) == 21);
PR_CHECK(offsetof(struct prin_resvdescr, _obsolete1) == 22);

/* struct prin_capdescr */
PR_CHECK(sizeof(struct prin_capdescr) == 8 && _Alignof(struct prin_capdescr) == 2);
PR_CHECK(offsetof(struct prin_capdescr, length) == 0);
PR_CHECK(offsetof(struct prin_capdescr, flags) == 2);
PR_CHECK(offsetof(struct prin_capdescr, pr_type_mask) == 4);
PR_CHECK(offsetof(struct prin_capdescr, _reserved) == 6);

/* struct transportid */
PR_CHECK(sizeof(struct transportid) == 258 && _Alignof(struct transportid) == 1);
PR_CHECK(offsetof(struct transportid, format_code) == 0);
PR_CHECK(offsetof(struct transportid, protocol_id) == 1);
PR_CHECK(offsetof(struct transportid, n_port_name) == 2);
PR_CHECK(offsetof(struct transportid, sas_address) == 2);
PR_CHECK(offsetof(struct transportid, iscsi_name) == 2);
PR_CHECK(sizeof(((struct transportid *)0)->iscsi_name) == 256);
PR_CHECK(sizeof(((struct transportid *)0)->n_port_name) == 8);

/* struct prin_fulldescr */
PR_CHECK(sizeof(struct prin_fulldescr) == 270 && _Alignof(struct prin_fulldescr) == 2);
PR_CHECK(offsetof(struct prin_fulldescr, key) == 0);
PR_CHECK(offsetof(struct prin_fulldescr, flag) == 8);
PR_CHECK(offsetof(struct prin_fulldescr, scope_type) == 9);
PR_CHECK(offsetof(struct prin_fulldescr, rtpi) == 10);
PR_CHECK(offsetof(struct prin_fulldescr, trnptid) == 12);

/* struct print_fulldescr_list */
PR_CHECK(sizeof(struct print_fulldescr_list) == 8200);
PR_CHECK(_Alignof(struct print_fulldescr_list) == 8);
PR_CHECK(offsetof(struct print_fulldescr_list, prgeneration) == 0);
PR_CHECK(offsetof(struct print_fulldescr_list, number_of_descriptor) == 4);
PR_CHECK(offsetof(struct print_fulldescr_list, private_buffer) == 8);
PR_CHECK(offsetof(struct print_fulldescr_list, descriptors) == 8200);

/* struct prin_resp and its (untagged) prin_descriptor union */
PR_CHECK(sizeof(struct prin_resp) == 8200 && _Alignof(struct prin_resp) == 8);
PR_CHECK(sizeof(((struct prin_resp *)0)->prin_descriptor) == 8200);
PR_CHECK(offsetof(struct prin_resp, prin_descriptor) == 0);
PR_CHECK(offsetof(struct prin_resp, prin_descriptor.prin_readkeys) == 0);
PR_CHECK(offsetof(struct prin_resp, prin_descriptor.prin_readresv) == 0);
PR_CHECK(offsetof(struct prin_resp, prin_descriptor.prin_readcap) == 0);
PR_CHECK(offsetof(struct prin_resp, prin_descriptor.prin_readfd) == 0);

/* struct prout_param_descriptor */
PR_CHECK(sizeof(struct prout_param_descriptor) == 8224);
PR_CHECK(_Alignof(struct prout_param_descriptor) == 8);
PR_CHECK(offsetof(struct prout_param_descriptor, key) == 0);
PR_CHECK(offsetof(struct prout_param_descriptor, sa_key) == 8);
PR_CHECK(offsetof(struct prout_param_descriptor, _obsolete) == 16);
PR_CHECK(offsetof(struct prout_param_descriptor, sa_flags) == 20);
PR_CHECK(offsetof(struct prout_param_descriptor, _reserved) == 21);
PR_CHECK(offsetof(struct prout_param_descriptor, _obsolete1) == 22);
PR_CHECK(offsetof(struct prout_param_descriptor, private_buffer) == 24);
PR_CHECK(offsetof(struct prout_param_descriptor, num_transportid) == 8216);
PR_CHECK(offsetof(struct prout_param_descriptor, trnptid_list) == 8224);
#else
#error "layout checks are written for 64-bit targets"
#endif
