"""Document export: imagepro=merge2pdf, merge2tif and merge2ofd against one shared --sim daemon.

Each endpoint takes a JSON array of source_image objects ({"uuid"}, {"filepath"} inside the storage root,
{"base64", "image_type"}); {"source_image": [...]} and elements wrapped as {"source_image": {...}} are
accepted too. The reply carries the document as base64 and as /images/<uuid>.<ext>, which must also be
stored under the storage root and downloadable from GET /storage/images/<uuid>.<ext>.

The documents are read back with independent readers: pypdf and poppler (pdfinfo, pdfimages, pdftoppm)
for PDF; Pillow (libtiff) and tiffinfo for TIFF; zipfile + xml.etree and easyofd for OFD.
A page's size follows the source's DPI: JFIF density or EXIF resolution of a JPEG, pHYs of a PNG (the
daemon also honours the resolution fields of BMP and TIFF), else 200.
"""

import io
import posixpath
import random
import re
import struct
import subprocess
import threading
import zipfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageSequence, ImageStat
from pypdf import PdfReader

from e2e_support import api_code, b64, check_api_reply, enc, jpeg_info
from e2e_support import decode_image as decode
from e2e_support import file_tree as tree
from e2e_support import storage_root as root_of
from e2e_support import store_image as store

SIM_CONFIG = {"camera": {"linger_seconds": 1, "warmup_frames": 0}}
CALL_TIMEOUT = 60.0
UUID_PAT = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
ZERO_UUID = "00000000-0000-0000-0000-000000000000"
KINDS = ["pdf", "tif", "ofd"]
DEFAULT_DPI = 200.0


# --------------------------------------------------------------------------- helpers (as test_images.py)





def save(im: Image.Image, fmt: str, **kw) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, **kw)
    return out.getvalue()


def scene(size=(320, 240), seed=0, mode="RGB") -> Image.Image:
    """A deterministic picture with a few coloured shapes (flat areas, so JPEG stays close)."""
    rnd = random.Random(seed)
    w, h = size
    im = Image.new("RGB", size, tuple(rnd.randrange(150, 256) for _ in range(3)))
    d = ImageDraw.Draw(im)
    for _ in range(6):
        x0, y0 = rnd.randrange(0, w - 8), rnd.randrange(0, h - 8)
        x1, y1 = rnd.randrange(x0 + 4, w), rnd.randrange(y0 + 4, h)
        colour = tuple(rnd.randrange(0, 256) for _ in range(3))
        (d.rectangle if rnd.random() < 0.5 else d.ellipse)((x0, y0, x1, y1), fill=colour)
    if mode == "1":
        return im.convert("L").point(lambda v: 255 if v > 140 else 0).convert("1")
    return im.convert(mode)


def noise(size, seed=1) -> Image.Image:
    return Image.frombytes("RGB", size, random.Random(seed).randbytes(size[0] * size[1] * 3))


def jpeg(size=(320, 240), seed=0, dpi=None, quality=90, mode="RGB", **kw) -> bytes:
    if dpi is not None:
        kw["dpi"] = dpi
    return save(scene(size, seed, mode), "JPEG", quality=quality, **kw)


def png(im: Image.Image, dpi=None) -> bytes:
    return save(im, "PNG", **({"dpi": dpi} if dpi else {}))


def bmp_without_resolution(im: Image.Image) -> bytes:
    """A BMP whose pels-per-metre fields are 0 (Pillow always writes 96 dpi otherwise)."""
    data = bytearray(save(im, "BMP"))
    data[38:46] = struct.pack("<ii", 0, 0)
    return bytes(data)


def src(data: bytes, image_type: str) -> dict:
    return {"base64": enc(data), "image_type": image_type}


def mean_diff(a: Image.Image, b: Image.Image, size=None) -> float:
    size = size or a.size
    a = a.convert("RGB").resize(size, Image.BILINEAR)
    b = b.convert("RGB").resize(size, Image.BILINEAR)
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


def same_pixels(a: Image.Image, b: Image.Image, mode: str) -> bool:
    a, b = a.convert(mode), b.convert(mode)
    return a.size == b.size and ImageChops.difference(a, b).getbbox() is None






MAGIC = {"pdf": b"%PDF-", "tif": (b"II*\x00", b"MM\x00*"), "ofd": b"PK\x03\x04"}


