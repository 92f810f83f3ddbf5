"""Golden images of every window of the signing screen (sign window with its defaults and with
every option and ink, evaluator and floating buttons with defaults and custom options, the ad
player, panels under a sign window, the idle picture) on virtual screens of two sizes, read through
`sign=stream` and compared with tests/e2e/golden/sign/ within a tolerance (sign_scenes.py).

UPDATE_GOLDEN=1 writes the images instead of comparing (look at them before committing)."""

from __future__ import annotations

import os
import time

import pytest

import sign_scenes as sc
from test_sign import Pen, pen_socket, read_stream_frame

UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
SCENES = sc.scenes()


@pytest.fixture(scope="module", params=sc.SIZES, ids=[f"{w}x{h}" for w, h in sc.SIZES])
def screen(request, module_daemon, tmp_path_factory):
    w, h = request.param
    idle = sc.idle_picture(str(tmp_path_factory.mktemp("idle") / "idle.png"))
    d = module_daemon({"signpad": {"width": w, "height": h, "idle_image": idle}}, args=["--sim"])
    pen = Pen(pen_socket(d))
    yield d, pen, (w, h)
    pen.close()


@pytest.mark.parametrize("name", list(SCENES))
def test_window_matches_golden(screen, name):
    d, pen, size = screen
    scene = SCENES[name]
    for path, body in sc.CLEAR + scene["calls"]:
        r = d.api(path, body)
        assert r["code"] == "0", (path, r)
    for stroke in scene["strokes"]:
        pen.stroke(stroke)
    golden = sc.golden_path(name, size)
    if UPDATE:
        time.sleep(1.5)  # past the ad player's cross-fade
        os.makedirs(sc.GOLDEN_DIR, exist_ok=True)
        read_stream_frame(d.port).save(golden, optimize=True)
        pytest.skip(f"wrote {golden}")
    from PIL import Image

    want = Image.open(golden)
    # The screen settles within a few frames (the ad player fades in over 0.6 s).
    deadline = time.time() + 6
    while True:
        got = read_stream_frame(d.port)
        mean, frac = sc.difference(got, want)
        if (mean <= sc.MAX_MEAN and frac <= sc.MAX_FRACTION) or time.time() > deadline:
            break
        time.sleep(0.25)
    if not (mean <= sc.MAX_MEAN and frac <= sc.MAX_FRACTION):
        out = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"sign-golden-{name}-{size[0]}x{size[1]}.png")
        got.save(out)
        raise AssertionError(f"{name} at {size}: mean difference {mean:.2f} (at most {sc.MAX_MEAN}), "
                             f"{frac:.4f} of pixels off by more than 48 (at most {sc.MAX_FRACTION}); "
                             f"what was shown: {out}")
    for path, body in sc.CLEAR:
        d.api(path, body)
