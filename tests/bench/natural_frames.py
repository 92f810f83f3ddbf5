#!/usr/bin/env python3
"""Camera-like MJPEG frames for the streaming benchmarks: a slow pan over a collage of real camera
photos (the zxing-cpp sample images in ../shared/testdata/barcodes, Apache-2.0; or
$BARCODE_SAMPLES), each frame a baseline JPEG whose quality is chosen so that the frames average
about --target-kb (a USB camera's 640x480 MJPEG frames are 25-40 KB).

usage: natural_frames.py OUTDIR [--count 30] [--size 640x480] [--target-kb 32]
Writes OUTDIR/frame-NNN.jpg and prints "N frames, average K KB, quality Q".
"""

import argparse
import glob
import io
import os
import random
import sys

from PIL import Image, ImageFilter

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = os.environ.get("BARCODE_SAMPLES") or os.path.normpath(
    os.path.join(HERE, "..", "..", "..", "shared", "testdata", "barcodes"))


def collage(width, height):
    """A canvas twice the frame's width of photos (largest first), or soft noise without them."""
    # JPEGs: the camera photos (most PNGs there are generated symbols).
    paths = glob.glob(os.path.join(SAMPLES, "samples", "*", "*.jpg"))
    rnd = random.Random(5)
    canvas = Image.new("RGB", (width * 2, height), (128, 128, 128))
    if not paths:
        noise = Image.effect_noise((width * 2, height), 60).filter(ImageFilter.GaussianBlur(1.2))
        return Image.merge("RGB", (noise, noise.rotate(180), noise.transpose(Image.FLIP_LEFT_RIGHT)))
    photos = []
    for p in paths:
        try:
            im = Image.open(p)
            if im.width * im.height >= 20000:
                photos.append((im.width * im.height, p))
        except OSError:
            pass
    photos.sort(reverse=True)
    x = y = 0
    row_h = height
    for _, p in photos[:40]:
        im = Image.open(p).convert("RGB")
        w = max(40, im.width * row_h // im.height)
        im = im.resize((w, row_h))
        canvas.paste(im, (x, y))
        x += w
        if x >= canvas.width:
            x, y = 0, y + row_h
            if y >= height:
                break
    return canvas.filter(ImageFilter.GaussianBlur(0.6)).rotate(rnd.uniform(-1, 1))


def encode(im, q):
    b = io.BytesIO()
    im.save(b, "JPEG", quality=q, subsampling=2)  # 4:2:0 as cameras send
    return b.getvalue()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--count", type=int, default=30)
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--target-kb", type=float, default=32.0)
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.split("x"))
    src = collage(w, h)
    frames = [src.crop((i * (src.width - w) // max(1, a.count - 1), 0,
                        i * (src.width - w) // max(1, a.count - 1) + w, h)) for i in range(a.count)]
    # The quality whose average size is closest to the target.
    best = min(range(30, 96, 5),
               key=lambda q: abs(sum(len(encode(f, q)) for f in frames[::6]) / len(frames[::6])
                                 - a.target_kb * 1024))
    os.makedirs(a.outdir, exist_ok=True)
    sizes = []
    for i, f in enumerate(frames):
        data = encode(f, best)
        sizes.append(len(data))
        with open(os.path.join(a.outdir, f"frame-{i:03d}.jpg"), "wb") as out:
            out.write(data)
    print(f"{len(sizes)} frames, average {sum(sizes) / len(sizes) / 1024:.1f} KB, quality {best}")


if __name__ == "__main__":
    sys.exit(main())
