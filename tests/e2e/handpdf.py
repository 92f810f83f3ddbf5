"""One-page PDFs written by hand (a classic cross-reference table), standard library only: shared
by the e2e tests and the QEMU rig's guest scripts, independent of the firmware's own PDF writers."""

HELVETICA = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
# STSong-Light, not embedded, codes are UCS-2 (viewers draw it with a CJK fallback font).
STSONG = (b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H "
          b"/DescendantFonts [<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light "
          b"/CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 2 >> "
          b"/FontDescriptor << /Type /FontDescriptor /FontName /STSong-Light /Flags 6 "
          b"/FontBBox [0 -200 1000 900] /ItalicAngle 0 /Ascent 880 /Descent -120 "
          b"/CapHeight 880 /StemV 80 >> >>] >>")


def text_pdf(content: bytes = b"BT /F1 24 Tf 72 760 Td (Contract: please sign below) Tj ET",
             font2: bytes = HELVETICA) -> bytes:
    """One A4 page of text (F1 Helvetica, F2 `font2`), hand-written (classic xref table)."""
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R /F2 6 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        HELVETICA,
        font2,
    ]
    out = bytearray(b"%PDF-1.4\n")
    offs = []
    for i, o in enumerate(objs):
        offs.append(len(out))
        out += b"%d 0 obj\n" % (i + 1) + o + b"\nendobj\n"
    x = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for o in offs:
        out += b"%010d 00000 n \n" % o
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, x)
    return bytes(out)
