#!/usr/bin/env python3
"""Generates the OpenAPI 3.1 document of the CameraService API: firmware/cameraserviced/ui/openapi.json
(the daemon embeds that file and serves it at GET /openapi.json).

    python3 tests/openapi/gen_openapi.py            write the document
    python3 tests/openapi/gen_openapi.py --check    exit 1 when the committed document (or README's
                                                    compatibility table) is not what this writes
    python3 tests/openapi/gen_openapi.py --stdout   print it instead

Python 3.11, standard library only. The document is built from the tables below: shared schemas,
then one row per endpoint (request fields -> reply fields -> examples), then the WebSocket
functions. Reply fields are typed as the handlers in firmware/cameraserviced/src/*.rs,
firmware/api/src/param.rs and firmware/update/src/lib.rs produce them; where the vendor document
(../shared/spec/cameraservice-api.zh.txt) says otherwise, the reply is what is written here and
the row's description says so. A reply schema requires, when `code` is "0", only the fields its
handler always sends; error replies (any other code, with `message`) validate against every reply
schema. The output is deterministic: paths and components sorted, fields in reply order.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUTPUT = REPO / "firmware" / "cameraserviced" / "ui" / "openapi.json"
SCHEMAS = "#/components/schemas/"


def workspace_version() -> str:
    """The daemon's version: its package's, or the workspace's when it inherits that."""
    pkg = tomllib.loads((REPO / "firmware" / "cameraserviced" / "Cargo.toml").read_text())["package"]
    v = pkg["version"]
    if isinstance(v, dict) and v.get("workspace"):
        return tomllib.loads((REPO / "Cargo.toml").read_text())["workspace"]["package"]["version"]
    return v


# --------------------------------------------------------------------------- schema helpers


def ref(name: str) -> dict:
    return {"$ref": SCHEMAS + name}


def _with(schema: dict, desc: str | None, kw: dict) -> dict:
    if desc:
        schema["description"] = desc
    schema.update(kw)
    return schema


# Reply values: typed exactly as the daemon writes them.
def string(desc: str | None = None, **kw) -> dict:
    return _with({"type": "string"}, desc, kw)


def integer(desc: str | None = None, **kw) -> dict:
    return _with({"type": "integer"}, desc, kw)


def array(items: dict, desc: str | None = None, **kw) -> dict:
    return _with({"type": "array", "items": items}, desc, kw)


def obj(props: dict, required: tuple | list = (), desc: str | None = None, **kw) -> dict:
    """An object with these properties; others are allowed (clients ignore what they do not know)."""
    s = {"type": "object", "properties": props}
    if required:
        s["required"] = list(required)
    return _with(s, desc, kw)


def strings(*names: str, desc: str | None = None, required: bool = True) -> dict:
    """An object of string fields (card data, device information ...)."""
    return obj({n: string() for n in names}, names if required else (), desc)


# Request values. The vendor writes every parameter as a string; the daemon takes strings,
# numbers and booleans interchangeably ("camidx": 0 equals "camidx": "0"; "1", 1, true, "true").
def text(desc: str | None = None, **kw) -> dict:
    return _with({"type": "string"}, desc, kw)


def number(desc: str | None = None, **kw) -> dict:
    return _with({"type": ["string", "number"]}, desc, kw)


def flag(desc: str | None = None, **kw) -> dict:
    return _with({"type": ["string", "integer", "boolean"]}, desc, kw)


CAMIDX = number('Camera: "0" document camera (default), "1" portrait camera, "2" second portrait camera '
                '("3"/"4" the infrared pair where a camera is addressed by index).', default="0")


# --------------------------------------------------------------------------- shared schemas

CODES = [
    ("0", "success"),
    ("1", "the request JSON could not be parsed"),
    ("2", "the device is not connected or is busy"),
    ("3", "the device is open but delivers no data"),
    ("4", "a parameter is missing or has an invalid value (the message names it)"),
    ("8", "not found: unknown endpoint (HTTP 404), function, file, uuid or key"),
    ("9", "function not available: not built on this firmware, hardware absent, or impossible on an appliance"),
    ("10", "too large: request body, JSON, image, merge or document over a limit"),
    ("11", "storage error (disk full, I/O error, quota)"),
    ("12", "path refused (outside the storage root)"),
    ("13", "internal error"),
    ("14", "request refused: its Host or Origin is not allowed (HTTP 403), or a wrong admin token"),
    ("15", "busy: work memory or heavy-job slots stayed taken, or the connection cap is reached (HTTP 503)"),
]

SHARED_SCHEMAS = {
    "Envelope": obj(
        {
            "code": string('Result code, always a string: "0" = success. See the codes table in the '
                           "description of this document; some endpoints add codes of their own.",
                           pattern="^[0-9]+$"),
            "message": string("Empty on success (a few endpoints explain a partial result here); the reason "
                              "on failure. zh-CN by default, English with server.language = \"en\"."),
        },
        ("code", "message"),
        "Every JSON reply: code and message, then the endpoint's fields.",
    ),
    "SourceImage": obj(
        {
            "filepath": text("A stored file (a client path, resolved inside the device's storage root)."),
            "uuid": text("A generated image (make_uuid)."),
            "base64": text("The image itself; data-URL prefixes and URL-safe base64 are accepted."),
            "image_type": text("Type of base64: jpg (default), png, bmp, tif, gif, webp.", default="jpg"),
        },
        desc="One image: give filepath, uuid or base64 (+ image_type).",
    ),
    "Rect": obj(
        {k: text(f"{k}: px (default unit) or %") for k in ("left", "top", "right", "bottom")},
        desc='A rectangle, e.g. {"left":"100px","top":"5%","right":"2000","bottom":"90%"}.',
    ),
    "Pos": obj({k: number() for k in ("top", "left", "width", "height")},
               desc="A window position on the signing screen, px."),
    "ImageProcessInfo": obj(
        {
            "cut_type": number('"0" none (default), "1" automatic document/card detection, "2" custom_rect, '
                               '"3" book flattening and "4" face crop answer code "9".'),
            "multi_object": flag("cut_type 1: every object found, else the largest."),
            "rotate": number("Degrees, a multiple of 90 (negatives allowed; others: code \"4\")."),
            "fixed_width": number("Output size for cut_type 1 (0 or over 6000: ignored)."),
            "fixed_height": number(),
            "split_page": flag("cut_type 1: halve the long side."),
            "reduce_shadow": flag(),
            "color_type": number('"0" colour (default), "1" grey, "2" black-white.'),
            "remove_black_edge": flag(),
            "rect_correct": flag("Perspective correction (else deskew only)."),
            "correct_idcard_direction": flag(),
            "document_type": number('"0" white document, "1" colour page (default), "2" card.'),
            "custom_rect": {"$ref": SCHEMAS + "Rect", "description": "cut_type 2: the rectangle, plus angle (degrees)."},
        },
        desc='Processing of a capture; its presence (even {}) selects the v1.5 reply of video=grabimage.',
    ),
    "ImageStorageInfo": obj(
        {
            "xdpi": number("Resolution written into the JPEG, default 200; clamped to 1-65535."),
            "ydpi": number("Default: xdpi; clamped to 1-65535."),
            "jpg_quality": number("10-100 (clamped), default 80."),
            "max_file_size": number("Bytes; the resolution is reduced until the file fits. 0 = no limit."),
        },
    ),
    "Watermark": obj(
        {
            "pos": number('"0" top left, "1" top right, "2" bottom left, "3" bottom right, "4" centre (default).'),
            "content": text("UTF-8 text; empty = the current local time."),
            "transparency": number("0 (invisible) - 255 (opaque, default); clamped."),
            "fontsize": number("Default 32; over 3000 ignored."),
            "font": text("Accepted and ignored: the device has one font (imaging.font)."),
            "color": text("A colour name (red, green, blue, ...) or #RRGGBB / 0xRRGGBB; default red."),
        },
    ),
    "ImageResult": obj(
        {
            "index": integer("From 0."),
            "filepath": string("With make_uuid: the stored file, /images/<uuid>.jpg (download under /storage/)."),
            "uuid": string("With make_uuid."),
            "base64": string("The JPEG."),
        },
        ("index", "base64"),
    ),
    "StoredImage": obj({"index": integer(), "filepath": string()}, ("index", "filepath")),
    "Barcode": obj({"type": string("ZXing's name: QR_CODE, CODE_128, EAN_13, ..."), "code": string()},
                   ("type", "code")),
    "CacheEntry": obj({"key": string(), "value": string()}, ("key", "value")),
    "IDCardInfo": obj(
        {
            **{n: string() for n in ("name", "sex", "birthday", "address", "cardID", "issueOrgan",
                                      "validStart", "validEnd", "sexCode", "nationCode")},
            "nation": string("Nation name from nationCode (resident cards; \"\" otherwise). Not in the vendor document."),
            "appendMsg": string(),
            "fingerBase64": string("The card's two 512-byte fingerprint templates; \"\" without them."),
            "photoBase64": string("JPEG of the card photo; \"\" without a licensed WLT decoder (idcard.wlt_decoder)."),
            "photoWlt": string("The raw 1024-byte WLT photo blob. Not in the vendor document."),
            **{n: string() for n in ("passportId", "signCount", "nameEn", "cardVersion", "admissibleInstitution")},
            "photoBase64_Z": string("JPEG of the card's front (portrait side) composed on the device from the chip's "
                                    "data; may be \"\". Older vocabulary."),
            "photoBase64_F": string("JPEG of the card's back composed on the device; may be \"\". Older vocabulary."),
            "strIDUID": string("The card serial the reader module reports; \"\" when it reports none. Older vocabulary."),
        },
        ("name", "sex", "birthday", "address", "cardID", "issueOrgan", "validStart", "validEnd", "sexCode",
         "nationCode", "appendMsg", "fingerBase64", "photoBase64", "passportId", "signCount", "nameEn",
         "cardVersion", "admissibleInstitution"),
    ),
    "SocialCardInfo": strings("SocialSecurityNumber", "CardNumber", "Name", "Sex", "Nation", "Birthday",
                              "Birthplace", "CardDistinguishCode", "SocialSecurityCardType", "CardNormVer",
                              "VisaInstitution", "ValidStart", "ValidEnd"),
    "ICCardInfo": strings(
        "CardNumber", "AccountNumber", "Name", "CertificatesType", "CertificatesNo", "Track1", "Track2",
        "Track3", "Balance", "BalanceLimit", "EffectiveDate", "SerialNumber", "CurrencyCode", "PinRetryTime",
        "ExpiryDate", "Atc", "NameExtend", "SingleTradingLimit", "ResetThreshold", "TransactionLimitNumber_I_N",
        "TransactionLimitNumber_I_C", "TradingLimitNumber", "TradingLimitNumber_Double",
        "TransactionAmountUpperLimit", "CurrencyConversionFactor", "TradingFloor", "TradingCeiling", "AppLock",
        "IcCardAID", "AuthorizedAmount", "OtherAmount", "TransactionCurrencyCode", "TransactionDate",
        "TransactionTime", "MerchantNumber",
        desc='PBOC/EMV bank card. Amounts in yuan with two decimals ("12.34"), counters decimal, dates as the '
             'card stores them (YYMMDD); a field the card lacks is "".'),
    "MagCardInfo": strings("Track1", "Track2", "Track3", desc="An unreadable track is \"\" (the message names it)."),
    "DeviceInfo": strings("serial_number", "brand_name", "device_type", "company_name", "credit_code"),
    "Size": obj({"width": string(), "height": string()}, ("width", "height"), "Pixels, as strings."),
    "ScreenPos": strings("x", "y", "width", "height"),
    "UpdateState": obj(
        {
            "state": string(enum=["idle", "receiving", "installing", "done", "failed"]),
            "progress": integer("0-100, RAUC's progress."),
            "operation": string("RAUC's current step."),
            "error": string("Why the last update failed; \"\" otherwise."),
            "bytes": integer("Bytes of the bundle received."),
        },
        ("state", "progress", "operation", "error", "bytes"),
    ),
    "DiagClass": obj({"class": string(), "backend": string('"sim", "v4l2", "none", "" (not built) ...'),
                      "state": string('"configured", "disabled", "not built"'), "detail": string()},
                     ("class", "backend", "state", "detail")),
    "DiagCamera": obj({"camidx": string(), "name": string("video0, video1, video2, videoIR1, videoIR2"),
                       "state": string('"streaming", "ready", "absent"')}, ("camidx", "name", "state")),
    "LogLine": strings("time", "level", "target", "message"),
    "EditorImage": obj({"index": integer(), "url": string("Download address (/storage/...) of the image the editor opens."),
                        "filepath": string(), "saved": string("Where its edit was saved; \"\" if not saved yet.")},
                       ("index", "url", "filepath", "saved")),
    "OcrResult": obj(
        {
            "ocr_result": integer("0 success; the vendor's error numbers otherwise (10.1)."),
            "page_count": integer(),
            "pages": array(obj({
                "page_index": integer(), "block_count": integer(),
                "page_content": array(obj({
                    "location": obj({k: integer() for k in ("left", "top", "right", "bottom")}),
                    "text_base64": string(),
                })),
            })),
        },
    ),
    # WebSocket messages.
    "WsRequest": obj(
        {
            "function": text("A WebSocket name (grab_image ...) or any endpoint written GROUP=ACTION."),
            "params": {"type": ["object", "array", "string"],
                       "description": "The parameters (an array for endpoints that take one; a JSON string holding "
                                      "an object is unwrapped). Fields beside function are parameters too."},
        },
        ("function",),
        "A WebSocket request.",
    ),
    "WsReply": {
        "description": "A WebSocket reply: the HTTP reply's object plus function.",
        "allOf": [ref("Envelope"), obj({"function": string("The function asked for (\"\" when unreadable).")},
                                       ("function",))],
    },
    "WsVideoStreamFrame": {
        "description": "A frame pushed by video_stream, at most framerate (default 5, 1-15) a second.",
        "allOf": [ref("WsReply"), obj({"camidx": string(), "image_base64": string("One preview JPEG.")},
                                      ("camidx", "image_base64"))],
    },
    "UpdateProgressEvent": {
        "description": "Pushed to the connections subscribed to update_progress at every status change.",
        "allOf": [ref("UpdateState"), obj({"event": string(const="update_progress"),
                                           "topic": string(const="update_progress")}, ("event", "topic"))],
    },
    "SignPenEvent": {
        "description": "Pushed to the connections subscribed to sign_pen for the pen's reports on the sign "
                     "window: down and up always, moves at most one per refresh interval of the pen's clock.",
        "allOf": [obj({"event": string(const="sign_pen"), "topic": string(const="sign_pen"),
                       "type": string(enum=["down", "move", "up"]), "x": integer("Screen pixels."),
                       "y": integer("Screen pixels."), "pressure": number("0-1."), "task_id": string()},
                      ("event", "topic", "type", "x", "y", "pressure", "task_id"))],
    },
    "SignPdfInfo": obj(
        {
            "function": string(const="sign_pdf_info"),
            "signature": string("PNG, base64."),
            "file_path": string(),
            "pos": obj({"page": string(), "x": string("0..1"), "y": string("0..1")}),
            "fingerprint": string("PNG, base64 (never sent: this device has no fingerprint module)."),
            "size": obj({"width": string("0..1 of the page's width"), "height": string("0..1 of the page's height")},
                        desc="Appliance extension: the signature's size on the page."),
            "action": string('"signoff" when the signer pressed 完成.'),
            "signed_file_path": string("Appliance extension, with signoff: the signed PDF the device wrote "
                                       "(every signature and remark stamped, an incremental update of the original)."),
            "signed_file_error": string("With signoff: why the signed PDF could not be written."),
        },
        ("function",),
        "Vendor 9.6 server push, to the connection that sent show_sign_pdf only: one per confirmed signature "
        "(signature, file_path, pos unless the 签字 key opened the window), then {function, action: signoff, "
        "file_path, signed_file_path?} when the signer finishes. A client may answer with "
        "{function: sign_pdf_info, code}: taken without a reply.",
    ),
}


