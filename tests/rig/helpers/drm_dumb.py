#!/usr/bin/env python3
"""Set a mode on a DRM device with a mapped dumb buffer (standard library only; made for vkms).

  drm_dumb.py                       first card whose driver is vkms, first connected connector,
                                    its preferred mode; hold the mode 0.5 s
  drm_dumb.py --card /dev/dri/card0 --mode 1280x720 --hold 3
  drm_dumb.py --list                print connectors and their modes
  drm_dumb.py --read-scanout X,Y    print the colour another program's framebuffer shows at
                                    (X, Y) on the first CRTC: "scanout WxH fb N at X,Y #RRGGBB"
                                    (root: GETFB hands out the buffer; it must be mappable,
                                    as dumb and vkms's shmem buffers are)

Steps (legacy KMS ioctls): GETRESOURCES, GETCONNECTOR, GETENCODER, CREATE_DUMB (32 bpp),
MAP_DUMB + mmap, fill a test pattern and read it back through the mapping, ADDFB, SETCRTC,
then GETCRTC to check that the CRTC scans out that framebuffer in that mode. Exit 0 when all
of that worked; prints one line per step.
"""
import argparse
import ctypes
import fcntl
import mmap
import os
import struct
import sys
import time

MODEINFO = struct.Struct("=IHHHHHHHHHHIII32s")  # struct drm_mode_modeinfo, 68 bytes


def _iowr(nr, size):
    return (3 << 30) | (size << 16) | (ord("d") << 8) | nr


GETRESOURCES = _iowr(0xA0, 64)
GETCRTC = _iowr(0xA1, 104)
SETCRTC = _iowr(0xA2, 104)
GETENCODER = _iowr(0xA6, 20)
GETCONNECTOR = _iowr(0xA7, 80)
GETFB = _iowr(0xAD, 28)
ADDFB = _iowr(0xAE, 28)
RMFB = _iowr(0xAF, 4)
CREATE_DUMB = _iowr(0xB2, 32)
MAP_DUMB = _iowr(0xB3, 16)
DESTROY_DUMB = _iowr(0xB4, 4)
GET_VERSION = _iowr(0x00, 64)  # struct drm_version (on 64-bit)

CONNECTION = {1: "connected", 2: "disconnected", 3: "unknown"}


def ioctl(fd, req, buf):
    buf = bytearray(buf)
    fcntl.ioctl(fd, req, buf)
    return buf


def array(n, fmt="I"):
    """A zeroed C array of n items and its address (for the __u64 *_ptr fields)."""
    size = struct.calcsize(fmt) * max(n, 1)
    buf = ctypes.create_string_buffer(size)
    return buf, ctypes.addressof(buf)


def driver_name(fd):
    name_buf, name_ptr = array(64, "B")
    # struct drm_version: int major, minor, patch; (pad) size_t name_len; char *name; size_t
    # date_len; char *date; size_t desc_len; char *desc
    v = struct.pack("=iii4xQQQQQQ", 0, 0, 0, 64, name_ptr, 0, 0, 0, 0)
    out = ioctl(fd, GET_VERSION, v)
    n = struct.unpack_from("=Q", out, 16)[0]
    return name_buf.raw[:n].decode(errors="replace")


def resources(fd):
    res = ioctl(fd, GETRESOURCES, bytes(64))
    n_fb, n_crtc, n_conn, n_enc = struct.unpack_from("=4I", res, 32)
    fbs, fbs_p = array(n_fb)
    crtcs, crtcs_p = array(n_crtc)
    conns, conns_p = array(n_conn)
    encs, encs_p = array(n_enc)
    res = ioctl(fd, GETRESOURCES, struct.pack("=4Q4I4I", fbs_p, crtcs_p, conns_p, encs_p,
                                              n_fb, n_crtc, n_conn, n_enc, 0, 0, 0, 0))
    unpack = lambda b, n: list(struct.unpack_from(f"={n}I", b.raw)) if n else []
    return unpack(crtcs, n_crtc), unpack(conns, n_conn), unpack(encs, n_enc)


