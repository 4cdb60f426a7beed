/* SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * A SCSI pump: a freestanding program that QEMU boots with -kernel (multiboot v1,
 * 32-bit). It finds a legacy virtio-scsi PCI controller (virtio-scsi-pci with
 * disable-modern=on: vendor 1AF4h, device 1004h, I/O BAR 0), sets up its request
 * queue (queue 2) and then, over the first serial port (COM1, polled), takes SCSI
 * commands from the host, sends each through the controller and reports the result.
 * Tests (pr-helper/tests/lab_qemu.rs) use it to make QEMU's own SCSI stack, and so its
 * pr-manager-helper client, carry PERSISTENT RESERVE IN/OUT from a guest.
 *
 * Protocol: ASCII lines, fields separated by one space, numbers and bytes in hex (either
 * case); a byte string is its bytes as two hex digits each (its length is half the
 * field's), or "-" when empty.
 *   guest, once at start:  "PUMP READY <io base> <queue size> <sense size> <cdb size>"
 *                          or "PUMP ERROR <message>" (then it halts)
 *   host -> guest:         "C <target> <lun> <cdb bytes> <data-out bytes> <data-in length>"
 *                          "X <code>"  (writes code to port F4h, halts: -device
 *                                     isa-debug-exit,iobase=0xf4 makes QEMU exit)
 *   guest -> host:         "R <virtio response> <scsi status> <sense bytes> <residual> <data-in bytes>"
 *                          (data-in length - residual bytes of data-in, none unless the
 *                          status is GOOD)
 *                          "E <message>" for a line it could not read
 * Limits: CDB 1 .. cdb size bytes, data-out and data-in at most 16384 bytes each.
 * Anything the firmware prints before "PUMP" is not part of the protocol.
 */
#include <stddef.h>
#include <stdint.h>

#define COM1 0x3F8
#define MAX_DATA 16384
#define QUEUE_REQ 2
#define QMAX 1024

static inline void outb(uint16_t p, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(p)); }
static inline void outw(uint16_t p, uint16_t v) { __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(p)); }
static inline void outl(uint16_t p, uint32_t v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(p)); }
static inline uint8_t inb(uint16_t p) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static inline uint16_t inw(uint16_t p) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static inline uint32_t inl(uint16_t p) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(p)); return v; }
#define barrier() __asm__ volatile("" ::: "memory")

/* ---- serial ---- */
static void serial_init(void)
{
    outb(COM1 + 1, 0x00); /* no interrupts */
    outb(COM1 + 3, 0x80); /* DLAB */
    outb(COM1 + 0, 0x01); /* 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03); /* 8N1 */
    /* FIFOs left off: enabling them would drop what the host already sent */
    outb(COM1 + 4, 0x03); /* DTR, RTS */
}
static void putc_(char c)
{
    while (!(inb(COM1 + 5) & 0x20))
        ;
    outb(COM1, (uint8_t)c);
}
static int getc_(void)
{
    while (!(inb(COM1 + 5) & 0x01))
        ;
    return inb(COM1);
}
static void puts_(const char *s)
{
    while (*s)
        putc_(*s++);
}
static const char HEX[] = "0123456789abcdef";
static void put_hex(uint32_t v)
{
    char b[8];
    int n = 0;
    do {
        b[n++] = HEX[v & 0xf];
        v >>= 4;
    } while (v);
    while (n)
        putc_(b[--n]);
}
static void put_bytes(const volatile uint8_t *p, uint32_t n)
{
    if (!n) {
        putc_('-');
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        putc_(HEX[p[i] >> 4]);
        putc_(HEX[p[i] & 0xf]);
    }
}

/* ---- PCI configuration mechanism #1 ---- */
static uint32_t pci_addr(uint32_t dev, uint32_t fn, uint32_t off)
{
    return 0x80000000u | (dev << 11) | (fn << 8) | (off & 0xfc);
}
static uint32_t pci_read(uint32_t dev, uint32_t fn, uint32_t off)
{
    outl(0xCF8, pci_addr(dev, fn, off));
    return inl(0xCFC);
}
static void pci_write(uint32_t dev, uint32_t fn, uint32_t off, uint32_t v)
{
    outl(0xCF8, pci_addr(dev, fn, off));
    outl(0xCFC, v);
}

/* ---- legacy virtio over the I/O BAR ---- */
#define VIRTIO_HOST_FEATURES 0x00
#define VIRTIO_GUEST_FEATURES 0x04
#define VIRTIO_QUEUE_PFN 0x08
#define VIRTIO_QUEUE_SIZE 0x0C
#define VIRTIO_QUEUE_SEL 0x0E
#define VIRTIO_QUEUE_NOTIFY 0x10
#define VIRTIO_STATUS 0x12
#define VIRTIO_CONFIG 0x14 /* device config when MSI-X is not enabled */
#define VRING_DESC_F_NEXT 1
#define VRING_DESC_F_WRITE 2

