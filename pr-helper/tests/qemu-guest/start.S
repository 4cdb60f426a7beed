/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Multiboot v1 header and entry of the SCSI pump (see pump.c). QEMU's -kernel loader
 * enters here in 32-bit protected mode, paging off, interrupts off. */
        .section .multiboot, "a"
        .align 4
        .long 0x1BADB002                /* magic */
        .long 0                         /* flags: an ELF image, no extra fields */
        .long -(0x1BADB002 + 0)         /* checksum */

        .section .text
        .globl _start
_start:
        cli
        mov $stack_top, %esp
        /* zero .bss (QEMU's loader may leave it as it finds it) */
        mov $__bss_start, %edi
        mov $__bss_end, %ecx
        sub %edi, %ecx
        xor %eax, %eax
        cld
        rep stosb
        call pump_main
1:      hlt
        jmp 1b

        .section .bss
        .align 16
        .space 65536
stack_top:
        .section .note.GNU-stack, "", @progbits
