#!/usr/bin/env python3
"""A PDF test corpus written by independent writers (reportlab, img2pdf), not by our firmware, for
the renderer comparison (tests/e2e/test_pdf_render.py) and the benchmark (tests/bench/pdf_bench.py).

    python3 tests/pdfcorpus.py OUTDIR      # writes every document into OUTDIR

From tests: `corpus(dir)` writes them all and returns {name: Path}; `DOCUMENTS` maps each name to a
function returning the PDF bytes. Needs the PyPI packages reportlab and img2pdf (and Pillow).
Documents (A4 unless said otherwise):

- en_text.pdf          English paragraphs in Helvetica/Times (standard, non-embedded fonts), 2 pages
- zh_text_embedded.pdf Chinese + English in an embedded TrueType subset of the device's font
                       (WenQuanYi Zen Hei, /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc)
- zh_text_cid.pdf      Chinese in the non-embedded CID font STSong-Light (viewers substitute a font)
- form.pdf             an AcroForm: filled text fields, checkboxes, labels, ruled layout
- scan.pdf             a photo (JPEG) placed on an A4 page by img2pdf, like a scanned page
- vector.pdf           lines, filled shapes, Bezier curves, colours, a table grid
- twenty.pdf           20 mixed pages (headings, paragraphs, a drawing on pages 2, 6, 10, 14, 18)

Every document is deterministic (reportlab's invariant mode: fixed dates and ids).
The device's own merge2pdf output is added by the tests that run the daemon (see `corpus`).
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

CJK_FONT = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"  # the device's font

# The photo of scan.pdf: a real camera photo (a strip of 35 mm film with its DX edge code) from the
# zxing-cpp test samples, licence Apache-2.0 (see /work/shared/testdata/barcodes/README.md).
SCAN_JPEG = Path(os.environ.get("PDFCORPUS_SCAN_JPEG",
                                "/work/shared/testdata/barcodes/samples/dxfilmedge-1/1.jpg"))

LOREM = (
    "The document camera photographs a page lying on the desk, straightens it, and hands the "
    "picture to the kiosk application, which may merge several pages into one PDF document. "
    "The signing screen shows such documents to the customer, page by page, before they sign; "
    "the pages must therefore be legible at the screen's resolution, and quick to turn. "
    "Every paragraph of this test document is set in a standard font, which a viewer draws "
    "with its own substitute, so that small differences in glyph shapes are to be expected. "
)

ZH_PARAS = [
    "文档摄像头拍摄放在桌面上的纸张，自动校正后交给自助终端的应用程序。"
    "多页图像可以合并为一个PDF文件，签名屏逐页显示给客户确认后再签名。",
    "中华人民共和国居民身份证、户口簿、营业执照、合同及发票等材料均可扫描存档。"
    "请核对以上信息，确认无误后在下方签名处签字。",
    "The quick brown fox jumps over the lazy dog. 快速的棕色狐狸跳过了懒狗。0123456789",
]


def _canvas(buf, **kw):
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas
    c = canvas.Canvas(buf, pagesize=kw.pop("pagesize", A4), invariant=1, **kw)
    c.setCreator("pdfcorpus.py (reportlab)")
    return c


def _paragraphs(c, text, font, size, x, y, width, leading=None, limit=60):
    """Draw `text` wrapped to `width` points from (x, y) downwards; the y below the last line."""
    from reportlab.lib.utils import simpleSplit
    leading = leading or size * 1.3
    c.setFont(font, size)
    for line in simpleSplit(text, font, size, width):
        if y < limit:
            break
        c.drawString(x, y, line)
        y -= leading
    return y


def en_text() -> bytes:
    from reportlab.lib.pagesizes import A4
    buf = io.BytesIO()
    c = _canvas(buf)
    w, h = A4
    for page in range(2):
        c.setFont("Helvetica-Bold", 18)
        c.drawString(72, h - 80, f"Document viewer test, page {page + 1}")
        y = h - 115
        for i in range(6):
            font = "Times-Roman" if (i + page) % 2 else "Helvetica"
            c.setFont("Helvetica-Bold", 12)
            c.drawString(72, y, f"{page + 1}.{i + 1} Section heading")
            y = _paragraphs(c, LOREM * 2, font, 11, 72, y - 18, w - 144) - 10
        c.setFont("Helvetica-Oblique", 9)
        c.drawCentredString(w / 2, 40, f"- {page + 1} -")
        c.showPage()
    c.save()
    return buf.getvalue()


def zh_text_embedded() -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    pdfmetrics.registerFont(TTFont("WQYZenHei", CJK_FONT, subfontIndex=0))
    buf = io.BytesIO()
    c = _canvas(buf)
    w, h = A4
    c.setFont("WQYZenHei", 20)
    c.drawString(72, h - 80, "客户确认书 Customer confirmation")
    y = h - 120
    for i in range(4):
        for p in ZH_PARAS:
            y = _paragraphs(c, p, "WQYZenHei", 12, 72, y, w - 144, leading=18) - 8
    c.setFont("WQYZenHei", 12)
    c.drawString(72, 120, "签名 Signature: ____________________    日期 Date: 2024-05-01")
    c.showPage()
    c.save()
    return buf.getvalue()


def zh_text_cid() -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    c = _canvas(buf)
    w, h = A4
    c.setFont("STSong-Light", 20)
    c.drawString(72, h - 80, "客户确认书（宋体，未嵌入字体）")
    y = h - 120
    for i in range(4):
        for p in ZH_PARAS[:2]:
            y = _paragraphs(c, p, "STSong-Light", 12, 72, y, w - 144, leading=18) - 8
    c.showPage()
    c.save()
    return buf.getvalue()


def form() -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    buf = io.BytesIO()
    c = _canvas(buf)
    w, h = A4
    c.setFont("Helvetica-Bold", 16)
    c.drawString(60, h - 70, "Account application form")
    c.setLineWidth(1.5)
    c.rect(50, h - 470, w - 100, 380)
    c.setLineWidth(0.5)
    for i in range(1, 8):
        c.line(50, h - 90 - i * 40, w - 50, h - 90 - i * 40)
    c.line(200, h - 470, 200, h - 90)
    form = c.acroForm
    rows = [("Surname", "surname", "Doe"), ("Given names", "given", "Jane Elizabeth"),
            ("Date of birth", "birth", "1990-04-12"), ("Street", "street", "12 Harbour Road"),
            ("City", "city", "Springfield"), ("Telephone", "phone", "+1 555 0100"),
            ("E-mail", "email", "jane.doe@example.org")]
    for i, (label, name, value) in enumerate(rows):
        y = h - 90 - (i + 1) * 40
        c.setFont("Helvetica", 11)
        c.setFillColor(colors.black)
        c.drawString(60, y + 14, label)
        form.textfield(name=name, tooltip=label, value=value, x=210, y=y + 6, width=w - 270,
                       height=26, fontName="Helvetica", fontSize=12, borderStyle="inset",
                       borderColor=colors.grey, fillColor=colors.Color(0.93, 0.95, 1.0),
                       textColor=colors.black, forceBorder=True)
    y = h - 90 - 8 * 40 + 12
    c.setFont("Helvetica", 11)
    c.drawString(60, y + 4, "Options")
    for j, (name, label, checked) in enumerate([("newsletter", "Newsletter", True),
                                                ("paper", "Paper statements", False),
                                                ("terms", "I accept the terms", True)]):
        x = 210 + j * 115
        form.checkbox(name=name, tooltip=label, x=x, y=y, size=16, checked=checked,
                      buttonStyle="check", borderColor=colors.black,
                      fillColor=colors.white, textColor=colors.black, forceBorder=True)
        c.drawString(x + 22, y + 4, label)
    c.setFont("Helvetica", 9)
    c.drawString(60, h - 500, "Please check the values above before you sign.")
    c.setDash(3, 2)
    c.line(60, h - 560, 300, h - 560)
    c.setDash()
    c.drawString(60, h - 575, "Signature")
    c.showPage()
    c.save()
    return buf.getvalue()


def scan() -> bytes:
    import img2pdf
    a4 = (img2pdf.mm_to_pt(210), img2pdf.mm_to_pt(297))
    layout = img2pdf.get_layout_fun(a4, fit=img2pdf.FitMode.into)
    if SCAN_JPEG.exists():
        jpeg = SCAN_JPEG.read_bytes()
    else:  # a synthesized grey "paper" photo, when the sample is not there
        jpeg = _paper_photo()
    return img2pdf.convert(jpeg, layout_fun=layout, creationdate=None, moddate=None,
                           producer="pdfcorpus.py (img2pdf)", nodate=True)


def _paper_photo() -> bytes:
    from PIL import Image, ImageDraw, ImageFilter
    im = Image.new("L", (1240, 1754), 200)
    d = ImageDraw.Draw(im)
    for y in range(150, 1600, 40):
        d.line((120, y, 1100 - (y * 7) % 300, y), fill=60, width=6)
    im = im.filter(ImageFilter.GaussianBlur(1.5))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=85)
    return out.getvalue()


def _drawing(c, x0, y0, w, h):
    """Lines, filled shapes, curves, colours and a table grid in the box (x0, y0, w, h)."""
    from reportlab.lib import colors
    c.saveState()
    c.setStrokeColor(colors.black)
    c.setLineWidth(2)
    c.rect(x0, y0, w, h)
    # filled shapes
    c.setFillColor(colors.Color(0.85, 0.2, 0.2))
    c.rect(x0 + 20, y0 + h - 120, 120, 90, fill=1, stroke=0)
    c.setFillColor(colors.Color(0.2, 0.6, 0.3))
    c.circle(x0 + 220, y0 + h - 75, 45, fill=1, stroke=1)
    c.setFillColor(colors.Color(0.2, 0.3, 0.85, alpha=0.6))
    c.ellipse(x0 + 290, y0 + h - 120, x0 + 440, y0 + h - 30, fill=1, stroke=0)
    p = c.beginPath()
    p.moveTo(x0 + 20, y0 + h - 140)
    p.lineTo(x0 + 120, y0 + h - 140)
    p.lineTo(x0 + 70, y0 + h - 220)
    p.close()
    c.setFillColor(colors.orange)
    c.drawPath(p, fill=1, stroke=1)
    # curves
    c.setLineWidth(3)
    for i, col in enumerate([colors.purple, colors.teal, colors.brown]):
        c.setStrokeColor(col)
        c.bezier(x0 + 150, y0 + h - 220 + i * 20, x0 + 230, y0 + h - 120, x0 + 330,
                 y0 + h - 300, x0 + w - 20, y0 + h - 160 - i * 20)
    # thin lines, fan
    c.setStrokeColor(colors.black)
    for i in range(24):
        c.setLineWidth(0.25 + i * 0.1)
        c.line(x0 + 20, y0 + 20, x0 + 20 + 200, y0 + 20 + i * 8)
    # table grid
    gx, gy, cw, rh = x0 + 250, y0 + 20, 45, 18
    c.setLineWidth(0.75)
    for r in range(8):
        if r % 2 == 0:
            c.setFillColor(colors.Color(0.9, 0.9, 0.9))
            c.rect(gx, gy + r * rh, cw * 5, rh, fill=1, stroke=0)
    c.setStrokeColor(colors.black)
    for r in range(9):
        c.line(gx, gy + r * rh, gx + cw * 5, gy + r * rh)
    for k in range(6):
        c.line(gx + k * cw, gy, gx + k * cw, gy + 8 * rh)
    c.setFillColor(colors.black)
    c.setFont("Helvetica", 8)
    for r in range(8):
        for k in range(5):
            c.drawRightString(gx + (k + 1) * cw - 3, gy + r * rh + 5, f"{(r + 1) * (k + 3) * 1.25:.2f}")
    c.restoreState()


def vector() -> bytes:
    from reportlab.lib.pagesizes import A4
    buf = io.BytesIO()
    c = _canvas(buf)
    w, h = A4
    c.setFont("Helvetica-Bold", 16)
    c.drawString(60, h - 60, "Vector drawing")
    _drawing(c, 60, h - 420, w - 120, 340)
    _drawing(c, 60, h - 780, w - 120, 340)
    c.showPage()
    c.save()
    return buf.getvalue()


def twenty() -> bytes:
    from reportlab.lib.pagesizes import A4
    buf = io.BytesIO()
    c = _canvas(buf)
    w, h = A4
    for page in range(20):
        c.setFont("Helvetica-Bold", 20)
        c.drawString(72, h - 80, f"Chapter {page + 1}")
        y = h - 110
        if page % 4 == 1:
            _drawing(c, 60, h - 460, w - 120, 340)
            y = h - 490
        for i in range(8):
            c.setFont("Helvetica-Bold", 12)
            c.drawString(72, y, f"{page + 1}.{i + 1} Heading")
            y = _paragraphs(c, LOREM, "Times-Roman" if i % 2 else "Helvetica", 11, 72, y - 17,
                            w - 144) - 10
            if y < 80:
                break
        c.setFont("Helvetica", 9)
        c.drawCentredString(w / 2, 40, f"{page + 1} / 20")
        c.showPage()
    c.save()
    return buf.getvalue()


DOCUMENTS = {
    "en_text": en_text,
    "zh_text_embedded": zh_text_embedded,
    "zh_text_cid": zh_text_cid,
    "form": form,
    "scan": scan,
    "vector": vector,
    "twenty": twenty,
}


def corpus(dir, names=None) -> dict[str, Path]:
    """Write the documents (all, or those in `names`) as DIR/<name>.pdf; {name: Path}. Tests that
    run the daemon add the device's own merge2pdf output to the returned dict themselves."""
    d = Path(dir)
    d.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in names or DOCUMENTS:
        p = d / f"{name}.pdf"
        tmp = p.with_suffix(".tmp")
        tmp.write_bytes(DOCUMENTS[name]())
        tmp.replace(p)
        out[name] = p
    return out


def main(argv):
    if len(argv) != 2:
        print(__doc__.split("\n\n")[1].strip(), file=sys.stderr)
        return 2
    for name, p in corpus(argv[1]).items():
        print(f"{p}  {p.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