# --------------------------------------------------------------------------- endpoints


@dataclass
class Endpoint:
    key: str  # the catalogue's spelling: "video=grabimage", "ocr", "faceLive=start", "serialport=*"
    tag: str
    summary: str
    description: str = ""
    request: dict | None = None  # body object's fields
    body: dict | None = None  # or a whole body schema (JSON arrays)
    reply: dict = field(default_factory=dict)  # fields of the reply, in reply order
    required: tuple = ()  # sent with every code "0" reply
    alternatives: tuple = ()  # field sets of which one is sent with code "0" (reply shapes)
    then: dict | None = None  # more rules for code "0" replies
    built: bool = True  # False: the firmware answers code "9"
    unsupported: str = ""  # with built False: why it never will (the daemon's message)
    ok: dict | None = None  # example of a success reply (fields after code and message)
    ok_message: str = ""
    errors: tuple = ()  # (code, message) examples
    methods: tuple = ("get", "post")
    stream: bool = False  # HTTP answers multipart/x-mixed-replace when it streams
    vendor: str = ""  # section of the vendor document


def not_built_message(key: str) -> str:
    """The daemon's answer for a catalogue entry nobody registered (api::table)."""
    return f"该功能不可用：{key} 尚未在本设备固件中实现"


MISSING = "参数错误：缺少参数 {}"
NO_CAMERA = "设备未连接，或者设备被占用，请检查：摄像头 video0 未连接"
B64_JPEG = "/9j/4AAQSkZJRgABAQEAyADIAAD/2wBDAAMCAgMCAgMDAwMEAwMEBQgFBQQEBQoHBwYIDAoMDAsKCwsN..."
UUID = "03a652e4-e793-4faa-81d7-96f7cc7c6e7a"

GRAB_REQUEST = {
    "camidx": CAMIDX,
    "make_uuid": flag('v1.5: "1" stores the image and returns filepath and uuid.'),
    "image_process_info": ref("ImageProcessInfo"),
    "image_storage_info": ref("ImageStorageInfo"),
    "watermark": ref("Watermark"),
    "filepath": text('v1.0: "" (default) stores under a generated uuid, "base64" only returns the image, '
                     "else the path to store at."),
    "rotate": number("v1.0: degrees, a multiple of 90."),
    "cutpage": flag('v1.0: "0" = no automatic crop (document camera; portrait cameras never crop).'),
    "deskew": flag('v1.0 (older pages): "0" = no crop.'),
    "deskewval": text("v1.0 (older pages): ignored."),
    "width": number("v1.0: output width after the crop (0-6000)."),
    "height": number("v1.0: output height after the crop (0-6000)."),
    "xdpi": number("v1.0: default 200, clamped to 1-65535."),
    "ydpi": number("v1.0: default xdpi."),
    "jquality": number("v1.0: JPEG quality 10-100 (clamped), default 35."),
    "quality": number("v1.0 (older pages): the same as jquality."),
    "ColorMode": number('v1.0 (older pages): "0" colour, "1" grey, "2" black-white.'),
    "max_file_size": number("v1.0: bytes; 0 = no limit."),
}
V15_REPLY = {"image_count": integer("Number of images (more than one with multi_object or split_page)."),
             "images": array(ref("ImageResult"))}
V10_REPLY = {
    "uuid": string('v1.0: the generated name, "" when filepath named a path.'),
    "filepath": string("v1.0: where the image was stored."),
    "photoBase64": string("v1.0: the JPEG (the only field when filepath is \"base64\")."),
    "thumbnail": string("v1.0: a JPEG, long side 160."),
}
MERGE_BODY = {
    "description": "The vendor's form is a JSON array of source_image objects; {\"source_image\": [...]}, "
                   "{\"source_images\": [...]}, a lone source_image object and elements wrapped as "
                   "{\"source_image\": {...}} are accepted too.",
    "anyOf": [
        array(ref("SourceImage")),
        obj({"source_image": array(ref("SourceImage")), "source_images": array(ref("SourceImage"))}),
        ref("SourceImage"),
    ],
}
PARAM_GET_TYPES = ("resolution", "current_resolution", "app_version", "serial_number", "screen_pos",
                   "available_video_type", "video_type", "device_info", "preview_resolution", "get_cache_data",
                   "get_all_cache_data")