def merge(d, kind: str, body) -> tuple[bytes, dict]:
    """A successful merge2<kind>: checks the reply, the stored file (the only new file) and the download."""
    root = root_of(d)
    before = tree(root)
    r = api_code(d, f"imagepro=merge2{kind}", body, "0")
    assert r.get("message", "") == "", r
    m = re.fullmatch(rf"/images/({UUID_PAT})\.{kind}", r.get("filepath", ""))
    assert m, f"filepath {r.get('filepath')!r}, expected /images/<uuid>.{kind}"
    data = b64(r["base64"])
    assert data.startswith(MAGIC[kind]), f"{kind} document starts with {data[:8]!r}"
    after = tree(root)
    rel = f"images/{m.group(1)}.{kind}"
    assert after.get(rel) == data, f"{rel} under the storage root is missing or differs from the reply"
    assert set(after) - set(before) == {rel}, f"unexpected new files: {sorted(set(after) - set(before) - {rel})}"
    assert all(after.get(k) == v for k, v in before.items()), "existing files changed or vanished"
    got = d.get(r["filepath"].replace("/images/", "/storage/images/", 1))
    assert got.status == 200 and got.body == data, f"GET /storage{r['filepath']}: {got!r}"
    return data, r


def close(got: float, want: float, rel: float = 1e-3, what: str = "") -> None:
    assert abs(got - want) <= max(rel * abs(want), 0.01), f"{what}: got {got}, want {want}"


# --------------------------------------------------------------------------- readers


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def run(*cmd) -> str:
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, f"{cmd}: rc {p.returncode}\n{p.stderr}"
    return p.stdout


def pdfinfo_sizes(path: Path) -> list[tuple[float, float]]:
    out = run("pdfinfo", "-f", "1", "-l", "9999", path)
    pages = int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))
    sizes = [(float(w), float(h)) for w, h in re.findall(r"^Page\s+\d+ size:\s+([\d.]+) x ([\d.]+) pts", out, re.M)]
    assert len(sizes) == pages, out
    return sizes


def pypdf_sizes(data: bytes) -> list[tuple[float, float]]:
    reader = PdfReader(io.BytesIO(data), strict=True)
    return [(float(p.mediabox.width), float(p.mediabox.height)) for p in reader.pages]


def pdf_images(path: Path, tmp_path: Path) -> list[dict]:
    """pdfimages -list joined with the files of pdfimages -all (DCT streams come out as .jpg)."""
    rows = []
    for line in run("pdfimages", "-list", path).splitlines()[2:]:
        f = line.split()
        rows.append({"page": int(f[0]), "num": int(f[1]), "type": f[2], "width": int(f[3]),
                     "height": int(f[4]), "color": f[5], "bpc": int(f[7]), "enc": f[8],
                     "xppi": float(f[12]), "yppi": float(f[13])})
    outdir = tmp_path / (path.stem + "-img")
    outdir.mkdir()
    run("pdfimages", "-all", path, outdir / "i")
    files = {int(p.stem.split("-")[-1]): p for p in outdir.iterdir()}
    for row in rows:
        row["path"] = files[row["num"]]
    return rows


def render_page(path: Path, page: int, dpi: float, tmp_path: Path) -> Image.Image:
    """Render one page at `dpi` with poppler. pdftocairo, not pdftoppm: pdftoppm (splash) computes
    e.g. 57.6 pt * 200 / 72 = 159.99999 and then resamples the image by that not-quite-1 factor,
    which blurs every pixel; cairo draws a 1:1 image unchanged."""
    out = tmp_path / f"{path.stem}-p{page}"
    run("pdftocairo", "-r", dpi, "-f", page, "-l", page, "-singlefile", "-png", path, out)
    im = Image.open(str(out) + ".png")
    im.load()
    return im


def tiff_pages(data: bytes) -> list[Image.Image]:
    im = Image.open(io.BytesIO(data))
    assert im.format == "TIFF", im.format
    frames = []
    for f in ImageSequence.Iterator(im):
        f.load()
        c = f.copy()
        c.info = dict(f.info)
        c.info["tags"] = dict(f.tag_v2)
        frames.append(c)
    assert len(frames) == im.n_frames
    return frames


def tiffinfo_compressions(path: Path) -> list[str]:
    return re.findall(r"Compression Scheme:\s*(.+)", run("tiffinfo", path))


OFD = "{*}"


def ofd_resolve(base_dir: str, loc: str) -> str:
    loc = loc.strip()
    return posixpath.normpath(loc.lstrip("/") if loc.startswith("/") else posixpath.join(base_dir, loc))