struct vring_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

struct cmd_req {
    uint8_t lun[8];
    uint64_t tag;
    uint8_t task_attr, prio, crn;
    uint8_t cdb[32];
} __attribute__((packed));

struct cmd_resp {
    uint32_t sense_len;
    uint32_t resid;
    uint16_t status_qualifier;
    uint8_t status;
    uint8_t response;
    uint8_t sense[96];
} __attribute__((packed));

/* The legacy ring layout: descriptors, available ring, then the used ring on the next
 * 4096-byte boundary; room for the largest queue this program accepts. */
static uint8_t ring_mem[16 * QMAX + 6 + 2 * QMAX + 4096 + 6 + 8 * QMAX + 4096]
    __attribute__((aligned(4096)));
static struct cmd_req req;
static struct cmd_resp resp;
static uint8_t data_out[MAX_DATA];
static uint8_t data_in[MAX_DATA];

static uint16_t io;
static uint16_t qsize;
static volatile struct vring_desc *desc;
static volatile uint16_t *avail; /* flags, idx, ring[] */
static volatile uint16_t *used;  /* flags, idx, then {u32 id, u32 len}[] */
static uint16_t avail_idx, used_seen;
static uint32_t sense_size = 96, cdb_size = 32;

static void fail(const char *msg)
{
    puts_("PUMP ERROR ");
    puts_(msg);
    puts_("\n");
    for (;;)
        __asm__ volatile("hlt");
}

static void virtio_init(void)
{
    uint32_t dev;
    for (dev = 0; dev < 32; dev++) {
        uint32_t id = pci_read(dev, 0, 0);
        if ((id & 0xffff) == 0x1AF4 && (id >> 16) == 0x1004)
            break;
    }
    if (dev == 32)
        fail("no legacy virtio-scsi controller (1af4:1004) on PCI bus 0");
    uint32_t bar = pci_read(dev, 0, 0x10);
    if (!(bar & 1))
        fail("BAR 0 is not an I/O BAR");
    if ((bar & ~3u) == 0) { /* the firmware left it unassigned */
        pci_write(dev, 0, 0x10, 0xC000);
        bar = pci_read(dev, 0, 0x10);
    }
    io = (uint16_t)(bar & ~3u);
    uint32_t cmd = pci_read(dev, 0, 0x04);
    pci_write(dev, 0, 0x04, (cmd & 0xffff0000u) | (cmd & 0xffff) | 0x5); /* I/O, bus master */

    outb(io + VIRTIO_STATUS, 0);     /* reset */
    outb(io + VIRTIO_STATUS, 1);     /* ACKNOWLEDGE */
    outb(io + VIRTIO_STATUS, 1 | 2); /* DRIVER */
    (void)inl(io + VIRTIO_HOST_FEATURES);
    outl(io + VIRTIO_GUEST_FEATURES, 0);
    sense_size = inl(io + VIRTIO_CONFIG + 0x14);
    cdb_size = inl(io + VIRTIO_CONFIG + 0x18);
    if (cdb_size > 32)
        cdb_size = 32;
    if (sense_size > 96)
        sense_size = 96;

    outw(io + VIRTIO_QUEUE_SEL, QUEUE_REQ);
    qsize = inw(io + VIRTIO_QUEUE_SIZE);
    if (qsize == 0 || qsize > QMAX)
        fail("request queue size is 0 or above 1024");
    uintptr_t base = (uintptr_t)ring_mem;
    desc = (volatile struct vring_desc *)base;
    avail = (volatile uint16_t *)(base + 16u * qsize);
    uintptr_t used_off = (16u * qsize + 6u + 2u * qsize + 4095u) & ~4095u;
    used = (volatile uint16_t *)(base + used_off);
    outl(io + VIRTIO_QUEUE_PFN, (uint32_t)(base >> 12));
    outb(io + VIRTIO_STATUS, 1 | 2 | 4); /* DRIVER_OK */
}

/* Sends one command; the descriptors are always 0 (request), 1 (data-out, if any),
 * then the response and data-in. */
static void submit(uint32_t out_len, uint32_t in_len)
{
    uint16_t n = 0;
    desc[n].addr = (uintptr_t)&req;
    desc[n].len = sizeof req;
    desc[n].flags = VRING_DESC_F_NEXT;
    desc[n].next = (uint16_t)(n + 1);
    n++;
    if (out_len) {
        desc[n].addr = (uintptr_t)data_out;
        desc[n].len = out_len;
        desc[n].flags = VRING_DESC_F_NEXT;
        desc[n].next = (uint16_t)(n + 1);
        n++;
    }
    desc[n].addr = (uintptr_t)&resp;
    desc[n].len = sizeof resp;
    desc[n].flags = VRING_DESC_F_WRITE | (in_len ? VRING_DESC_F_NEXT : 0);
    desc[n].next = (uint16_t)(n + 1);
    n++;
    if (in_len) {
        desc[n].addr = (uintptr_t)data_in;
        desc[n].len = in_len;
        desc[n].flags = VRING_DESC_F_WRITE;
        desc[n].next = 0;
    }
    avail[2 + (avail_idx % qsize)] = 0; /* head descriptor */
    barrier();
    avail_idx++;
    avail[1] = avail_idx;
    barrier();
    outw(io + VIRTIO_QUEUE_NOTIFY, QUEUE_REQ);
    while (used[1] == used_seen)
        barrier();
    used_seen++;
    barrier();
}

