//! GNU symbol versions of the exported names (cdylib build only, `cfg(pr_cdylib)`).
//!
//! rustc links a cdylib with its own anonymous version script, so a version script
//! cannot bind our symbols to nodes; `.symver` directives in the object code can (the
//! libpathrs recipe). `libmpathpersist.map` only defines the nodes; LLD is required.
//!
//! - `name@@NODE` makes NODE the default version of `name`.
//! - The internal names exist under two nodes: `__LIBMPATHPERSIST_INT_1.0.0`
//!   (multipath-tools up to 0.10, Debian 12's `mpathpersist` imports `dumpHex` and
//!   `mpath_alloc_prin_response` from it) and `__LIBMPATHPERSIST_INT_2.1.0` (0.13 and
//!   later, the default). A symbol can carry one version only, so each 1.0.0 binding is a
//!   small trampoline (`jmp` through the PLT to the real function) under a name that no
//!   version script exports (`pr_sdk_int1_*`, made local by `local: *`); only its
//!   `name@__LIBMPATHPERSIST_INT_1.0.0` alias is exported.
//! - `update_map_pr`, exported by 0.9.4 under `__LIBMPATHPERSIST_INT_1.0.0`, takes a
//!   libmultipath `struct multipath *` and is only called by multipathd: it is not
//!   provided (see the README).

#[cfg(all(pr_cdylib, target_arch = "x86_64"))]
std::arch::global_asm!(
    ".symver libmpathpersist_init, libmpathpersist_init@@LIBMPATHPERSIST_2.1.0",
    ".symver libmpathpersist_exit, libmpathpersist_exit@@LIBMPATHPERSIST_2.1.0",
    ".symver mpath_lib_init, mpath_lib_init@@LIBMPATHPERSIST_2.1.0",
    ".symver mpath_lib_exit, mpath_lib_exit@@LIBMPATHPERSIST_2.1.0",
    ".symver mpath_persistent_reserve_in, mpath_persistent_reserve_in@@LIBMPATHPERSIST_2.1.0",
    ".symver mpath_persistent_reserve_out, mpath_persistent_reserve_out@@LIBMPATHPERSIST_2.1.0",
    ".symver __mpath_persistent_reserve_in, __mpath_persistent_reserve_in@@LIBMPATHPERSIST_2.1.0",
    ".symver __mpath_persistent_reserve_out, __mpath_persistent_reserve_out@@LIBMPATHPERSIST_2.1.0",
    ".symver mpath_persistent_reserve_init_vecs, mpath_persistent_reserve_init_vecs@@LIBMPATHPERSIST_2.1.0",
    ".symver mpath_persistent_reserve_free_vecs, mpath_persistent_reserve_free_vecs@@LIBMPATHPERSIST_2.1.0",
    ".symver mpath_mx_alloc_len, mpath_mx_alloc_len@@LIBMPATHPERSIST_2.1.0",
    ".symver mpath_persistent_reserve_in__, mpath_persistent_reserve_in__@@LIBMPATHPERSIST_2.2.0",
    ".symver mpath_persistent_reserve_out__, mpath_persistent_reserve_out__@@LIBMPATHPERSIST_2.2.0",
    ".symver dumpHex, dumpHex@@__LIBMPATHPERSIST_INT_2.1.0",
    ".symver mpath_alloc_prin_response, mpath_alloc_prin_response@@__LIBMPATHPERSIST_INT_2.1.0",
    ".symver prin_do_scsi_ioctl, prin_do_scsi_ioctl@@__LIBMPATHPERSIST_INT_2.1.0",
    ".symver prout_do_scsi_ioctl, prout_do_scsi_ioctl@@__LIBMPATHPERSIST_INT_2.1.0",
    // The __LIBMPATHPERSIST_INT_1.0.0 bindings: trampolines.
    ".pushsection .text.pr_sdk_int1,\"ax\",@progbits",
    ".p2align 4",
    ".globl pr_sdk_int1_dumpHex",
    ".type pr_sdk_int1_dumpHex,@function",
    "pr_sdk_int1_dumpHex:",
    "    jmp {dump_hex}@PLT",
    ".size pr_sdk_int1_dumpHex, .-pr_sdk_int1_dumpHex",
    ".globl pr_sdk_int1_mpath_alloc_prin_response",
    ".type pr_sdk_int1_mpath_alloc_prin_response,@function",
    "pr_sdk_int1_mpath_alloc_prin_response:",
    "    jmp {alloc}@PLT",
    ".size pr_sdk_int1_mpath_alloc_prin_response, .-pr_sdk_int1_mpath_alloc_prin_response",
    ".globl pr_sdk_int1_prin_do_scsi_ioctl",
    ".type pr_sdk_int1_prin_do_scsi_ioctl,@function",
    "pr_sdk_int1_prin_do_scsi_ioctl:",
    "    jmp {prin}@PLT",
    ".size pr_sdk_int1_prin_do_scsi_ioctl, .-pr_sdk_int1_prin_do_scsi_ioctl",
    ".globl pr_sdk_int1_prout_do_scsi_ioctl",
    ".type pr_sdk_int1_prout_do_scsi_ioctl,@function",
    "pr_sdk_int1_prout_do_scsi_ioctl:",
    "    jmp {prout}@PLT",
    ".size pr_sdk_int1_prout_do_scsi_ioctl, .-pr_sdk_int1_prout_do_scsi_ioctl",
    ".popsection",
    ".symver pr_sdk_int1_dumpHex, dumpHex@__LIBMPATHPERSIST_INT_1.0.0",
    ".symver pr_sdk_int1_mpath_alloc_prin_response, mpath_alloc_prin_response@__LIBMPATHPERSIST_INT_1.0.0",
    ".symver pr_sdk_int1_prin_do_scsi_ioctl, prin_do_scsi_ioctl@__LIBMPATHPERSIST_INT_1.0.0",
    ".symver pr_sdk_int1_prout_do_scsi_ioctl, prout_do_scsi_ioctl@__LIBMPATHPERSIST_INT_1.0.0",
    dump_hex = sym super::entry::dumpHex,
    alloc = sym super::entry::mpath_alloc_prin_response,
    prin = sym super::entry::prin_do_scsi_ioctl,
    prout = sym super::entry::prout_do_scsi_ioctl,
);