def ofd_read(data: bytes) -> dict:
    """Walk an OFD package: pages with their PhysicalBox, image object and the image resource bytes."""
    z = zipfile.ZipFile(io.BytesIO(data))
    assert z.testzip() is None, "bad CRC in the OFD zip"
    names = z.namelist()
    assert names[0] == "OFD.xml", f"first zip entry is {names[0]!r}, not OFD.xml"
    root = ET.fromstring(z.read("OFD.xml"))
    assert root.tag.endswith("}OFD"), root.tag
    doc_roots = [e.text for e in root.findall(".//" + OFD + "DocRoot")]
    assert doc_roots == ["Doc_0/Document.xml"], doc_roots
    doc_path = doc_roots[0]
    doc_dir = posixpath.dirname(doc_path)
    doc = ET.fromstring(z.read(doc_path))
    # resources (DocumentRes and PublicRes): id -> (format, bytes)
    media = {}
    res_files = [e.text for tag in ("DocumentRes", "PublicRes") for e in doc.findall(".//" + OFD + tag)]
    assert res_files, "Document.xml names no resource file"
    for res_loc in res_files:
        res_path = ofd_resolve(doc_dir, res_loc)
        res = ET.fromstring(z.read(res_path))
        base = ofd_resolve(posixpath.dirname(res_path), res.get("BaseLoc", ""))
        for mm in res.findall(".//" + OFD + "MultiMedia"):
            f = mm.find(OFD + "MediaFile").text
            media[mm.get("ID")] = (mm.get("Format"), z.read(ofd_resolve(base, f)), ofd_resolve(base, f))
    ids = [e.get("ID") for path in names if path.endswith(".xml") for e in ET.fromstring(z.read(path)).iter()
           if e.get("ID") is not None]
    assert len(ids) == len(set(ids)), f"duplicate object IDs: {sorted(ids)}"
    max_unit = doc.find(f"{OFD}CommonData/{OFD}MaxUnitID")
    assert max_unit is not None and int(max_unit.text) >= max(map(int, ids)), (max_unit, ids)
    pages = []
    for pg in doc.findall(".//" + OFD + "Page"):
        content_path = ofd_resolve(doc_dir, pg.get("BaseLoc"))
        content = ET.fromstring(z.read(content_path))
        box = content.find(f"{OFD}Area/{OFD}PhysicalBox")
        if box is None:
            box = doc.find(f"{OFD}CommonData/{OFD}PageArea/{OFD}PhysicalBox")
        objs = list(content.findall(".//" + OFD + "ImageObject"))
        assert len(objs) == 1, f"{content_path}: {len(objs)} image objects"
        pages.append({"box": [float(v) for v in box.text.split()], "box_text": box.text,
                      "boundary": [float(v) for v in objs[0].get("Boundary").split()],
                      "ctm": [float(v) for v in objs[0].get("CTM").split()],
                      "media": media[objs[0].get("ResourceID")], "path": content_path})
    return {"names": names, "pages": pages}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def doc(module_daemon):
    d = module_daemon(SIM_CONFIG, sim=True)
    r = d.api("param=set", {"resolution": {"width": "640", "height": "480"}, "camidx": "0"})
    assert r["code"] == "0", r
    return d


@pytest.fixture(scope="module")
def grabbed(doc):
    """A grab stored under a uuid: (uuid, filepath, JPEG bytes)."""
    r = api_code(doc, "video=grabimage", {"camidx": "0", "image_process_info": {}, "make_uuid": "1"}, "0")
    item = r["images"][0]
    assert re.fullmatch(UUID_PAT, item["uuid"]) and item["filepath"] == f"/images/{item['uuid']}.jpg", item.keys()
    data = b64(item["base64"])
    jpeg_info(data)
    return item["uuid"], item["filepath"], data


