#!/usr/bin/env python3
"""Feed MJPEG frames into a v4l2loopback device, so that readers see an 'MJPG' camera.

GStreamer's v4l2sink announces 'JPEG', not 'MJPG'; this writer sets the format itself
(VIDIOC_S_FMT on the output side: MJPG, WIDTHxHEIGHT) and then write()s one JPEG per frame.
Load v4l2loopback with exclusive_caps=0 keep_format=1, e.g.
  run-in-vm.sh --module 'v4l2loopback video_nr=10 card_label=rig-loopback exclusive_caps=0 keep_format=1'

  mjpeg_feed.py /dev/video10 --size 640x480 --fps 10 --duration 5
  mjpeg_feed.py --label rig-loopback --files a.jpg b.jpg --count 100
  mjpeg_feed.py --write-jpeg /tmp/test.jpg --size 320x240     (no device: just write one frame)

Without --files it generates frames itself (standard library only): a baseline JPEG, YCbCr 4:4:4,
one flat colour per 8x8 block, a moving gradient that changes every frame. Frames are paced at
--fps. Prints "format MJPG WxH sizeimage N" once and "frames N" at the end.
"""
import argparse
import fcntl
import os
import struct
import sys
import time

V4L2_BUF_TYPE_VIDEO_OUTPUT = 2
V4L2_FIELD_NONE = 1
V4L2_COLORSPACE_JPEG = 7


def fourcc(s):
    return struct.unpack("<I", s.encode())[0]


def _iowr(nr, size):
    return (3 << 30) | (size << 16) | (ord("V") << 8) | nr


VIDIOC_G_FMT = _iowr(4, 208)    # struct v4l2_format: u32 type, 4 bytes pad, 200-byte union
VIDIOC_S_FMT = _iowr(5, 208)
VIDIOC_S_PARM = _iowr(22, 204)  # struct v4l2_streamparm: u32 type, 200-byte union


# ---------------------------------------------------------------------------------------------
# a tiny baseline JPEG encoder: every 8x8 block is flat, so each block is one DC value and EOB
DC_BITS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]  # ITU T.81 Annex K.3, luminance DC
DC_VALS = list(range(12))
AC_BITS = [1] + [0] * 15  # a one-symbol table: EOB (0x00) is the code "0"
AC_VALS = [0]
DC_Q = 8  # DC quantiser: a flat block of value v has DC coefficient 8*(v-128) -> v-128


def huff_codes(bits, vals):
    codes, code, k = {}, 0, 0
    for length in range(1, 17):
        for _ in range(bits[length - 1]):
            codes[vals[k]] = (code, length)
            code += 1
            k += 1
        code <<= 1
    return codes


DC_CODES = huff_codes(DC_BITS, DC_VALS)
EOB = huff_codes(AC_BITS, AC_VALS)[0]


class BitWriter:
    def __init__(self):
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def put(self, value, length):
        self.acc = (self.acc << length) | (value & ((1 << length) - 1))
        self.n += length
        while self.n >= 8:
            self.n -= 8
            byte = (self.acc >> self.n) & 0xFF
            self.out.append(byte)
            if byte == 0xFF:
                self.out.append(0)  # byte stuffing
        self.acc &= (1 << self.n) - 1

    def flush(self):
        if self.n:
            self.put((1 << (8 - self.n)) - 1, 8 - self.n)  # pad with 1 bits
        return bytes(self.out)


def segment(marker, payload):
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def jpeg_headers(width, height):
    app0 = segment(0xE0, b"JFIF\0" + bytes([1, 1, 0, 0, 1, 0, 1, 0, 0]))
    dqt = segment(0xDB, bytes([0, DC_Q] + [1] * 63))
    sof = segment(0xC0, struct.pack(">BHHB", 8, height, width, 3)
                  + bytes([1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0]))
    dht = segment(0xC4, bytes([0x00] + DC_BITS + DC_VALS + [0x10] + AC_BITS + AC_VALS))
    sos = segment(0xDA, bytes([3, 1, 0x00, 2, 0x00, 3, 0x00, 0, 63, 0]))
    return b"\xff\xd8" + app0 + dqt + sof + dht + sos