def merge_doc(kind: str, ext: str) -> Endpoint:
    return Endpoint(
        f"imagepro=merge2{ext}", "Image processing", f"Merge images into one {kind} document", vendor="6.1",
        description=f"One page per image at its own size and resolution. Stored as /images/<uuid>.{ext} "
                    "(downloadable under /storage/) and returned as base64; nothing is written on failure.",
        body=MERGE_BODY,
        reply={"filepath": string(f"/images/<uuid>.{ext}"), "base64": string(f"The {kind} document.")},
        required=("filepath", "base64"),
        ok={"filepath": f"/images/{UUID}.{ext}", "base64": "JVBERi0xLjcKJeLjz9MK..." if ext == "pdf" else "..."},
        errors=(("4", MISSING.format("source_image")),),
    )


NO_SCREEN = "设备未连接，或者设备被占用，请检查：没有签字屏（配置 signpad.backend）"


def sign(action: str, summary: str, request=None, reply=None, methods=("get", "post"), stream=False,
         vendor="", description="", built=False, **kw) -> Endpoint:
    if built:
        kw.setdefault("errors", (("2", NO_SCREEN),))
        kw.setdefault("ok", {})
    return Endpoint(f"sign={action}", "Signing screen", summary, request=request, reply=reply or {},
                    built=built, methods=methods, stream=stream, vendor=vendor, description=description, **kw)


BUTTON = obj({k: text() for k in ("content", "fontsize", "textcolor", "buttoncolor", "icon", "width", "height",
                                   "type")})