def dpi_cases() -> list[tuple[str, bytes, str, tuple[int, int], tuple[float, float]]]:
    """(name, bytes, image_type, pixel size, expected (xdpi, ydpi)) covering every DPI source."""
    exif = Image.Exif()
    exif[296] = 2  # ResolutionUnit inch
    exif[282] = 150.0
    exif[283] = 150.0
    cases = [
        ("jpeg-jfif-300", jpeg((320, 240), 1, dpi=(300, 300)), "jpg", (320, 240), (300, 300)),
        ("jpeg-jfif-300x150", jpeg((240, 320), 2, dpi=(300, 150)), "jpg", (240, 320), (300, 150)),
        ("jpeg-no-density", jpeg((200, 300), 3), "jpg", (200, 300), (DEFAULT_DPI, DEFAULT_DPI)),
        ("jpeg-exif-150", jpeg((320, 240), 4, exif=exif.tobytes()), "jpg", (320, 240), (150, 150)),
        ("png-phys-96", png(scene((240, 160), 5), dpi=(96, 96)), "png", (240, 160), (96, 96)),
        ("png-no-phys", png(scene((160, 120), 6)), "png", (160, 120), (DEFAULT_DPI, DEFAULT_DPI)),
        ("bmp-no-resolution", bmp_without_resolution(scene((100, 80), 7)), "bmp", (100, 80), (DEFAULT_DPI,) * 2),
        ("gif", save(scene((120, 90), 8), "GIF"), "gif", (120, 90), (DEFAULT_DPI, DEFAULT_DPI)),
        ("webp", save(scene((128, 96), 9), "WEBP", lossless=True), "webp", (128, 96), (DEFAULT_DPI,) * 2),
        ("tif-240", save(scene((96, 64), 10), "TIFF", dpi=(240, 240)), "tif", (96, 64), (240, 240)),
    ]
    # the sources themselves say what the test claims
    assert jpeg_info(cases[0][1]).jfif == (1, 300, 300) and jpeg_info(cases[1][1]).jfif == (1, 300, 150)
    assert jpeg_info(cases[2][1]).jfif[0] == 0 and jpeg_info(cases[3][1]).jfif[0] == 0
    assert decode(cases[3][1]).getexif()[282] == 150
    return cases


# --------------------------------------------------------------------------- PDF


def test_pdf_jpeg_pages_embedded_byte_identical(doc, tmp_path):
    """JPEG sources (colour 300 dpi, colour without density, greyscale 100 dpi) are embedded as they are."""
    sources = [jpeg((320, 240), 11, dpi=(300, 300)), jpeg((240, 320), 12),
               jpeg((320, 240), 13, dpi=(100, 100), mode="L")]
    data, _ = merge(doc, "pdf", [src(s, "jpg") for s in sources])
    path = write(tmp_path, "jpeg.pdf", data)
    want = [(320 / 300 * 72, 240 / 300 * 72), (240 / 200 * 72, 320 / 200 * 72), (320 / 100 * 72, 240 / 100 * 72)]
    for sizes in (pypdf_sizes(data), pdfinfo_sizes(path)):
        assert len(sizes) == 3, sizes
        for i, ((w, h), (ww, wh)) in enumerate(zip(sizes, want)):
            close(w, ww, 1e-4, f"page {i + 1} width (pt)")
            close(h, wh, 1e-4, f"page {i + 1} height (pt)")
    images = pdf_images(path, tmp_path)
    assert [(r["page"], r["type"], r["enc"]) for r in images] == [(p, "image", "jpeg") for p in (1, 2, 3)], images
    assert [r["color"] for r in images] == ["rgb", "rgb", "gray"], images
    for row, s in zip(images, sources):
        assert row["path"].suffix == ".jpg", row
        assert row["path"].read_bytes() == s, f"page {row['page']}: embedded JPEG differs from the source"
        assert s in data
        assert (row["width"], row["height"]) == jpeg_info(s).size


def test_pdf_png_and_bmp_lossless(doc, tmp_path):
    """PNG (RGB, palette, greyscale, 1-bit) and BMP sources come back pixel-exact, as extracted
    images and as pages rendered at their own DPI."""
    rgb = noise((160, 120), 21)
    pal = rgb.convert("P", palette=Image.ADAPTIVE, colors=16)
    grey = scene((200, 100), 22, "L")
    bits = scene((320, 240), 23, "1")
    bmp_im = scene((100, 80), 24)
    sources = [(png(rgb), "png", rgb, "RGB"), (png(pal), "png", pal, "RGB"), (png(grey), "png", grey, "L"),
               (png(bits), "png", bits, "L"), (bmp_without_resolution(bmp_im), "bmp", bmp_im, "RGB")]
    data, _ = merge(doc, "pdf", [src(s, t) for s, t, _, _ in sources])
    path = write(tmp_path, "lossless.pdf", data)
    sizes = pypdf_sizes(data)
    images = pdf_images(path, tmp_path)
    assert len(sizes) == len(sources) and [r["page"] for r in images] == [1, 2, 3, 4, 5], images
    for i, ((_, _, im, mode), (w, h), row) in enumerate(zip(sources, sizes, images)):
        page = i + 1
        close(w, im.width / DEFAULT_DPI * 72, 1e-4, f"page {page} width")
        close(h, im.height / DEFAULT_DPI * 72, 1e-4, f"page {page} height")
        assert row["type"] == "image" and row["enc"] != "jpeg", f"page {page} stored lossy: {row}"
        assert same_pixels(Image.open(row["path"]), im, mode), f"page {page}: extracted image differs from the source"
        shown = render_page(path, page, DEFAULT_DPI, tmp_path)
        assert shown.size == im.size, (page, shown.size, im.size)
        assert same_pixels(shown, im, mode), f"page {page}: rendered page differs from the source"