def encode_flat_blocks(width, height, block_colour):
    """block_colour(bx, by) -> (Y, Cb, Cr) in 0..255 for the 8x8 block at (bx, by)."""
    bw = BitWriter()
    pred = [0, 0, 0]
    for by in range((height + 7) // 8):
        for bx in range((width + 7) // 8):
            for c, v in enumerate(block_colour(bx, by)):
                dc = int(v) - 128
                diff = dc - pred[c]
                pred[c] = dc
                size = abs(diff).bit_length()
                code, length = DC_CODES[size]
                bw.put(code, length)
                if size:
                    bw.put(diff if diff >= 0 else diff + (1 << size) - 1, size)
                bw.put(*EOB)
    return jpeg_headers(width, height) + bw.flush() + b"\xff\xd9"


def test_frame(width, height, n):
    bw, bh = (width + 7) // 8, (height + 7) // 8
    bar = n % bw

    def colour(bx, by):
        if bx == bar:
            return (235, 128, 128)  # a white bar that moves one block per frame
        y = 40 + (180 * (bx + by)) // max(1, bw + bh - 2)
        return (y, 64 + (128 * bx) // max(1, bw - 1), 192 - (128 * by) // max(1, bh - 1))
    return encode_flat_blocks(width, height, colour)


# ---------------------------------------------------------------------------------------------
def find_by_label(label, prefix=False):
    """The /dev node of the video device named `label` (or whose name starts with it)."""
    for e in sorted(os.listdir("/sys/class/video4linux")):
        try:
            with open(f"/sys/class/video4linux/{e}/name") as f:
                name = f.read().strip()
                if name == label or (prefix and name.startswith(label)):
                    return f"/dev/{e}"
        except OSError:
            pass
    return None


def set_format(fd, width, height, sizeimage, fps):
    pix = struct.pack("=12I", width, height, fourcc("MJPG"), V4L2_FIELD_NONE, 0, sizeimage,
                      V4L2_COLORSPACE_JPEG, 0, 0, 0, 0, 0)
    fmt = bytearray(struct.pack("=I4x", V4L2_BUF_TYPE_VIDEO_OUTPUT) + pix.ljust(200, b"\0"))
    fcntl.ioctl(fd, VIDIOC_S_FMT, fmt)
    w, h, pf, _, _, size = struct.unpack_from("=6I", fmt, 8)
    if pf != fourcc("MJPG"):
        raise RuntimeError(f"the device did not take MJPG (got {struct.pack('<I', pf)!r})")
    if fps:
        # struct v4l2_outputparm: capability, outputmode, timeperframe {numerator, denominator}
        parm = bytearray(struct.pack("=5I", V4L2_BUF_TYPE_VIDEO_OUTPUT, 0, 0, 1000, round(fps * 1000))
                         .ljust(204, b"\0"))
        try:
            fcntl.ioctl(fd, VIDIOC_S_PARM, parm)
        except OSError:
            pass  # only informs readers of the frame rate
    return w, h, size


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("device", nargs="?", help="the v4l2loopback node, e.g. /dev/video10")
    ap.add_argument("--label", help="find the device by its card_label instead")
    ap.add_argument("--size", default="640x480", help="WIDTHxHEIGHT (default 640x480)")
    ap.add_argument("--fps", type=float, default=10.0, help="frames per second (default 10)")
    ap.add_argument("--count", type=int, default=0, help="frames to write (default: unlimited)")
    ap.add_argument("--duration", type=float, default=0.0, help="seconds to run (default: unlimited)")
    ap.add_argument("--files", nargs="+", help="JPEG files to send in turn instead of test frames")
    ap.add_argument("--sizeimage", type=int, default=0,
                    help="buffer size to ask for (default: enough for the largest frame); "
                    "v4l2loopback 0.12 uses its own, width*height*4")
    ap.add_argument("--write-jpeg", metavar="FILE", help="write one generated frame to FILE and exit")
    args = ap.parse_args()
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        ap.error("--size wants WIDTHxHEIGHT")

    if args.write_jpeg:
        with open(args.write_jpeg, "wb") as f:
            f.write(test_frame(width, height, 0))
        return 0

    frames = None
    if args.files:
        frames = []
        for name in args.files:
            with open(name, "rb") as f:
                frames.append(f.read())
    path = args.device or (find_by_label(args.label) if args.label else None)
    if not path:
        ap.error("give the device node or --label (no such device)")
    sizeimage = args.sizeimage or max(
        [len(x) for x in frames] if frames else [len(test_frame(width, height, 0)) * 2],
        default=width * height) + 4096
    fd = os.open(path, os.O_RDWR)
    w, h, size = set_format(fd, width, height, sizeimage, args.fps)
    print(f"format MJPG {w}x{h} sizeimage {size} on {path}", flush=True)

    n = 0
    start = time.monotonic()
    period = 1.0 / args.fps if args.fps > 0 else 0
    try:
        while True:
            if args.count and n >= args.count:
                break
            if args.duration and time.monotonic() - start >= args.duration:
                break
            data = frames[n % len(frames)] if frames else test_frame(w, h, n)
            if len(data) > size:
                raise RuntimeError(f"frame {n} has {len(data)} bytes, over sizeimage {size}")
            os.write(fd, data)
            n += 1
            if period:
                delay = start + n * period - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
    except KeyboardInterrupt:
        pass
    finally:
        os.close(fd)
    print(f"frames {n}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