/* ---- the host's lines ---- */
static int line_bad; /* set by the readers on a bad character; the rest of the line is skipped */
static int last;     /* the character that ended the last field */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static uint32_t read_num(void)
{
    uint32_t v = 0;
    int c, digits = 0;
    while ((c = getc_()) != ' ' && c != '\n' && c != '\r') {
        int h = hexval(c);
        if (h < 0 || digits >= 8)
            line_bad = 1;
        else
            v = (v << 4) | (uint32_t)h;
        digits++;
    }
    if (!digits)
        line_bad = 1;
    last = c;
    return v;
}

/* Reads a byte string into buf (at most max bytes); returns its length. */
static uint32_t read_bytes(uint8_t *buf, uint32_t max)
{
    uint32_t n = 0;
    int c, hi = -1, dash = 0, any = 0;
    while ((c = getc_()) != ' ' && c != '\n' && c != '\r') {
        any = 1;
        if (c == '-' && !dash && n == 0 && hi < 0) {
            dash = 1;
            continue;
        }
        int h = hexval(c);
        if (h < 0 || dash || n >= max) {
            line_bad = 1;
            continue;
        }
        if (hi < 0) {
            hi = h;
        } else {
            buf[n++] = (uint8_t)(hi << 4 | h);
            hi = -1;
        }
    }
    if (hi >= 0 || !any)
        line_bad = 1;
    last = c;
    return n;
}

static void skip_line(void)
{
    while (last != '\n')
        last = getc_();
}

static void command(void)
{
    uint8_t cdb[32];
    line_bad = 0;
    uint32_t target = read_num();
    uint32_t lun = last == ' ' ? read_num() : (line_bad = 1, 0);
    uint32_t cdb_len = last == ' ' ? read_bytes(cdb, cdb_size) : (line_bad = 1, 0);
    uint32_t out_len = last == ' ' ? read_bytes(data_out, MAX_DATA) : (line_bad = 1, 0);
    uint32_t in_len = last == ' ' ? read_num() : (line_bad = 1, 0);
    if (last != '\n' && last != '\r')
        line_bad = 1;
    skip_line();
    if (line_bad || target > 255 || lun > 0x3fff || cdb_len == 0 || in_len > MAX_DATA) {
        puts_("E bad command line\n");
        return;
    }
    for (uint32_t i = 0; i < sizeof req; i++)
        ((volatile uint8_t *)&req)[i] = 0;
    for (uint32_t i = 0; i < sizeof resp; i++)
        ((volatile uint8_t *)&resp)[i] = 0;
    req.lun[0] = 1;
    req.lun[1] = (uint8_t)target;
    req.lun[2] = (uint8_t)(0x40 | (lun >> 8));
    req.lun[3] = (uint8_t)lun;
    req.tag++;
    for (uint32_t i = 0; i < cdb_len; i++)
        req.cdb[i] = cdb[i];
    for (uint32_t i = 0; i < in_len; i++)
        data_in[i] = 0;
    submit(out_len, in_len);
    uint32_t sl = resp.sense_len < sense_size ? resp.sense_len : sense_size;
    uint32_t resid = resp.resid;
    uint32_t got = resid < in_len ? in_len - resid : 0;
    puts_("R ");
    put_hex(resp.response);
    putc_(' ');
    put_hex(resp.status);
    putc_(' ');
    put_bytes(resp.sense, sl);
    putc_(' ');
    put_hex(resid);
    putc_(' ');
    put_bytes(data_in, resp.status == 0 ? got : 0);
    putc_('\n');
}

void pump_main(void);
void pump_main(void)
{
    serial_init();
    virtio_init();
    puts_("PUMP READY ");
    put_hex(io);
    putc_(' ');
    put_hex(qsize);
    putc_(' ');
    put_hex(sense_size);
    putc_(' ');
    put_hex(cdb_size);
    putc_('\n');
    for (;;) {
        int c = getc_();
        if (c == '\n' || c == '\r' || c == ' ')
            continue;
        if (c == 'C' && getc_() == ' ') {
            command();
        } else if (c == 'X') {
            last = c;
            line_bad = 0;
            uint32_t code = getc_() == ' ' ? read_num() : 0;
            outb(0xF4, (uint8_t)code);
            for (;;)
                __asm__ volatile("cli; hlt");
        } else {
            last = c;
            skip_line();
            puts_("E unknown request\n");
        }
    }
}