def test_pdf_png_alpha_gets_soft_mask(doc, tmp_path):
    im = Image.new("RGBA", (200, 100), (10, 200, 30, 255))
    d = ImageDraw.Draw(im)
    d.rectangle((20, 20, 80, 60), fill=(200, 0, 0, 100))
    d.rectangle((100, 20, 180, 60), fill=(0, 0, 0, 0))
    data, _ = merge(doc, "pdf", [src(png(im), "png")])
    path = write(tmp_path, "alpha.pdf", data)
    reader = PdfReader(io.BytesIO(data))
    xobjects = reader.pages[0]["/Resources"]["/XObject"]
    assert len(xobjects) == 1, xobjects
    xo = next(iter(xobjects.values())).get_object()
    assert "/SMask" in xo, f"no /SMask on the image of a PNG with alpha: {sorted(xo.keys())}"
    rows = pdf_images(path, tmp_path)
    assert [r["type"] for r in rows] == ["image", "smask"], rows
    colour, mask = Image.open(rows[0]["path"]).convert("RGB"), Image.open(rows[1]["path"]).convert("L")
    assert same_pixels(mask, im.getchannel("A"), "L"), "soft mask differs from the PNG's alpha channel"
    visible = im.getchannel("A").point(lambda v: 255 if v else 0)
    diff = ImageChops.difference(colour, im.convert("RGB"))
    assert ImageChops.multiply(diff, visible.convert("RGB")).getbbox() is None, "colour differs where alpha > 0"
    # rendered over white it looks like the PNG composited over white
    shown = render_page(path, 1, DEFAULT_DPI, tmp_path).convert("RGB")
    over_white = Image.alpha_composite(Image.new("RGBA", im.size, "white"), im).convert("RGB")
    assert shown.size == im.size and max(ImageChops.difference(shown, over_white).getextrema())[1] <= 2


def test_pdf_mixed_sizes_and_dpis(doc, tmp_path):
    """Every page keeps its own size: px / dpi * 72, dpi from JFIF, EXIF, pHYs, BMP/TIFF fields, else 200."""
    cases = dpi_cases()
    data, _ = merge(doc, "pdf", [src(b, t) for _, b, t, _, _ in cases])
    path = write(tmp_path, "mixed.pdf", data)
    py, poppler = pypdf_sizes(data), pdfinfo_sizes(path)
    assert len(py) == len(poppler) == len(cases), (len(py), len(poppler))
    images = pdf_images(path, tmp_path)
    assert [r["page"] for r in images] == list(range(1, len(cases) + 1)), images
    for (name, raw, t, (pw, ph), (xd, yd)), (w, h), (w2, h2), row in zip(cases, py, poppler, images):
        close(w, pw / xd * 72, what=f"{name} page width (pt)")
        close(h, ph / yd * 72, what=f"{name} page height (pt)")
        assert abs(w - w2) < 0.01 and abs(h - h2) < 0.01, (name, (w, h), (w2, h2))
        assert (row["width"], row["height"]) == (pw, ph), (name, row)
        if t == "jpg":
            assert row["enc"] == "jpeg" and row["path"].read_bytes() == raw, f"{name}: JPEG not embedded as is"
        else:
            assert row["enc"] != "jpeg", f"{name}: lossless source stored as JPEG"
            assert same_pixels(Image.open(row["path"]), decode(raw), "RGB"), f"{name}: pixels changed"


# --------------------------------------------------------------------------- TIFF


