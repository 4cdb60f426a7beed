/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The same checks against the system's libmpathpersist header
 * (/usr/include/mpath_persist.h). Compile WITHOUT -I include:
 *   cc -std=gnu11 -fsyntax-only tests/c/system_layout.c
 */
#include <mpath_persist.h>

#ifdef PR_SDK_MPATH_PERSIST_H
#error "picked up pr-mpathpersist's header instead of the system one"
#endif

#include "layout_asserts.h"