ENDPOINTS: list[Endpoint] = [
    # ---- 3. Camera
    Endpoint(
        "video=stream", "Camera", "Live MJPEG preview of a camera", vendor="3.1", stream=True,
        description="For <img src>: multipart/x-mixed-replace (boundary cameraserviceframe), one JPEG per part, "
                    "at the camera's frame-rate cap; long-lived. Ends with a notice picture when the camera is "
                    "closed or removed. Pages add cache-busters (&tid=...), which are ignored. A camera that "
                    "cannot stream answers a JSON error instead. Over WebSocket: code \"9\" (HTTP only).",
        request={"camidx": CAMIDX, "tid": text("Cache-buster, ignored.")},
        errors=(("2", NO_CAMERA),),
    ),
    Endpoint(
        "video=grabimage", "Camera", "Capture a still image", vendor="3.3 (v1.5), 12.1 (v1.0)",
        description="v1.5 when the body has image_process_info (even {}): image_count + images. Otherwise v1.0 "
                    "(appendix 12.1): uuid, filepath, photoBase64, thumbnail — only photoBase64 when filepath is "
                    "\"base64\". The picture is the next full-resolution frame after the request. WebSocket: "
                    "grab_image.",
        request=GRAB_REQUEST,
        reply={**V15_REPLY, **V10_REPLY},
        alternatives=(("image_count", "images"), ("photoBase64",)),
        ok={"image_count": 1, "images": [{"index": 0, "filepath": f"/images/{UUID}.jpg", "uuid": UUID,
                                          "base64": B64_JPEG}]},
        errors=(("2", NO_CAMERA), ("4", "参数错误：rotate：必须为 90 的倍数，收到 45")),
    ),
    Endpoint(
        "video=status", "Camera", "Camera connection states", vendor="3.4",
        reply={k: string('"no" not connected, "ok" connected, "run" capturing.', enum=["no", "ok", "run"])
               for k in ("video0", "video1", "video2", "videoIR1", "videoIR2")},
        required=("video0", "video1", "video2", "videoIR1", "videoIR2"),
        ok={"video0": "run", "video1": "ok", "video2": "no", "videoIR1": "no", "videoIR2": "no"},
    ),
    Endpoint(
        "video=detectdoc", "Camera", "Automatic document detection", vendor="3.5", built=False,
        description='Vendor codes: "0" started, "5" detection not started, "6" stopped, "100" no document, '
                    '"101" new document, "102" same document as before.',
        request={"action": text("start, stop or status.", enum=["start", "stop", "status"]),
                 "detect_interval": number("Milliseconds, default 500 (start only).")},
    ),
    Endpoint(
        "video=record", "Camera", "Video recording", vendor="3.6", built=False,
        request={"action": text(enum=["start", "stop", "audio", "status"]),
                 "parameter": obj({"camidx": number(default="1"), "width": number(default="640"),
                                   "height": number(default="480"), "audio": text("Audio device name, \"\" = the first."),
                                   "framerate": number(default="10"), "filepath": text("\"\" = a temporary file."),
                                   "watermark": ref("Watermark"), "bit_rate": number(default="400000")})},
        reply={"filepath": string("start: the video file."), "time": string("stop, status: the recording's length."),
               "status": string('status: "100" idle, "101" recording, "102" device error.'),
               "audio": array(string(), "audio: the audio device names.")},
    ),
    Endpoint(
        "video=setproperty", "Camera", "Set one camera control", vendor="3.7",
        description="Only the first control given counts. An out-of-range value sets the control to automatic "
                    "when it has that, else to its default (vendor rule). A control the camera lacks: code \"9\".",
        request={"camidx": CAMIDX, **{k: number() for k in (
            "brightness", "contrast", "hue", "saturation", "sharpness", "gamma", "colorenable", "whitebalance",
            "backlightcompensation", "gain", "pan", "tilt", "roll", "zoom", "exposure", "iris", "focus")}},
        ok={},
        errors=(("4", "参数错误：property：缺少要设置的属性（如 brightness）"),),
    ),
    Endpoint(
        "video=getproperty", "Camera", "Read one camera control", vendor="3.8",
        description='settable "1": the camera lacks the control and no other field follows. is_auto is "1" when '
                    'the control is on automatic (the vendor document contradicts itself on this value).',
        request={"camidx": CAMIDX, "key": text("A control name as in video=setproperty.")},
        reply={"settable": string('"0" settable, "1" not (then no other field).', enum=["0", "1"]),
               **{k: string() for k in ("min", "max", "step", "default", "current")},
               "is_auto": string('"1" automatic, "0" manual.', enum=["0", "1"])},
        required=("settable",),
        then={"if": {"properties": {"settable": {"const": "0"}}},
              "then": {"required": ["min", "max", "step", "default", "current", "is_auto"]}},
        ok={"settable": "0", "min": "0", "max": "255", "step": "1", "default": "128", "current": "128",
            "is_auto": "0"},
        errors=(("4", MISSING.format("key")),),
    ),
    Endpoint(
        "video=open", "Camera", "Open a camera (reference count + 1)", vendor="3.9",
        description="WebSocket: open_camera.", request={"camidx": CAMIDX}, ok={}, errors=(("2", NO_CAMERA),),
    ),
    Endpoint(
        "video=close", "Camera", "Close a camera (reference count - 1; 0 closes it)", vendor="3.10",
        description="WebSocket: close_camera.", request={"camidx": CAMIDX}, ok={}, errors=(("2", NO_CAMERA),),
    ),
    # ---- 4. Cards
    Endpoint(
        "card=idcard", "Cards", "Read a resident ID card", vendor="4.1",
        description='Code "0" with every text field even when the photo could not be decoded: message then says '
                    'so and photoBase64 is "". Errors: reader absent or silent "2"; no card or a failed read "3". '
                    "WebSocket: read_idcard.",
        reply={"cardType": string("A unknown, B mainland without fingerprint, C mainland with fingerprint, "
                                  "J Hong Kong/Macao/Taiwan permit, I foreigner.", enum=["A", "B", "C", "J", "I"]),
               "IDCardInfo": ref("IDCardInfo")},
        required=("cardType", "IDCardInfo"),
        ok={"cardType": "B", "IDCardInfo": {
            "name": "张三", "sex": "男", "birthday": "19900307", "address": "北京市东城区景山前街4号",
            "cardID": "110101199003071234", "issueOrgan": "北京市公安局东城分局", "validStart": "20200101",
            "validEnd": "20400101", "sexCode": "1", "nationCode": "01", "nation": "汉", "appendMsg": "",
            "fingerBase64": "", "photoBase64": "", "photoWlt": "V0xUAAAAA...", "passportId": "", "signCount": "",
            "nameEn": "", "cardVersion": "", "admissibleInstitution": "", "photoBase64_Z": B64_JPEG,
            "photoBase64_F": B64_JPEG, "strIDUID": ""}},
        ok_message="未安装授权的身份证照片解码库（idcard.wlt_decoder）：photoBase64 为空，原始照片数据见 photoWlt",
        errors=(("2", "设备未连接，或者设备被占用，请检查：未配置身份证阅读器（idcard.port）"),),
    ),
    Endpoint(
        "card=getsamid", "Cards", "ID card module serial (SAM ID)", vendor="4.2", description="WebSocket: get_samid.",
        reply={"samID": string("AA.BB-YYYYMMDD-NNNNNNNNNN-NNNNNNNNNN")}, required=("samID",),
        ok={"samID": "05.01-20103213-0000012345-1234567890"},
    ),
    Endpoint(
        "card=sociaseceritycard", "Cards", "Read a social security card (PC/SC)", vendor="4.3 (sic)",
        description="WebSocket: read_sociaseceritycard.",
        reply={"SocialCardInfo": ref("SocialCardInfo")}, required=("SocialCardInfo",),
        ok={"SocialCardInfo": {
            "SocialSecurityNumber": "110101199003071234", "CardNumber": "A12345678", "Name": "王小明", "Sex": "男",
            "Nation": "汉", "Birthday": "19900307", "Birthplace": "110101", "CardDistinguishCode": "110000D156000005",
            "SocialSecurityCardType": "3", "CardNormVer": "3.00", "VisaInstitution": "110000000000",
            "ValidStart": "20210601", "ValidEnd": "20310601"}},
        errors=(("3", "设备打开后获取数据失败，请检查：未检测到卡片，请插卡或放卡"),),
    ),
    Endpoint(
        "card=iccard", "Cards", "Read a bank IC card (PBOC/EMV over PC/SC)", vendor="4.4",
        description="Reading increments the card's transaction counter, as any terminal does. WebSocket: read_iccard.",
        reply={"ICCardInfo": ref("ICCardInfo")}, required=("ICCardInfo",),
        ok={"ICCardInfo": {
            "CardNumber": "6222021234567890123", "AccountNumber": "6222021234567890123", "Name": "ZHANG/SAN",
            "CertificatesType": "00", "CertificatesNo": "110101199003071234", "Track1": "",
            "Track2": "6222021234567890123D30122201000012345", "Track3": "", "Balance": "12.34",
            "BalanceLimit": "1000.00", "EffectiveDate": "201201", "SerialNumber": "01", "CurrencyCode": "0156",
            "PinRetryTime": "3", "ExpiryDate": "301231", "Atc": "18", "NameExtend": "张三",
            "SingleTradingLimit": "500.00", "ResetThreshold": "100.00", "TransactionLimitNumber_I_N": "",
            "TransactionLimitNumber_I_C": "", "TradingLimitNumber": "", "TradingLimitNumber_Double": "",
            "TransactionAmountUpperLimit": "", "CurrencyConversionFactor": "", "TradingFloor": "",
            "TradingCeiling": "", "AppLock": "", "IcCardAID": "A000000333010101", "AuthorizedAmount": "25.00",
            "OtherAmount": "0.00", "TransactionCurrencyCode": "0156", "TransactionDate": "261120",
            "TransactionTime": "103000", "MerchantNumber": "TEST MERCHANT"}},
    ),
    Endpoint("card=init", "Cards", "Open and probe the ID card reader (optional)", vendor="4.5", ok={}),
    Endpoint("card=release", "Cards", "Close the ID card reader (optional)", vendor="4.6", ok={}),
    Endpoint(
        "card=magcard", "Cards", "Wait for a magnetic stripe swipe", vendor="4.7",
        description='Waits up to magcard.timeout_ms for a swipe begun after the call; none: "3". A track the '
                    'reader reports as unreadable is "" and the message names it. WebSocket: read_magcard.',
        reply={"MagCardInfo": ref("MagCardInfo")}, required=("MagCardInfo",),
        ok={"MagCardInfo": {"Track1": "%B6222021234567890^ZHANG/SAN^30122010000000000000?",
                            "Track2": ";6222021234567890=30122010000000000000?", "Track3": ""}},
        errors=(("3", "设备打开后获取数据失败，请检查：等待刷卡超时（20 秒）"),),
    ),
    # ---- 5. System parameters
    Endpoint(
        "param=set", "System parameters", "Set a system parameter", vendor="5.1, 5.2, 5.8, 5.9, 5.12, 5.14, 5.16",
        description="Chosen by type (set_cache_data, clean_cache_data), else by the first setting present, in "
                    "this order: resolution (reply: resolution \"WxH\" applied), preview_resolution (reply: "
                    "preview_resolution, aspect kept), video_type, framerate (clamped to 1-60), "
                    "enable_sign_screen_mouse (\"1\": the signing screen's pen is shared with the kiosk browser as a "
                    "pointer, \"0\": held by the device's own windows; \"2\" without a signing screen) and cutpage "
                    "(\"9\" on this firmware).",
        request={"type": text(enum=["set_cache_data", "clean_cache_data"]), "key": text(), "value": text(),
                 "camidx": CAMIDX,
                 "resolution": obj({"width": number(), "height": number()}),
                 "preview_resolution": obj({"width": number(), "height": number()}),
                 "video_type": text(enum=["MJPG", "YUY2"]), "framerate": number("Preview frames a second to clients."),
                 "enable_sign_screen_mouse": flag(), "cutpage": flag(), "multi_object": flag(),
                 "cutratio": number()},
        reply={"resolution": string('resolution: the size applied, "WxH".'),
               "preview_resolution": ref("Size")},
        ok={"resolution": "2592x1944"},
        errors=(("4", "参数错误：resolution：设备不支持该分辨率，可用：3264x2448|2592x1944|2048x1536"),
                ("9", "该功能不可用：param=set cutpage 尚未在本设备固件中实现")),
    ),
    Endpoint(
        "param=get", "System parameters", "Read a system parameter", vendor="5.3-5.7, 5.10, 5.11, 5.13, 5.15, 5.17",
        description="Chosen by type; the reply carries the field of that type: resolution (\"WxH|WxH|...\"), "
                    "current_resolution (resolution \"WxH\"), app_version, serial_number, screen_pos (pos {x, y, width, height} as "
                    "strings; \"2\" without a signing screen), available_video_type, video_type, device_info, preview_resolution, get_cache_data "
                    "(key, value; an unknown key \"8\"), get_all_cache_data (all_cache_data).",
        request={"type": text(enum=list(PARAM_GET_TYPES)), "camidx": CAMIDX, "key": text("get_cache_data.")},
        reply={"resolution": string(), "app_version": string(), "serial_number": string(),
               "pos": ref("ScreenPos"), "available_video_type": array(string(enum=["MJPG", "YUY2"])),
               "video_type": string(enum=["MJPG", "YUY2"]), "device_info": ref("DeviceInfo"),
               "preview_resolution": ref("Size"), "key": string(), "value": string(),
               "all_cache_data": array(ref("CacheEntry"))},
        ok={"resolution": "3264x2448|2592x1944|2048x1536|1600x1200|1280x960|640x480"},
        errors=(("4", '参数错误：未知的 type ""，可用：resolution、current_resolution、app_version、serial_number、'
                      'screen_pos、available_video_type、video_type、device_info、preview_resolution、get_cache_data、'
                      'get_all_cache_data'),),
    ),
    # ---- 6. Image processing
    merge_doc("PDF", "pdf"),
    merge_doc("multipage TIFF", "tif"),
    merge_doc("OFD", "ofd"),
    Endpoint(
        "imagepro=merge_images", "Image processing", "Merge images into one picture", vendor="6.2",
        request={"make_uuid": flag(), "source_images": array(ref("SourceImage")),
                 "merge_type": number('"0" horizontal, "1" vertical (default).'),
                 "margin": number("px between images, default 5; clamped to 0-2000."),
                 "align": number('"0" left/top, "1" centre (default), "2" right/bottom.'),
                 "image_storage_info": ref("ImageStorageInfo"), "watermark": ref("Watermark")},
        reply={"image": obj({"uuid": string("With make_uuid."),
                             "filepath": string("With make_uuid (not in the vendor document)."),
                             "base64": string("The JPEG.")}, ("base64",))},
        required=("image",),
        ok={"image": {"uuid": UUID, "filepath": f"/images/{UUID}.jpg", "base64": B64_JPEG}},
        errors=(("4", MISSING.format("source_images")),),
    ),
    Endpoint(
        "imagepro=barcode", "Image processing", "Read barcodes", vendor="6.3",
        description="From source_image, else from the document camera's next frame. No code: count 0.",
        request={"source_image": ref("SourceImage"),
                 "roi": obj({k: number("A fraction 0..1.") for k in ("top", "left", "bottom", "right")}),
                 "cut_type": flag('Crop the document first (default on); "0" off.'),
                 "cutpage": flag("Older spelling of cut_type."), "binary": flag("Binarise first (default off).")},
        reply={"count": integer(), "barcode": array(ref("Barcode"))}, required=("count", "barcode"),
        ok={"count": 1, "barcode": [{"type": "QR_CODE", "code": "https://example.com/"}]},
        errors=(("2", NO_CAMERA),),
    ),
    Endpoint(
        "imagepro=process", "Image processing", "Process a given image (as video=grabimage v1.5)", vendor="6.4",
        request={"make_uuid": flag(), "source_image": ref("SourceImage"),
                 "image_process_info": ref("ImageProcessInfo"), "image_storage_info": ref("ImageStorageInfo"),
                 "watermark": ref("Watermark")},
        reply=V15_REPLY, required=("image_count", "images"),
        ok={"image_count": 1, "images": [{"index": 0, "base64": B64_JPEG}]},
        errors=(("4", MISSING.format("source_image")),),
    ),
    Endpoint(
        "imagepro=storage_image", "Image processing", "Store an image given as base64", vendor="6.5",
        description="The bytes are stored unchanged; without output_image.filepath under /images/<uuid>.<ext>. "
                    "The images element carries index as well as filepath (the vendor document names only filepath).",
        request={"source_image": obj({"base64": text(), "image_type": text(default="jpg")}),
                 "output_image": obj({"filepath": text()})},
        reply={"image_count": integer("Always 1."), "images": array(ref("StoredImage"))},
        required=("image_count", "images"),
        ok={"image_count": 1, "images": [{"index": 0, "filepath": "/tmp/a.jpg"}]},
        errors=(("12", "路径不允许：只能访问设备存储区内的文件：../x.jpg"),),
    ),
    Endpoint(
        "imagepro=file2base64", "Image processing", "A stored file as base64", vendor="6.6",
        request={"filepath": text()}, reply={"base64": string()}, required=("base64",), ok={"base64": B64_JPEG},
        errors=(("4", MISSING.format("filepath")),),
    ),
    Endpoint(
        "imagepro=copyfile", "Image processing", "Copy a stored file", vendor="6.7",
        request={"source_file": text(), "target_file": text(),
                 "delete_source_file": flag('"1": remove the source after a successful copy.'),
                 "cover_target_file": flag('"0" (default): an existing target is refused.')},
        ok={}, errors=(("4", MISSING.format("source_file")),),
    ),
    Endpoint(
        "imagepro=start_editor", "Image processing", "Open the image editor on images", vendor="6.8",
        description="Starts an editing session (one at a time; a new one replaces the last) and answers the "
                    "editor page's address: open editor_url in a browser. 1-50 images.",
        request={"sources_images": array(ref("SourceImage"), "The vendor's spelling."),
                 "source_images": array(ref("SourceImage"), "Accepted too.")},
        reply={"session": string(), "editor_url": string("/ui/editor.html?session=<session>"),
               "image_count": integer()},
        required=("session", "editor_url", "image_count"),
        ok={"session": "3f0c9e5d2b7a4c1e9d8f6a5b4c3d2e1f",
            "editor_url": "/ui/editor.html?session=3f0c9e5d2b7a4c1e9d8f6a5b4c3d2e1f", "image_count": 2},
        errors=(("4", MISSING.format("sources_images")),),
    ),
    Endpoint(
        "imagepro=get_editor_images", "Image processing", "The images the editor saved", vendor="6.9",
        description='Only the images saved so far. No session: "8".',
        reply={"image_count": integer(), "images": array(ref("StoredImage"))}, required=("image_count", "images"),
        ok={"image_count": 1, "images": [{"index": 0, "filepath": "/tmp/a_edited.jpg"}]},
        errors=(("8", "未找到：没有编辑会话 （请先调用 imagepro=start_editor）"),),
    ),
    # ---- 7. Face
    Endpoint("face=verifyidcard", "Face", "Portrait camera against the ID card photo", vendor="7.1", built=False,
             request={"camidx": number(default="1"), "multi_face": flag()},
             reply={"result": obj({k: string() for k in ("confidence", "image_camera", "image_idcard", "cardID")})}),
    Endpoint("face=verifybase64", "Face", "Compare two face images", vendor="7.2", built=False,
             request={"face0": text("base64"), "face1": text("base64")},
             reply={"confidence": string("0-100")}),
    Endpoint("face=startlivedetection", "Face", "Start liveness detection", vendor="7.3", built=False,
             request={"camidx": number(default="1"), "time": number("Seconds, default 5."),
                      "blocking_mode": flag(), "blocking_param": obj({"cutface": flag()})}),
    Endpoint("face=islive", "Face", "Liveness result", vendor="7.4", built=False,
             description='Vendor code "1": detection still running.',
             request={"cutface": flag()}, reply={"image": string(), "cost": string("Milliseconds.")}),
    # ---- 8. Fingerprint
    Endpoint("fp=read", "Fingerprint", "Read a fingerprint", vendor="8.1", built=False,
             reply={"bmp": string(), "raw": string(), "feature": string()}),
    Endpoint("fp=verify", "Fingerprint", "Compare fingerprints", vendor="8.2", built=False,
             body=array(obj({"bmp": text(), "raw": text(), "feature": text()}),
                        "One element: compared with a live capture; two: with each other."),
             reply={"confidence": string("0-100")}),
    # ---- 9. Signing screen
    sign("start", "Show the signing window", vendor="9.1", built=True,
         description="pos: {left, top, width, height} in px, or {left, top, right, bottom} with px or %; default "
                     "the whole screen; at least 64x48; moved inside the screen, never cut off. opacity 0-100 "
                     "(clamped). background_image stretched to the window. valid_sign_rect and button_rect in "
                     "the window's px or %. A new start replaces the window and task shown before.",
         request={"pos": ref("Pos"), "left": text(), "top": text(), "right": text(), "bottom": text(),
                  "tip_message": obj({"content": text(), "fontsize": number(), "color": text()}),
                  "opacity": number("0-100"), "background_image": ref("SourceImage"), "valid_sign_rect": ref("Rect"),
                  "sign_buttons_info": array(obj({"button_name": text(enum=["sign_ok_button", "sign_reset_button",
                                                                          "sign_return_button"]),
                                                  "text": text(), "visible": flag(), "button_rect": ref("Rect")})),
                  "remark": text()},
         reply={"task_id": string()}, required=("task_id",),
         ok={"task_id": "5f0c7a9e-3b1d-4c2a-9f8e-1a2b3c4d5e6f"}),
    sign("stop", "Close the signing window", vendor="9.2", built=True,
         description="A task being signed becomes idle (0); a confirmed signature stays."),
    sign("get", "The signature image", vendor="9.3", built=True,
         description='The confirmed signature: a PNG with a transparent background at the window\'s size, and '
                     'the task\'s remark. Code "1": no signature yet (the vendor\'s code); an unknown task_id "8".',
         request={"task_id": text()}, reply={"image": string("PNG, base64."), "remark": string()},
         required=("image", "remark"), ok={"image": "iVBORw0KGgo=", "remark": ""}),
    sign("status", "Signing state", vendor="9.7", request={"task_id": text()}, built=True,
         reply={"status": string("0 idle, 1 signing, 2 done."), "task_id": string()},
         required=("status", "task_id"), ok={"status": "1", "task_id": "5f0c7a9e-3b1d-4c2a-9f8e-1a2b3c4d5e6f"}),
    sign("reset_status", "Reset the signing state", vendor="9.14", built=True,
         description="A confirmed signature is forgotten (state 0); a window being signed is cleared."),
    sign("reset_sign_device", "Reset the signing screen", vendor="9.12", built=True),
    sign("browser", "Show a web page on the signing screen", vendor="9.4", built=True,
         description="The display is handed to the kiosk browser (signpad.browser_command; cog with its DRM "
                     "platform on the device) showing url, http:// or https:// only (others \"4\"); "
                     "enable_sign_screen_mouse as param=set 5.8. A new page replaces the one shown; the "
                     "display comes back when the page is closed or the browser ends. \"2\" when no browser "
                     "is configured or it ends at once. Windows stay open underneath but get no pen meanwhile.",
         request={"url": text(), "enable_sign_screen_mouse": flag(default="1")}),
    sign("closebrowser", "Close the web page", vendor="9.5", built=True,
         description="Ends the browser (SIGTERM, SIGKILL after 3 s) and redraws the device's own screen; "
                     "nothing shown: nothing to do."),
    sign("showevaluator", "Show the evaluation window", vendor="9.8", built=True,
         description="Defaults as the vendor's: (340, 280) 600x240, the tip 请您对我们的服务进行评价 and four "
                     "buttons 非常满意/基本满意/一般/不满意 with face icons 0-3; icon is \"0\"-\"3\" (built-in faces), "
                     "a stored picture's path or base64. At most 12 buttons; moved inside the screen. A choice "
                     "closes the window; its result stays until the next showevaluator.",
         request={"pos": ref("Pos"), "tip_message": obj({k: text() for k in ("content", "fontsize", "textcolor",
                                                                               "backgroundcolor")}),
                  "buttons": array(BUTTON)}),
    sign("closeevaluator", "Close the evaluation window", vendor="9.9", built=True),
    sign("getevaluatorresult", "The evaluation chosen", vendor="9.10", built=True,
         description='Vendor code "1": no result yet.',
         reply={"result": string("The content of the button pressed.")}, required=("result",),
         ok={"result": "非常满意"}),
    sign("showefloatingbuttongroup", "Show a floating button group (sic)", vendor="9.15", built=True,
         description="Default (950, 700) 256x64 with 确认 and 取消, moved inside smaller screens; a button's "
                     "width and height are given together (8-4000 px). The group stays until closed.",
         request={"pos": ref("Pos"), "buttons": array(BUTTON)}),
    sign("closefloatingbuttongroup", "Close the floating button group", vendor="9.16", built=True),
    sign("getfloatingbuttongroupresult", "The floating button pressed", vendor="9.17", built=True,
         description='The last press, cleared once read; vendor code "1": none since the last read.',
         reply={"result": string()}, required=("result",), ok={"result": "确认"}),
    sign("showadvertisingplayer", "Slide show on the signing screen", vendor="9.18", built=True,
         description="1-30 pictures (stored paths or base64), each fitted to the screen with bars, shown "
                     "time seconds (1-3600, clamped) with a 0.6 s cross-fade, in a loop under every other window.",
         request={"piclist": array(text(), "Paths or base64 images."), "time": number("Seconds, default 5.")}),
    sign("closeadvertisingplayer", "Stop the slide show", vendor="9.19", built=True),
    sign("stream", "Live MJPEG picture of the signing screen", vendor="9.11", stream=True, built=True,
         description="multipart/x-mixed-replace of the whole screen, 15 frames/s at most while it changes and "
                     "once a second while it stands still; a JSON error without a screen."),
    sign("set_recv_hwnd", "Windows window messages with pen points", vendor="9.13",
         description="Impossible on an appliance (no window handles); the live pen points are WebSocket "
                     "events instead (subscribe to the topic sign_pen).",
         unsupported="本设备不支持 Windows 窗口消息（没有窗口句柄）；实时笔迹请订阅 WebSocket 主题 sign_pen",
         request={"hwnd": text(), "message_type": text()}),
    # ---- 10. OCR
    Endpoint("ocr", "OCR", "Text recognition", vendor="10.1", built=False,
             request={"type": text(enum=["file", "json"]), "source_images": array(ref("SourceImage")),
                      "output_file": text("txt, doc, docx, xls, xlsx, ppt, pptx or pdf by its extension.")},
             reply={"output_file": string("type file."), "json": ref("OcrResult")}),
    # ---- 11. Barcode scanner
    Endpoint("barcode_scanner=open", "Barcode scanner", "Open the barcode scanner", vendor="11.1", built=False,
             request={"baud_rate": number("1200-115200, default 115200.")}),
    Endpoint("barcode_scanner=get", "Barcode scanner", "The last code scanned (cleared once read)", vendor="11.2",
             built=False, reply={"barcode": string()}),
    Endpoint("barcode_scanner=close", "Barcode scanner", "Close the barcode scanner", vendor="11.3", built=False),
    # ---- Older vocabulary (README "Older vocabulary"): parameters are strings, the answer in data.
    Endpoint(
        "video=rotate", "Older vocabulary", "Turn the live preview",
        description="Added to the rotation so far; \"90\" turns left, \"270\" or \"-90\" right. Grabs are not turned.",
        request={"camidx": CAMIDX, "rotate": number("Degrees, a multiple of 90.")},
        reply={"data": string("The rotation now, degrees counter-clockwise.")}, required=("data",),
        ok={"data": "90"}, errors=(("4", MISSING.format("rotate")),),
    ),
    Endpoint("video=autoflat", "Older vocabulary", "Book flattening", built=False),
    Endpoint("video=ocr", "Older vocabulary", "Text recognition of a capture", built=False),
    Endpoint(
        "device=isconnect", "Older vocabulary", "How many cameras are connected",
        reply={"data": string('A number as a string, "0" when none.')}, required=("data",), ok={"data": "2"},
    ),
    Endpoint(
        "device=getresolution", "Older vocabulary", "Capture sizes of a camera",
        request={"camidx": CAMIDX, "mode": text('"0" YUY2, "1" MJPG; absent: the format in use.')},
        reply={"data": string('"W*H|W*H|...", largest first; "" when the camera lacks the format.')},
        required=("data",), ok={"data": "3264*2448|2592*1944|2048*1536|1600*1200|1280*960|640*480"},
        errors=(("2", NO_CAMERA),),
    ),
    Endpoint(
        "device=setresolution", "Older vocabulary", "Set format and capture size",
        request={"camidx": CAMIDX, "mode": text('"0" YUY2, "1" MJPG.'), "width": number(), "height": number()},
        reply={"data": string('"W*H" applied.')}, required=("data",), ok={"data": "2592*1944"},
        errors=(("2", NO_CAMERA),),
    ),
    Endpoint(
        "device=getequipmenttype", "Older vocabulary", "Device type",
        reply={"data": string("[device] device_type of the configuration.")}, required=("data",), ok={"data": ""},
    ),
    Endpoint("device=a3a4switch", "Older vocabulary", "A3/A4 switch", built=False),
    Endpoint(
        "pdf=addimage", "Older vocabulary", "Queue an image for this client's PDF",
        description="Queued by the client's address: at most 200 images and 64 MiB per client.",
        request={"ImageBase64": text(), "ImagePath": text("A stored file.")},
        reply={"data": string("Images queued, as a string.")}, required=("data",), ok={"data": "1"},
        errors=(("4", MISSING.format("ImageBase64")),),
    ),
    Endpoint(
        "pdf=save", "Older vocabulary", "The queue as one PDF",
        description="Stored at PdfPath when it is a path inside the storage root ending in .pdf, else under a "
                    "generated name (a PC path such as D://x.pdf). The queue stays until pdf=clear.",
        request={"PdfPath": text()},
        reply={"data": string("The PDF, base64."), "filepath": string()}, required=("data", "filepath"),
        ok={"data": "JVBERi0xLjcKJeLjz9MK...", "filepath": f"/images/{UUID}.pdf"},
        errors=(("4", "参数错误：PDF 队列为空：请先用 pdf=addimage 加入图像"),),
    ),
    Endpoint("pdf=clear", "Older vocabulary", "Empty this client's PDF queue", ok={}),
    Endpoint(
        "barcode=get", "Older vocabulary", "Wait for a barcode in front of the document camera",
        description='Reads frames until a code is found or time runs out: then "3" (the older services say "1").',
        request={"time": number("Seconds, default 20; clamped to 1-60.")},
        reply={"data": array(obj({"barcodedata": string()}, ("barcodedata",)))}, required=("data",),
        ok={"data": [{"barcodedata": "6901234567892"}]},
        errors=(("3", "设备打开后获取数据失败，请检查：1 秒内未识别到条码"),),
    ),
    Endpoint("biokey=get", "Older vocabulary", "Fingerprint (older name)", built=False),
    Endpoint("comparison=imgdata", "Older vocabulary", "Face comparison (older name)", built=False),
    Endpoint("faceLive=start", "Older vocabulary", "Liveness detection (older name)", built=False),
    Endpoint(
        "camera=state", "Older vocabulary", "Open state of every camera",
        description="No data field: the SDK that reads it would take data instead.",
        reply={"state": string('"opened"/"closed" for camidx 0-4, comma-separated.',
                               pattern="^(opened|closed)(,(opened|closed))*$")},
        required=("state",), ok={"state": "opened,closed,closed,closed,closed"},
    ),
    Endpoint("serialport=*", "Older vocabulary", "Serial port (any action)", built=False,
             description="Every action of the serialport group reaches one handler, which reads the action asked for."),
    # ---- The appliance's own
    Endpoint(
        "diag=status", "Appliance", "Diagnostics for the demo page",
        reply={"version": string("Firmware version."), "uptime_seconds": integer(),
               "serial_number": string(), "classes": array(ref("DiagClass")), "cameras": array(ref("DiagCamera")),
               "update": obj({"state": string('As update=status, or "unavailable".'), "progress": integer()},
                             ("state", "progress")),
               "signpad_latency_ms": obj({"samples": integer(), "p50": number(), "p95": number()},
                                         ("samples", "p50", "p95"),
                                         "With a signing screen: ms from pen events (evdev time stamps) to "
                                         "the present that showed them, the last 1000.")},
        required=("version", "uptime_seconds", "serial_number", "classes", "cameras", "update"),
        ok={"version": "0.1.0", "uptime_seconds": 42, "serial_number": "",
            "classes": [{"class": "cameras", "backend": "v4l2", "state": "configured", "detail": ""},
                        {"class": "ocr", "backend": "", "state": "not built",
                         "detail": "not in this firmware yet: its endpoints answer code \"9\""}],
            "cameras": [{"camidx": "0", "name": "video0", "state": "ready"},
                        {"camidx": "1", "name": "video1", "state": "absent"}],
            "update": {"state": "idle", "progress": 0}},
    ),
    Endpoint(
        "diag=log", "Appliance", "The most recent log lines",
        request={"lines": _with({"type": ["integer", "string"]}, "1-500 (clamped), default 100.",
                                {"minimum": 1, "maximum": 500, "default": 100})},
        reply={"lines": array(ref("LogLine"), "Oldest first.")}, required=("lines",),
        ok={"lines": [{"time": "2026-12-03 20:24:35", "level": "INFO", "target": "cameraserviced",
                       "message": "listening addr=0.0.0.0:38088"}]},
    ),
    Endpoint(
        "editor=session", "Appliance", "The editor page's session",
        request={"session": text()},
        reply={"session": string(), "images": array(ref("EditorImage"))}, required=("session", "images"),
        ok={"session": "3f0c9e5d2b7a4c1e9d8f6a5b4c3d2e1f",
            "images": [{"index": 0, "url": "/storage/tmp/a.jpg", "filepath": "/tmp/a.jpg", "saved": ""}]},
        errors=(("4", MISSING.format("session")),
                ("8", "未找到：没有编辑会话 x（请先调用 imagepro=start_editor）")),
    ),
    Endpoint(
        "editor=save", "Appliance", "Save an edited image",
        description="Saved beside its source as <name>_edited.<ext> (a free name, never over another file), "
                    "the same file again when saved before in the same format.",
        request={"session": text(), "index": _with({"type": ["integer", "string"]}, "The image's index.", {}),
                 "base64": text("The edited image, JPEG or PNG.")},
        reply={"filepath": string()}, required=("filepath",), ok={"filepath": "/tmp/a_edited.jpg"},
        errors=(("4", MISSING.format("session")),),
    ),
]