def test_tif_multipage_compression_and_pixels(doc, tmp_path):
    colour = jpeg((320, 240), 31, dpi=(300, 300))
    bits_im = scene((320, 240), 32, "1")
    bw_grey_im = scene((200, 100), 33, "L").point(lambda v: 255 if v > 128 else 0)
    assert bw_grey_im.getcolors() is not None and {c for _, c in bw_grey_im.getcolors()} == {0, 255}
    colour_png_im = scene((160, 120), 34)
    sources = [src(colour, "jpg"), src(png(bits_im, dpi=(150, 150)), "png"), src(png(bw_grey_im), "png"),
               src(png(colour_png_im), "png")]
    data, _ = merge(doc, "tif", sources)
    path = write(tmp_path, "doc.tif", data)
    frames = tiff_pages(data)
    assert len(frames) == 4, len(frames)
    assert [f.size for f in frames] == [(320, 240), (320, 240), (200, 100), (160, 120)]
    comps = tiffinfo_compressions(path)
    assert len(comps) == 4, comps
    # page 1: colour JPEG source -> JPEG compression, close to the source
    assert frames[0].info.get("compression") == "jpeg" and comps[0].strip() == "JPEG", (frames[0].info, comps)
    assert frames[0].mode == "RGB"
    diff = mean_diff(frames[0], decode(colour))
    assert diff < 3, f"JPEG page differs from the source by {diff:.2f} on average"
    # pages 2, 3: black-and-white sources -> CCITT Group 4, pixel-exact
    for i, im in ((1, bits_im), (2, bw_grey_im)):
        assert frames[i].info.get("compression") == "group4", (i, frames[i].info.get("compression"))
        assert comps[i].strip() == "CCITT Group 4", comps
        assert frames[i].mode == "1", frames[i].mode
        assert same_pixels(frames[i], im, "L"), f"page {i + 1}: bilevel pixels differ"
    # page 4: colour PNG: any compression, but the picture must be there
    assert frames[3].mode == "RGB" and mean_diff(frames[3], colour_png_im) < 3
    # resolution tags
    for f, want in zip(frames, [300, 150, 200, 200]):
        assert f.info["tags"].get(296) in (2, None), f.info["tags"].get(296)  # inch (the default)
        close(float(f.info["tags"][282]), want, what="XResolution")
        close(float(f.info["tags"][283]), want, what="YResolution")
        close(float(f.info["dpi"][0]), want, what="dpi")


def test_tif_resolution_follows_source_dpi(doc):
    cases = dpi_cases()
    data, _ = merge(doc, "tif", [src(b, t) for _, b, t, _, _ in cases])
    frames = tiff_pages(data)
    assert len(frames) == len(cases)
    for (name, raw, t, size, (xd, yd)), f in zip(cases, frames):
        assert f.size == size, (name, f.size)
        close(float(f.info["tags"][282]), xd, what=f"{name} XResolution")
        close(float(f.info["tags"][283]), yd, what=f"{name} YResolution")
        # small pictures with sharp colour edges: JPEG chroma subsampling costs a few levels
        assert mean_diff(f, decode(raw)) < 6, f"{name}: TIFF page does not show the source"


# --------------------------------------------------------------------------- OFD


def test_ofd_structure(doc):
    cases = dpi_cases()
    data, _ = merge(doc, "ofd", [src(b, t) for _, b, t, _, _ in cases])
    ofd = ofd_read(data)
    assert len(ofd["pages"]) == len(cases), [p["path"] for p in ofd["pages"]]
    for (name, raw, t, (pw, ph), (xd, yd)), page in zip(cases, ofd["pages"]):
        wmm, hmm = pw / xd * 25.4, ph / yd * 25.4
        x0, y0, w, h = page["box"]
        assert (x0, y0) == (0, 0), (name, page["box_text"])
        # three decimals: exact for integral JFIF/EXIF densities, within rounding of pels/metre otherwise
        rel = 1e-9 if name.startswith("jpeg") or name in ("gif", "webp", "png-no-phys", "bmp-no-resolution") else 1e-3
        assert abs(w - round(wmm, 3)) <= max(rel * wmm, 0.0006) and abs(h - round(hmm, 3)) <= max(rel * hmm, 0.0006), \
            f"{name}: PhysicalBox {page['box_text']!r}, want 0 0 {wmm:.3f} {hmm:.3f}"
        for v in page["box_text"].split():
            assert len(v.partition(".")[2]) <= 3, f"{name}: more than 3 decimals in {page['box_text']!r}"
        assert page["boundary"] == page["box"], (name, page["boundary"], page["box"])
        assert page["ctm"] == [w, 0, 0, h, 0, 0], f"{name}: image does not fill the page, CTM {page['ctm']}"
        fmt, media, media_path = page["media"]
        assert media_path.startswith("Doc_0/Res/"), media_path
        if t == "jpg":
            assert media == raw, f"{name}: JPEG resource differs from the source"
        else:
            assert same_pixels(decode(media), decode(raw), "RGB"), f"{name}: image resource pixels differ"
        assert decode(media).size == (pw, ph)


