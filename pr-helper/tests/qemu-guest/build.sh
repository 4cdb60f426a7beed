#!/bin/bash
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# Builds the SCSI pump (pump.c, start.S) into OUTDIR/pump.elf, a 32-bit multiboot ELF
# for qemu-system-x86_64 -kernel. Needs only gcc and binutils (no multilib: the program
# uses gcc's own stdint.h/stddef.h and no library). Rebuilds only when a source changed.
#   build.sh OUTDIR
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:?usage: build.sh OUTDIR}
mkdir -p "$out"
elf=$out/pump.elf
if [ -f "$elf" ] && [ -z "$(find "$src" -newer "$elf" -type f \( -name '*.c' -o -name '*.S' -o -name '*.ld' -o -name build.sh \))" ]; then
  exit 0
fi
cflags=(-m32 -march=i686 -ffreestanding -nostdlib -fno-pic -fno-pie -static -O2 -Wall -Wextra -Werror
        -fno-stack-protector -fno-asynchronous-unwind-tables -mno-sse -mno-mmx -mno-80387)
gcc "${cflags[@]}" -c "$src/pump.c" -o "$out/pump.o"
gcc "${cflags[@]}" -c "$src/start.S" -o "$out/start.o"
ld -m elf_i386 -nostdlib -static -z noexecstack --no-warn-rwx-segments -T "$src/link.ld" -o "$elf.tmp" "$out/start.o" "$out/pump.o"
mv "$elf.tmp" "$elf"