# --------------------------------------------------------------------------- over-the-air updates, pages

UPDATE_AUTH = [{"adminToken": []}]
UPDATE_ROUTES = [
    # key, methods, summary, description, reply fields, required, ok example
    ("update=install", ("post",), "Upload and install a RAUC bundle",
     "Body: the bundle, raw bytes (streamed to the data partition). Answers at once with state "
     "\"installing\"; then RAUC installs it. ?reboot=1 restarts the device when the install succeeded. "
     "Over update.max_bundle_bytes: HTTP 413, \"10\"; empty body \"4\"; RAUC absent or busy, or another "
     "update running: \"9\".",
     ref("UpdateState"), None,
     {"state": "installing", "progress": 0, "operation": "", "error": "", "bytes": 104857600}),
    ("update=status", ("get", "post"), "State of the update",
     "booted_slot, compatible and rauc come from RAUC's D-Bus properties; when RAUC is not reachable they are "
     "\"\", \"\" and \"unavailable: <reason>\".",
     ref("UpdateState"), obj({"booted_slot": string(), "compatible": string(), "rauc": string("RAUC's operation.")},
                             ("booted_slot", "compatible", "rauc")),
     {"state": "idle", "progress": 0, "operation": "", "error": "", "bytes": 0, "booted_slot": "A",
      "compatible": "cameraservice-rpi4", "rauc": "idle"}),
    ("update=reboot", ("post",), "Restart the device", "Refused (\"9\") while an update is being installed.",
     None, None, {}),
]