def test_ofd_read_by_easyofd(doc):
    """easyofd (an independent OFD parser/renderer) validates: it parses the package (OFD.xml ->
    DocRoot -> Document.xml -> pages -> resources), reports one page per source with the PhysicalBox
    the daemon wrote, finds every page's image resource (its bytes equal the source JPEG), and renders
    one page image per source (via its own PDF conversion) showing the source picture."""
    from easyofd.ofd import OFD as EasyOFD  # prints font warnings on import

    sources = [jpeg((320, 240), 41, dpi=(300, 300)), jpeg((200, 100), 42), jpeg((150, 200), 43, dpi=(100, 100))]
    data, r = merge(doc, "ofd", [src(s, "jpg") for s in sources])
    reader = EasyOFD()
    reader.read(r["base64"], fmt="b64")
    docs = reader.data
    assert len(docs) == 1, docs
    info = docs[0]
    want_boxes = [[0.0, 0.0, round(320 / 300 * 25.4, 3), round(240 / 300 * 25.4, 3)],
                  [0.0, 0.0, 25.4, 12.7], [0.0, 0.0, 38.1, 50.8]]
    assert [list(map(float, b)) for b in info["page_size"]] == want_boxes, info["page_size"]
    images = sorted(info["images"].values(), key=lambda v: v["fileName"])
    assert [b64(v["imgb64"]) for v in images] == sources, "easyofd's image resources differ from the sources"
    pdf = reader.to_pdf()
    assert len(PdfReader(io.BytesIO(pdf)).pages) == len(sources)
    rendered = reader.to_jpg()
    assert len(rendered) == len(sources), len(rendered)
    for i, (page, s) in enumerate(zip(rendered, sources)):
        im = decode(s)
        assert abs(page.width / page.height - im.width / im.height) < 0.02, (i, page.size, im.size)
        assert mean_diff(page, im, im.size) < 5, f"easyofd page {i + 1} does not show the source"


# --------------------------------------------------------------------------- inputs


def test_sources_by_uuid_filepath_and_base64(doc, grabbed, tmp_path):
    uuid, grab_path, grab_jpeg = grabbed
    a = jpeg((320, 240), 51, dpi=(300, 300))
    b_im = scene((160, 120), 52)
    c = jpeg((200, 150), 53)
    store(doc, a, "D:/tmp/doc-a.jpg")
    store(doc, png(b_im), "D:/tmp/doc-b.png", "png")
    body = [{"uuid": uuid}, {"filepath": "D:/tmp/doc-a.jpg"}, {"filepath": "D:\\tmp\\doc-b.png"},
            {"filepath": grab_path}, src(c, "jpg")]
    jpegs = {0: grab_jpeg, 1: a, 3: grab_jpeg, 4: c}
    sizes = [jpeg_info(grab_jpeg).size, (320, 240), (160, 120), jpeg_info(grab_jpeg).size, (200, 150)]
    units, grab_dpi, _ = jpeg_info(grab_jpeg).jfif
    grab_dpi = grab_dpi if units == 1 else DEFAULT_DPI
    dpis = [grab_dpi, 300, DEFAULT_DPI, grab_dpi, DEFAULT_DPI]

    data, _ = merge(doc, "pdf", body)
    path = write(tmp_path, "inputs.pdf", data)
    rows = pdf_images(path, tmp_path)
    assert [r["page"] for r in rows] == [1, 2, 3, 4, 5], rows
    for i, (row, (w, h)) in enumerate(zip(rows, pypdf_sizes(data))):
        assert (row["width"], row["height"]) == sizes[i], (i, row)
        close(w, sizes[i][0] / dpis[i] * 72, what=f"page {i + 1} width")
        if i in jpegs:
            assert row["path"].read_bytes() == jpegs[i], f"page {i + 1}: not the source JPEG"
        else:
            assert same_pixels(Image.open(row["path"]), b_im, "RGB"), "page 3: not the stored PNG"

    frames = tiff_pages(merge(doc, "tif", body)[0])
    assert [f.size for f in frames] == sizes
    for i, f in enumerate(frames):
        want = decode(jpegs[i]) if i in jpegs else b_im
        assert mean_diff(f, want) < 3, f"TIFF page {i + 1} does not show its source"

    pages = ofd_read(merge(doc, "ofd", body)[0])["pages"]
    assert len(pages) == 5
    for i, page in enumerate(pages):
        media = page["media"][1]
        if i in jpegs:
            assert media == jpegs[i], f"OFD page {i + 1}: not the source JPEG"
        else:
            assert same_pixels(decode(media), b_im, "RGB")


BODY_SHAPES = {
    "array": lambda items: items,
    "object": lambda items: {"source_image": items},
    "wrapped-elements": lambda items: [{"source_image": x} for x in items],
    "object-of-wrapped": lambda items: {"source_image": [{"source_image": x} for x in items]},
}


