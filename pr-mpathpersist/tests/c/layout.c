/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Compile with: cc -std=c11 -fsyntax-only -I include tests/c/layout.c */
#include <mpath_persist.h>

#ifndef PR_SDK_MPATH_PERSIST_H
#error "expected pr-mpathpersist's include/mpath_persist.h (pass -I include)"
#endif

#include "layout_asserts.h"