PAGES = {
    "/": ("Demo and diagnostics page", "text/html",
          "Served when the request names no endpoint (a plain GET /)."),
    "/ui/{file}": ("The device's own pages and scripts", "text/html",
                   "index.html (the demo page), editor.html (the image editor of imagepro=start_editor), their "
                   "scripts (*.js, text/javascript) and style.css. An unknown file: HTTP 404 with code \"8\"."),
}


# --------------------------------------------------------------------------- WebSocket

# (name, catalogue list in api::table, the HTTP endpoint it runs, description)
WS_FUNCTIONS = [
    ("grab_image", "WS_ALIASES", "video=grabimage", "Vendor 3.3."),
    ("read_idcard", "WS_ALIASES", "card=idcard", ""),
    ("get_samid", "WS_ALIASES", "card=getsamid", ""),
    ("read_sociaseceritycard", "WS_ALIASES", "card=sociaseceritycard", ""),
    ("read_iccard", "WS_ALIASES", "card=iccard", ""),
    ("read_magcard", "WS_ALIASES", "card=magcard", ""),
    ("open_camera", "WS_ONLY", "video=open", "Legacy camera function: the handler of video=open."),
    ("close_camera", "WS_ONLY", "video=close", "Legacy camera function: the handler of video=close."),
    ("video_stream", "WS_ONLY", None,
     "Legacy preview: {camidx, framerate (1-15, default 5)} answers {camidx} and then pushes WsVideoStreamFrame "
     "messages until the connection closes or {\"action\": \"stop\"} is sent; one stream per connection and camera."),
    ("show_sign_pdf", "WS_ONLY", None,
     "Vendor 9.6: show a PDF on the signing screen {file_path (storage) | base64, pos, update, sign, default_mode "
     "drag|sign|remark, preview_zoom 1-100|no_zoom|fit_width|fit_height (default the whole page), "
     "long_press_trigger_sign, fingerprint, keyword (appliance extension: open the sign window right of the "
     "first place this text is drawn)}. Pushes SignPdfInfo to this connection. Not a PDF, encrypted, no pages, "
     "bad options: \"4\"; no screen: \"2\"."),
    ("close_sign_pdf", "WS_ONLY", None, "Vendor 9.6: close the document viewer and its sign window (no sign-off)."),
    ("sign_pdf_info", "WS_ONLY", None, "Vendor 9.6: server push (SignPdfInfo). A client's answer carrying code is "
                                       "taken without a reply; without code: \"4\"."),
    ("get_param", "OLDER_WS_ONLY", "param=get", "The handler of param=get."),
    ("get_resolution", "OLDER_WS_ONLY", "param=get", "param=get with type \"resolution\" unless given."),
    ("set_resolution", "OLDER_WS_ONLY", "param=set", "param=set; width/height at the top level become resolution."),
    ("set_cutpage", "OLDER_WS_ONLY", "param=set", "param=set with cutpage (\"9\" on this firmware)."),
    ("subscribe", "api::ws", None, "{topics: [\"update_progress\", \"sign_pen\"]} (or one string): events of those topics are "
                                   "pushed to this connection. Unknown topic: \"4\"."),
    ("unsubscribe", "api::ws", None, "{topics: [...]}; no topics: all."),
]
WS_ONLY_REPLIES = {
    "video_stream": {"allOf": [ref("WsReply"), obj({"camidx": string()}, ("camidx",))]},
    "subscribe": {"allOf": [ref("WsReply"), obj({"topics": array(string(), "The connection's topics now.")},
                                                ("topics",))]},
}
WS_ONLY_REPLIES["unsubscribe"] = WS_ONLY_REPLIES["subscribe"]
WS_ONLY_REPLIES["show_sign_pdf"] = {"allOf": [ref("WsReply"), obj({
    "page_count": string("Pages of the document shown."),
    "keyword_found": string('"true"/"false", when keyword was given.'),
    "keyword_pos": obj({"page": string(), "x": string("0..1"), "y": string("0..1")},
                       desc="Where the signature goes next to the keyword (its top-left)."),
    "fingerprint": string("When fingerprint was asked: why no fingerprint is collected."),
})]}