@pytest.mark.parametrize("shape", list(BODY_SHAPES))
@pytest.mark.parametrize("kind", KINDS)
def test_body_shapes(doc, kind, shape, tmp_path):
    a, b = jpeg((120, 90), 61, dpi=(300, 300)), jpeg((90, 120), 62)
    data, _ = merge(doc, kind, BODY_SHAPES[shape]([src(a, "jpg"), src(b, "jpg")]))
    if kind == "pdf":
        rows = pdf_images(write(tmp_path, "s.pdf", data), tmp_path)
        assert [(r["page"], r["path"].read_bytes()) for r in rows] == [(1, a), (2, b)]
    elif kind == "tif":
        assert [f.size for f in tiff_pages(data)] == [(120, 90), (90, 120)]
    else:
        assert [p["media"][1] for p in ofd_read(data)["pages"]] == [a, b]


@pytest.mark.parametrize("kind", KINDS)
def test_concurrent_merges_get_distinct_files(doc, kind):
    results, errors = [], []

    def worker(i):
        try:
            r = api_code(doc, f"imagepro=merge2{kind}", [src(jpeg((64, 48), 70 + i), "jpg")], "0")
            results.append((i, r["filepath"], b64(r["base64"])))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(CALL_TIMEOUT)
    assert not errors, errors
    assert len({fp for _, fp, _ in results}) == 4, [fp for _, fp, _ in results]
    for _, fp, data in results:
        assert (root_of(doc) / fp.lstrip("/")).read_bytes() == data


# --------------------------------------------------------------------------- errors


def error_bodies():
    good = src(jpeg((64, 48), 81), "jpg")
    full = save(noise((160, 120), 82), "JPEG", quality=90)
    full_png = png(noise((160, 120), 83))
    idat = full_png.find(b"IDAT") + 200
    corrupt_png = full_png[:idat] + bytes(50) + full_png[idat + 50:]  # complete file, damaged IDAT data
    return {
        "empty-array": ([], "4", None),
        "empty-object": ({"source_image": []}, "4", None),
        "unknown-uuid": ([good, {"uuid": ZERO_UUID}, good], "8", None),
        "missing-file": ([good, {"filepath": "D:/tmp/no-such-document-source.jpg"}, good], "8", None),
        "truncated-jpeg": ([good, src(full[: len(full) // 2], "jpg"), good], "4", 2),
        "random-bytes-as-jpg": ([good, src(random.Random(84).randbytes(3000), "jpg"), good], "4", 2),
        "truncated-png": ([good, good, src(full_png[: len(full_png) // 2], "png")], "4", 3),
        "png-crc-error": ([good, src(corrupt_png, "png")], "4", 2),
        "escape-dotdot": ([good, {"filepath": "../../etc/passwd"}], "12", None),
        "escape-drive": ([{"filepath": "D:/../x.jpg"}], "12", None),
        "escape-backslash": ([good, {"filepath": "D:\\tmp\\..\\..\\x.jpg"}], "12", None),
    }


ERROR_IDS = list(error_bodies())


@pytest.mark.parametrize("case", ERROR_IDS)
@pytest.mark.parametrize("kind", KINDS)
def test_errors_leave_no_file(doc, kind, case):
    body, code, index = error_bodies()[case]
    root = root_of(doc)
    root.mkdir(parents=True, exist_ok=True)
    before = tree(root)
    r = api_code(doc, f"imagepro=merge2{kind}", body, code)
    assert "base64" not in r or not r["base64"], f"failed call returned a document: {r!r:.300}"
    if index is not None:
        assert re.search(rf"(?<![\d.]){index}(?![\d.])", r["message"]), \
            f"message does not name image {index} (1-based): {r['message']!r}"
    assert tree(root) == before, f"{case}: files changed under the storage root: " \
                                 f"{sorted(set(tree(root)) ^ set(before))}"
    assert not (doc.state_dir / "x.jpg").exists()


def test_bad_json_and_bad_elements(doc):
    r = check_api_reply(doc.post("/imagepro=merge2pdf", b'[{"base64": '))
    assert r["code"] == "1", r
    api_code(doc, "imagepro=merge2pdf", [{}], "4")
    api_code(doc, "imagepro=merge2tif", [src(jpeg((32, 32), 90), "xyz")], "4")
    api_code(doc, "imagepro=merge2ofd", [{"base64": "!!!notbase64", "image_type": "jpg"}], "4")
