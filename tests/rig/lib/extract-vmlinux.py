#!/usr/bin/env python3
"""Extract the uncompressed ELF kernel (vmlinux) from an x86 bzImage.

Same idea as the kernel's scripts/extract-vmlinux: look for the magic bytes of
each compression format the kernel supports, try to decompress from there, and
keep the first result that is an ELF file. Formats the Python standard library
cannot decompress (zstd, lz4, lzo) are handed to the matching command-line
tool if it is installed.

usage: extract-vmlinux.py BZIMAGE OUTPUT
"""
import bz2
import lzma
import os
import shutil
import subprocess
import sys
import zlib


def try_xz(data):
    return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data)


def try_lzma(data):
    return lzma.LZMADecompressor(format=lzma.FORMAT_ALONE).decompress(data)


def try_gzip(data):
    return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data)


def try_bzip2(data):
    return bz2.BZ2Decompressor().decompress(data)


def tool(*argv):
    def run(data):
        if not shutil.which(argv[0]):
            raise RuntimeError(f"{argv[0]} not installed")
        # The tools stop at the end of the first frame or complain about trailing data;
        # either way stdout holds what was decompressed.
        p = subprocess.run(list(argv), input=data, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        return p.stdout
    return run


FORMATS = [
    ("xz", b"\xfd7zXZ\x00", try_xz),
    ("gzip", b"\x1f\x8b\x08", try_gzip),
    ("zstd", b"\x28\xb5\x2f\xfd", tool("zstd", "-dc")),
    ("bzip2", b"BZh", try_bzip2),
    ("lzma", b"\x5d\x00\x00\x00", try_lzma),
    ("lz4", b"\x02\x21\x4c\x18", tool("lz4", "-dc")),
    ("lzo", b"\x89\x4c\x5a\x4f\x00\x0d\x0a\x1a\x0a", tool("lzop", "-dc")),
]


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    src, dst = sys.argv[1], sys.argv[2]
    with open(src, "rb") as f:
        data = f.read()
    if data[:4] == b"\x7fELF":
        shutil.copyfile(src, dst)
        print(f"{src} is already an ELF file")
        return 0
    for name, magic, fn in FORMATS:
        pos = data.find(magic)
        tries = 0
        while pos >= 0 and tries < 8:
            tries += 1
            try:
                out = fn(data[pos:])
            except Exception:
                out = b""
            if out[:4] == b"\x7fELF":
                with open(dst + ".tmp", "wb") as f:
                    f.write(out)
                os.replace(dst + ".tmp", dst)
                print(f"vmlinux: {name} payload at offset {pos}, {len(out)} bytes")
                return 0
            pos = data.find(magic, pos + 1)
    print(f"no compressed ELF kernel found in {src}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