def connector(fd, conn_id):
    base = struct.pack("=4Q12I", 0, 0, 0, 0, 0, 0, 0, 0, conn_id, 0, 0, 0, 0, 0, 0, 0)
    c = ioctl(fd, GETCONNECTOR, base)
    n_modes, n_props, n_enc = struct.unpack_from("=3I", c, 32)
    modes, modes_p = array(n_modes, "68s")
    encs, encs_p = array(n_enc)
    props, props_p = array(n_props)
    values, values_p = array(n_props, "Q")
    c = ioctl(fd, GETCONNECTOR, struct.pack("=4Q12I", encs_p, modes_p, props_p, values_p, n_modes,
                                            n_props, n_enc, 0, conn_id, 0, 0, 0, 0, 0, 0, 0))
    (_, _, _, encoder_id, _, ctype, ctype_id, connection, mm_w, mm_h, _, _) = \
        struct.unpack_from("=12I", c, 32)
    mode_list = [modes.raw[i * 68:(i + 1) * 68] for i in range(n_modes)]
    enc_list = list(struct.unpack_from(f"={n_enc}I", encs.raw)) if n_enc else []
    return {"id": conn_id, "encoder_id": encoder_id, "type": ctype, "type_id": ctype_id,
            "connection": connection, "modes": mode_list, "encoders": enc_list}


def mode_desc(raw):
    m = MODEINFO.unpack(raw)
    name = m[14].split(b"\0", 1)[0].decode()
    return f"{name}@{m[11]}Hz{' preferred' if m[13] & (1 << 3) else ''}", m[1], m[6]


def find_card(driver):
    for e in sorted(os.listdir("/dev/dri")) if os.path.isdir("/dev/dri") else []:
        if not e.startswith("card"):
            continue
        fd = os.open(f"/dev/dri/{e}", os.O_RDWR | os.O_CLOEXEC)
        try:
            if driver is None or driver_name(fd) == driver:
                return f"/dev/dri/{e}"
        finally:
            os.close(fd)
    return None


