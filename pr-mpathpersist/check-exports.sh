#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# pr-mpathpersist/check-exports.sh LIB - check that LIB (the built libmpathpersist.so) has the
# SONAME libmpathpersist.so.0 and exports exactly the symbols of libmpathpersist.exports,
# each at its version node ("@@" default, "@" compatibility) and of its kind (function or
# data object), and nothing else. Exit 0 when it does; otherwise lists every difference.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lib=${1:?usage: check-exports.sh path/to/libmpathpersist.so}
[ -f "$lib" ] || { echo "check-exports.sh: $lib: no such file" >&2; exit 1; }
list=$here/libmpathpersist.exports
fail=0

soname=$(readelf -dW "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [ "$soname" != libmpathpersist.so.0 ]; then
  echo "check-exports.sh: SONAME is '${soname:-none}', want libmpathpersist.so.0" >&2
  fail=1
fi

want=$(grep -v '^\s*#' "$list" | awk 'NF { printf "%s%s %s\n", $1, $2, $3 }' | sort)
# readelf --dyn-syms -W: Num Value Size Type Bind Vis Ndx Name[@[@]VERSION]; keep the
# defined (Ndx not UND), global or weak, non-ABS (version node marker) entries.
got=$(readelf --dyn-syms -W "$lib" | awk '
  $1 ~ /^[0-9]+:$/ && $7 != "UND" && $7 != "ABS" && ($5 == "GLOBAL" || $5 == "WEAK") {
    kind = ($4 == "FUNC") ? "F" : (($4 == "OBJECT") ? "O" : $4)
    name = $8
    if (name !~ /@/) name = name "@<unversioned>"
    print name, kind
  }' | sort)

missing=$(comm -23 <(echo "$want") <(echo "$got"))
extra=$(comm -13 <(echo "$want") <(echo "$got"))
if [ -n "$missing" ]; then
  echo "check-exports.sh: MISSING from $lib:" >&2; sed 's/^/  /' <<<"$missing" >&2; fail=1
fi
if [ -n "$extra" ]; then
  echo "check-exports.sh: EXPORTED but not in libmpathpersist.exports:" >&2
  sed 's/^/  /' <<<"$extra" >&2; fail=1
fi
# the data object is 4 bytes, like an unsigned int
size=$(readelf --dyn-syms -W "$lib" | awk '$8 ~ /^mpath_mx_alloc_len@/ { print $3 }')
if [ "$size" != 4 ]; then echo "check-exports.sh: mpath_mx_alloc_len has size '${size:-?}', want 4" >&2; fail=1; fi
verdefs=$(readelf -VW "$lib")
for node in LIBMPATHPERSIST_2.1.0 LIBMPATHPERSIST_2.2.0 __LIBMPATHPERSIST_INT_1.0.0 __LIBMPATHPERSIST_INT_2.1.0; do
  grep -q "Name: $node\$" <<<"$verdefs" || { echo "check-exports.sh: no version definition $node" >&2; fail=1; }
done
if ((fail)); then exit 1; fi
echo "check-exports.sh: $lib: SONAME libmpathpersist.so.0, $(wc -l <<<"$got") symbols, exactly as in libmpathpersist.exports"