# --------------------------------------------------------------------------- document


def camel(key: str) -> str:
    """video=grabimage -> VideoGrabimage, faceLive=start -> FaceLiveStart, serialport=* -> SerialportAny."""
    parts = key.replace("=", "_").replace("*", "any").split("_")
    return "".join(p[:1].upper() + p[1:] for p in parts if p)


def path_of(key: str) -> str:
    return "/" + key.replace("*", "{action}")


def envelope_example(code: str, message: str, fields: dict | None = None) -> dict:
    return {"code": code, "message": message, **(fields or {})}


def reply_schema(e: Endpoint) -> dict:
    desc = f"Reply of {e.key}."
    if e.unsupported:
        desc += (' Not supported on this device: every call answers code "9". The properties are the vendor '
                 "document's reply fields.")
    elif not e.built:
        desc += (' Not built on this firmware: every call answers code "9". The properties are the vendor '
                 "document's reply fields.")
    s: dict = {"description": desc, "allOf": [ref("Envelope")]}
    if e.reply:
        s["type"] = "object"
        s["properties"] = e.reply
    then: dict = {}
    if e.required:
        then["required"] = list(e.required)
    if e.alternatives:
        then["anyOf"] = [{"required": list(a)} for a in e.alternatives]
    if e.then:
        then.update(e.then)
    if then:
        s["if"] = {"properties": {"code": {"const": "0"}}}
        s["then"] = then
    return s


def reply_examples(e: Endpoint) -> dict:
    ex = {}
    if e.built and e.ok is not None:
        ex["success"] = {"summary": "Success", "value": envelope_example("0", e.ok_message, e.ok)}
    for code, message in e.errors:
        ex[f"error_{code}"] = {"summary": f"Error {code}", "value": envelope_example(code, message)}
    if e.unsupported:
        ex["not_supported"] = {"summary": "Not supported on this device",
                               "value": envelope_example("9", e.unsupported)}
    elif not e.built:
        key = e.key.lower().replace("*", "open")
        ex["not_built"] = {"summary": "Not built on this firmware",
                           "value": envelope_example("9", not_built_message(key))}
    return ex


def operation(name: str, method: str, tag: str, summary: str, description: str = "", **kw) -> dict:
    op = {"tags": [tag], "summary": summary, "operationId": f"{name}_{method}"}
    if description:
        op["description"] = description
    op.update(kw)
    return op


REFUSED = {"$ref": "#/components/responses/Refused"}


def endpoint_path(e: Endpoint, comps: dict) -> dict:
    name = camel(e.key)
    comps["schemas"][f"{name}Reply"] = reply_schema(e)
    json_content = {"schema": ref(f"{name}Reply"), "examples": reply_examples(e)}
    content = {"application/json": json_content}
    desc = "The reply (API failures are HTTP 200 too: read code)."
    if e.stream:
        content = {"multipart/x-mixed-replace": {"schema": {"type": "string", "contentMediaType": "image/jpeg",
                                                          "description": "Parts of one JPEG each."}},
                   **content}
        desc = "The MJPEG stream, or a JSON reply when the camera cannot stream."
    comps["responses"][name] = {"description": desc, "content": content}
    body = e.body if e.body is not None else obj(e.request or {}, desc="Parameters; unknown fields are ignored.")
    comps["requestBodies"][name] = {
        "description": "JSON text whatever the Content-Type; query parameters are merged in (the body wins).",
        "content": {"application/json": {"schema": body}},
    }
    item: dict = {"summary": e.summary}
    parts = []
    if e.description:
        parts.append(e.description)
    if e.vendor:
        parts.append(f"Vendor document section {e.vendor}.")
    if e.unsupported:
        parts.append('Not supported on this device: answers code "9".')
    elif not e.built:
        parts.append('Not built on this firmware: answers code "9".')
    if parts:
        item["description"] = " ".join(parts)
    if e.key.endswith("*"):
        item["parameters"] = [{"name": "action", "in": "path", "required": True, "schema": {"type": "string"},
                               "description": "Any action of the group (open, close, write, ...)."}]
    for method in e.methods:
        op = operation(name, method, e.tag, e.summary,
                       responses={"200": {"$ref": f"#/components/responses/{name}"}, "403": REFUSED})
        if method == "post":
            op["requestBody"] = {"$ref": f"#/components/requestBodies/{name}"}
        if not e.built:
            op["x-available"] = False
        item[method] = op
    return item


def update_paths(comps: dict) -> dict:
    paths = {}
    for key, methods, summary, description, fields, extra, ok in UPDATE_ROUTES:
        name = camel(key)
        schema: dict = {"description": f"Reply of {key}.", "allOf": [ref("Envelope")]}
        if fields:
            then = {"allOf": [fields] + ([extra] if extra else [])}
            schema["if"] = {"properties": {"code": {"const": "0"}}}
            schema["then"] = then
        comps["schemas"][f"{name}Reply"] = schema
        examples = {"success": {"summary": "Success", "value": envelope_example("0", "", ok)},
                    "error_9": {"summary": "Update API off",
                                "value": envelope_example("9", "该功能不可用：升级接口未启用（未配置 update.admin_token）")}}
        comps["responses"][name] = {"description": "The reply.",
                                    "content": {"application/json": {"schema": ref(f"{name}Reply"),
                                                                     "examples": examples}}}
        item = {}
        for m in methods:
            op = operation(name, m, "Updates", summary,
                           description + " Path form only (not /?update=...); not on the WebSocket; the replies "
                           "carry no CORS headers. Another method: HTTP 405 with an empty body (no JSON).",
                           security=UPDATE_AUTH,
                           responses={"200": {"$ref": f"#/components/responses/{name}"},
                                      "403": {"$ref": "#/components/responses/UpdateRefused"}})
            if key == "update=install":
                op["parameters"] = [{"name": "reboot", "in": "query", "schema": {"type": "string", "enum": ["1", "true", "yes"]},
                                     "description": "Restart the device when the install succeeded."}]
                op["requestBody"] = {"required": True, "content": {"application/octet-stream": {
                    "schema": {"type": "string", "contentMediaType": "application/octet-stream"}}}}
                op["responses"]["413"] = {"description": "Bundle over update.max_bundle_bytes.",
                                          "content": {"application/json": {"schema": ref("Envelope"), "examples": {
                                              "error_10": {"summary": "Too large", "value": envelope_example(
                                                  "10", "请求数据或图像过大：升级包 2000000000 字节，超过上限 1073741824 字节")}}}}}
            item[m] = op
        paths[path_of(key)] = item
    return paths


def plain_paths(comps: dict) -> dict:
    not_found = {"description": "No such file.", "content": {"application/json": {
        "schema": ref("Envelope"),
        "examples": {"error_8": {"summary": "Not found", "value": envelope_example("8", "未找到：没有页面 nope")}}}}}
    paths = {
        "/storage/{path}": {"get": operation(
            "storage", "get", "Pages and files", "Download a stored file",
            "Every file in the storage root, by its client path (e.g. /storage/images/<uuid>.jpg for the filepath "
            "/images/<uuid>.jpg). Content-Type from the content: image/jpeg, image/png, image/bmp, image/tiff, "
            "image/gif, image/webp, application/pdf, application/ofd, else application/octet-stream. HEAD too.",
            parameters=[{"name": "path", "in": "path", "required": True, "schema": {"type": "string"},
                         "description": "The file's path in the storage root; may contain /."}],
            responses={
                "200": {"description": "The file.", "content": {"application/octet-stream": {
                    "schema": {"type": "string", "contentMediaType": "application/octet-stream"}}}},
                "403": {"description": "Path outside the storage root (code \"12\"), or Host/Origin refused (\"14\").",
                        "content": {"application/json": {"schema": ref("Envelope"), "examples": {"error_12": {
                            "summary": "Path refused",
                            "value": envelope_example("12", "路径不允许：只能访问设备存储区内的文件：../etc/passwd")}}}}},
                "404": {"description": "No such file.", "content": {"application/json": {"schema": ref("Envelope"),
                        "examples": {"error_8": {"summary": "Not found",
                                                 "value": envelope_example("8", "未找到：/images/x.jpg")}}}}},
            })},
        "/openapi.json": {"get": operation(
            "openapi", "get", "Pages and files", "This document",
            responses={"200": {"description": "The OpenAPI document.", "content": {"application/json": {
                "schema": obj({"openapi": string(pattern="^3\\.1\\."), "info": obj({}), "paths": obj({})},
                              ("openapi", "info", "paths")),
                "examples": {"document": {"summary": "The document (abridged)", "value": {
                    "openapi": "3.1.0", "info": {"title": "CameraService appliance API", "version": "0.1.0"},
                    "paths": {}}}}}}}})},
    }
    for path, (summary, ctype, description) in PAGES.items():
        params = []
        if "{file}" in path:
            params = [{"name": "file", "in": "path", "required": True, "schema": {"type": "string"},
                       "description": "index.html, editor.html, style.css, api.js, demo.js, editor.js, ..."}]
        name = "ui" if params else "index"
        op = operation(name, "get", "Pages and files", summary, description,
                       responses={"200": {"description": "The page.", "content": {ctype: {
                           "schema": {"type": "string"},
                           "examples": {"page": {"summary": "A page", "value": "<!doctype html>..."}}}}},
                                  "404": not_found})
        if params:
            op["parameters"] = params
        paths[path] = {"get": op}
    return paths