def read_scanout(card, where):
    x, y = (int(v) for v in where.split(","))
    fd = os.open(card, os.O_RDWR | os.O_CLOEXEC)
    try:
        crtcs, _, _ = resources(fd)
        got = ioctl(fd, GETCRTC, struct.pack("=Q7I", 0, 0, crtcs[0], 0, 0, 0, 0, 0) + bytes(68))
        fb_id = struct.unpack_from("=Q7I", got)[3]
        if not fb_id:
            print("drm_dumb: the CRTC scans out nothing", file=sys.stderr)
            return 1
        fb = ioctl(fd, GETFB, struct.pack("=7I", fb_id, 0, 0, 0, 0, 0, 0))
        _, width, height, pitch, bpp, _, handle = struct.unpack("=7I", fb)
        if not handle or bpp != 32:
            print(f"drm_dumb: fb {fb_id}: no handle ({handle}) or not 32 bpp ({bpp})", file=sys.stderr)
            return 1
        m = ioctl(fd, MAP_DUMB, struct.pack("=IIQ", handle, 0, 0))
        offset = struct.unpack_from("=Q", m, 8)[0]
        size = pitch * height
        buf = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ, offset=offset)
        b, g, r = buf[y * pitch + x * 4:y * pitch + x * 4 + 3]
        buf.close()
        print(f"scanout {width}x{height} fb {fb_id} at {x},{y} #{r:02x}{g:02x}{b:02x}")
        return 0
    finally:
        os.close(fd)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--card", help="DRM node (default: the first card whose driver is --driver)")
    ap.add_argument("--driver", default="vkms", help="driver name to look for (default vkms)")
    ap.add_argument("--mode", help="WIDTHxHEIGHT (default: the connector's preferred mode)")
    ap.add_argument("--hold", type=float, default=0.5, help="seconds to keep the mode (default 0.5)")
    ap.add_argument("--list", action="store_true", help="list connectors and modes, then exit")
    ap.add_argument("--read-scanout", metavar="X,Y", help="read a pixel of what the display shows")
    args = ap.parse_args()
    if args.read_scanout:
        return read_scanout(args.card or find_card(args.driver), args.read_scanout)

    card = args.card or find_card(args.driver)
    if not card:
        print(f"drm_dumb: no DRM card with driver {args.driver} (is the module loaded?)", file=sys.stderr)
        return 1
    fd = os.open(card, os.O_RDWR | os.O_CLOEXEC)
    print(f"card {card} driver {driver_name(fd)}")
    crtcs, conns, _ = resources(fd)
    print(f"resources: {len(crtcs)} crtc(s), {len(conns)} connector(s)")
    infos = [connector(fd, c) for c in conns]
    for c in infos:
        modes = ", ".join(mode_desc(m)[0] for m in c["modes"][:8])
        print(f"connector {c['id']} type {c['type']}-{c['type_id']} "
              f"{CONNECTION.get(c['connection'], c['connection'])}: {len(c['modes'])} modes ({modes}...)")
    if args.list:
        return 0

    conn = next((c for c in infos if c["connection"] == 1 and c["modes"]), None)
    if not conn:
        print("drm_dumb: no connected connector with modes", file=sys.stderr)
        return 1
    mode = None
    if args.mode:
        w, h = (int(v) for v in args.mode.lower().split("x"))
        mode = next((m for m in conn["modes"] if mode_desc(m)[1:] == (w, h)), None)
        if mode is None:
            print(f"drm_dumb: connector {conn['id']} has no mode {args.mode}", file=sys.stderr)
            return 1
    else:
        mode = next((m for m in conn["modes"] if MODEINFO.unpack(m)[13] & (1 << 3)), conn["modes"][0])
    desc, width, height = mode_desc(mode)

    enc_id = conn["encoder_id"] or (conn["encoders"][0] if conn["encoders"] else 0)
    enc = ioctl(fd, GETENCODER, struct.pack("=5I", enc_id, 0, 0, 0, 0))
    _, _, crtc_id, possible, _ = struct.unpack("=5I", enc)
    if not crtc_id:
        crtc_id = next(c for i, c in enumerate(crtcs) if possible & (1 << i))
    print(f"using connector {conn['id']}, encoder {enc_id}, crtc {crtc_id}, mode {desc} ({width}x{height})")

    d = ioctl(fd, CREATE_DUMB, struct.pack("=6IQ", height, width, 32, 0, 0, 0, 0))
    _, _, _, _, handle, pitch, size = struct.unpack("=6IQ", d)
    print(f"dumb buffer: handle {handle}, pitch {pitch}, size {size}")
    m = ioctl(fd, MAP_DUMB, struct.pack("=IIQ", handle, 0, 0))
    offset = struct.unpack_from("=Q", m, 8)[0]
    buf = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=offset)
    # XRGB8888 vertical colour bars
    bars = [0x00FFFFFF, 0x00FFFF00, 0x0000FFFF, 0x0000FF00, 0x00FF00FF, 0x00FF0000, 0x000000FF, 0]
    row = b"".join(struct.pack("<I", bars[(x * 8) // width]) for x in range(width)).ljust(pitch, b"\0")
    for y in range(height):
        buf[y * pitch:(y + 1) * pitch] = row
    ok = buf[0:4] == struct.pack("<I", bars[0]) and buf[(height - 1) * pitch:(height - 1) * pitch + pitch] == row
    print(f"mapped at offset {offset:#x}, pattern written and read back: {'ok' if ok else 'MISMATCH'}")
    if not ok:
        return 1

    fb = ioctl(fd, ADDFB, struct.pack("=7I", 0, width, height, pitch, 32, 24, handle))
    fb_id = struct.unpack_from("=I", fb)[0]
    print(f"framebuffer {fb_id}")
    conn_arr, conn_p = array(1)
    struct.pack_into("=I", conn_arr, 0, conn["id"])
    ioctl(fd, SETCRTC, struct.pack("=Q7I", conn_p, 1, crtc_id, fb_id, 0, 0, 0, 1) + mode)
    got = ioctl(fd, GETCRTC, struct.pack("=Q7I", 0, 0, crtc_id, 0, 0, 0, 0, 0) + bytes(68))
    _, _, _, got_fb, _, _, _, valid = struct.unpack_from("=Q7I", got)
    got_desc = mode_desc(bytes(got[36:104]))
    if got_fb != fb_id or not valid or got_desc[1:] != (width, height):
        print(f"drm_dumb: GETCRTC says fb {got_fb}, mode valid {valid}, {got_desc[0]}", file=sys.stderr)
        return 1
    print(f"mode set: crtc {crtc_id} scans out fb {fb_id} at {got_desc[0]}")
    time.sleep(args.hold)  # deliberate: keep the mode on screen as long as asked (--hold)

    # tear down: disable the CRTC, free the framebuffer and the buffer
    ioctl(fd, SETCRTC, struct.pack("=Q7I", 0, 0, crtc_id, 0, 0, 0, 0, 0) + bytes(68))
    buf.close()
    ioctl(fd, RMFB, struct.pack("=I", fb_id))
    ioctl(fd, DESTROY_DUMB, struct.pack("=I", handle))
    os.close(fd)
    print("released")
    return 0


if __name__ == "__main__":
    sys.exit(main())