def ws_extension() -> dict:
    functions = {}
    for name, catalogue, endpoint, description in WS_FUNCTIONS:
        entry = {"catalogue": catalogue, "endpoint": endpoint}
        if endpoint:
            entry["path"] = path_of(endpoint)
            entry["reply"] = ref(f"{camel(endpoint)}Reply")
        elif name in WS_ONLY_REPLIES:
            entry["reply"] = ref(f"Ws{camel(name)}Reply")
        else:
            entry["reply"] = ref("WsReply")
        if description:
            entry["description"] = description
        functions[name] = entry
    return {
        "description": "An Upgrade: websocket request on any path opens a WebSocket (the Host and Origin checks "
                       "apply). Request {\"function\": NAME, \"params\": {...}} (WsRequest); each reply is the HTTP "
                       "reply's object plus \"function\": NAME (WsReply), sent to the asking connection only. NAME "
                       "is a function listed here or any HTTP endpoint written GROUP=ACTION (\"video=status\"): "
                       "HTTP and WebSocket share one dispatch table. Bad JSON or a missing function: "
                       "{\"function\": \"\", \"code\": \"1\"}; an unknown function: \"8\"; a stream endpoint: \"9\".",
        "url": "ws://{host}:38088/",
        "request": ref("WsRequest"),
        "reply": ref("WsReply"),
        "functions": functions,
        "any_endpoint": {"function": "GROUP=ACTION", "reply": "the reply schema of the path /GROUP=ACTION"},
        "events": {"update_progress": ref("UpdateProgressEvent"), "sign_pen": ref("SignPenEvent")},
        "pushes": {"video_stream": ref("WsVideoStreamFrame"), "sign_pdf_info": ref("SignPdfInfo")},
    }


def info_description() -> str:
    codes = "\n".join(f"| `\"{c}\"` | {m} |" for c, m in CODES)
    return f"""\
The CameraService API of the appliance: the vendor's document (camera, cards, system parameters, image
processing, face, fingerprint, signing screen, OCR, barcode scanner), the older vocabulary real pages still
use, the appliance's own endpoints (diagnostics, the image editor's page) and the over-the-air update API.

**Addressing.** Every endpoint is reachable in two URL forms, with GET and POST alike:
`/GROUP=ACTION&k=v...` (path form, as the paths below are written) and `/?GROUP=ACTION&k=v...` (query
form); `/ocr` has no action. Group and action are matched case-insensitively. `?`, `&` and `;` all separate
parameters; a JSON object in the query string is taken as the body when the request has none. The update
API (`/update=...`) exists in the path form only.

**Request body.** Read as JSON text whatever the Content-Type says. The body is the first JSON value in it:
text after that value is ignored (pages that post `{{...}}:""` work). Absent or empty: all defaults.
Query parameters are merged into a body object (the body wins). Strings, numbers and booleans are
accepted interchangeably where the vendor documents strings; unknown fields are ignored. Numbers that only
tune the output (`jpg_quality`/`jquality`/`quality`, `xdpi`/`ydpi`, watermark `transparency`, `margin`,
`framerate`, `barcode=get`'s `time`, `diag=log`'s `lines`) are clamped into their range when outside it
(README "Older vocabulary"; docs/protocol.md); values that change meaning (`camidx`, a rotation by 45, a
size the camera lacks) still get `"4"`.

**Replies.** A JSON object (`application/json; charset=utf-8`) whose `code` is always a STRING, `"0"` =
success, with `message` (empty on success, the reason on failure; zh-CN by default, English with
`server.language = "en"`; the examples here show the default). API failures are HTTP 200: read `code`.
An unknown endpoint is HTTP 404 with code `"8"`; a refused Host or Origin HTTP 403 with `"14"`. An endpoint
listed here that the firmware does not provide yet answers `"9"` (operations marked `x-available: false`),
never a fabricated success. Streams (`video=stream`, `sign=stream`) are `multipart/x-mixed-replace` MJPEG.
Stored files are downloaded with `GET /storage/<filepath>`.

| code | meaning |
|---|---|
{codes}

Endpoint-specific codes of the vendor document keep their meaning there (`video=detectdoc` `"100"`-`"102"`,
`sign=get` `"1"` = no signature yet, `face=islive` `"1"` = still running).

**WebSocket** (see `x-websocket`): on any path, `{{"function": NAME, "params": {{...}}}}` ->
`{{"function": NAME, "code": ..., "message": ..., ...}}` with the same fields as the HTTP reply. NAME is a vendor
or older WebSocket name (`grab_image`, `read_idcard`, `open_camera`, `get_param`, ...) or any endpoint as
`GROUP=ACTION`. `subscribe` to topics (`update_progress`) for pushed events.

**CORS.** Every reply carries the CORS headers; `OPTIONS` preflights (with Private Network Access) are
answered with 204. The update API is the exception: it needs the device admin token and sends no CORS
headers, so web pages cannot use it.
"""


def build() -> dict:
    comps: dict = {"schemas": dict(SHARED_SCHEMAS), "responses": {}, "requestBodies": {}}
    comps["responses"]["Refused"] = {
        "description": "The request's Host or Origin is not allowed (code \"14\").",
        "content": {"application/json": {"schema": ref("Envelope"), "examples": {"error_14": {
            "summary": "Host refused", "value": envelope_example("14", "请求被拒绝：不允许的主机名 evil.example.com")}}}},
    }
    comps["responses"]["UpdateRefused"] = {
        "description": "A wrong or missing admin token, a browser Origin not in update.allowed_origins, or a "
                       "refused Host (code \"14\").",
        "content": {"application/json": {"schema": ref("Envelope"), "examples": {"error_14": {
            "summary": "Wrong token", "value": envelope_example("14", "请求被拒绝：管理令牌错误或缺失")}}}},
    }
    for name, schema in WS_ONLY_REPLIES.items():
        comps["schemas"][f"Ws{camel(name)}Reply"] = schema
    paths = {}
    for e in ENDPOINTS:
        path = path_of(e.key)
        assert path not in paths, f"{e.key} twice"
        paths[path] = endpoint_path(e, comps)
    paths.update(update_paths(comps))
    paths.update(plain_paths(comps))
    comps["securitySchemes"] = {"adminToken": {
        "type": "apiKey", "in": "header", "name": "X-Admin-Token",
        "description": "The device admin token (also accepted as Authorization: Bearer <token>)."}}
    tags = []
    for e in ENDPOINTS:
        if e.tag not in tags:
            tags.append(e.tag)
    tags += ["Updates", "Pages and files"]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "CameraService appliance API",
            "version": workspace_version(),
            "description": info_description(),
        },
        "servers": [
            {"url": "/", "description": "The device that serves this document."},
            {"url": "http://{host}:38088", "description": "A device by address or name.",
             "variables": {"host": {"default": "cameraservice.local"}}},
        ],
        "tags": [{"name": t} for t in tags],
        "paths": dict(sorted(paths.items())),
        "components": {k: dict(sorted(v.items())) for k, v in sorted(comps.items())},
        "x-websocket": ws_extension(),
    }


def render() -> str:
    return json.dumps(build(), ensure_ascii=False, indent=2) + "\n"


# --------------------------------------------------------------------------- README table

README = REPO / "README.md"
COMPAT_BEGIN = "<!-- compatibility table: tests/openapi/gen_openapi.py writes it -->"
COMPAT_END = "<!-- end of compatibility table -->"


def _fields(d: dict | None, limit: int = 14) -> str:
    if not d:
        return "—"
    names = [f"`{k}`" for k in d]
    if len(names) > limit:
        names = names[:limit] + [f"… ({len(d) - limit} more)"]
    return ", ".join(names)


def compat_table() -> str:
    """The compatibility table of README: every endpoint of both vocabularies and the appliance's
    own, where it comes from, whether it works, its request fields and the fields of its reply."""
    names: dict[str, list[str]] = {}
    for name, f in ws_extension()["functions"].items():
        if f.get("endpoint"):
            names.setdefault(f["endpoint"].lower(), []).append(name)
    rows = ["| endpoint | vocabulary | state | request fields | reply fields (code \"0\") |",
            "|---|---|---|---|---|"]
    for e in ENDPOINTS:
        if e.tag == "Older vocabulary":
            voc = "older"
        elif e.tag == "Appliance":
            voc = "appliance"
        else:
            voc = f"vendor {e.vendor}" if e.vendor else "vendor"
        state = "works" if e.built else (
            "`\"9\"` (not supported on this device)" if e.unsupported else "`\"9\"` (not built yet)")
        if e.body is not None:
            request = "a JSON array (see the document)"
        else:
            request = _fields(e.request)
        key = f"`{e.key}`"
        w = names.get(e.key.lower())
        if w:
            key += " (WebSocket " + ", ".join(f"`{n}`" for n in sorted(w)) + ")"
        rows.append(f"| {key} | {voc} | {state} | {request} | {_fields(e.reply)} |")
    return "\n".join(rows) + "\n"


def readme_with_table(readme: str) -> str | None:
    """README with its table replaced; None when the markers are missing."""
    a, b = readme.find(COMPAT_BEGIN), readme.find(COMPAT_END)
    if a < 0 or b < a:
        return None
    return readme[: a + len(COMPAT_BEGIN)] + "\n\n" + compat_table() + "\n" + readme[b:]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 when the committed document differs")
    ap.add_argument("--stdout", action="store_true", help="print the document instead of writing it")
    a = ap.parse_args()
    text_out = render()
    if a.stdout:
        sys.stdout.write(text_out)
        return 0
    readme = README.read_text(encoding="utf-8")
    readme_out = readme_with_table(readme)
    if a.check:
        same = OUTPUT.is_file() and OUTPUT.read_text(encoding="utf-8") == text_out
        if not same:
            print(f"{OUTPUT.relative_to(REPO)} is not what {Path(__file__).name} writes: run it", file=sys.stderr)
        table_ok = readme_out is not None and readme_out == readme
        if not table_ok:
            print(f"README.md's compatibility table is not what {Path(__file__).name} writes: run it",
                  file=sys.stderr)
        return 0 if same and table_ok else 1
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text_out, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(REPO)}")
    if readme_out is None:
        print("README.md has no compatibility table markers", file=sys.stderr)
        return 1
    README.write_text(readme_out, encoding="utf-8")
    print("wrote README.md's compatibility table")
    return 0


if __name__ == "__main__":
    sys.exit(main())
