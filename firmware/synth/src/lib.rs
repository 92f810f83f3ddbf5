//! Synthetic overhead document-camera shots with exact ground truth.
//!
//! A scene is a flat base mat (dark, light or mid-tone, with low-frequency texture and
//! optional cutting-mat grid) seen through a slightly tilted camera (a homography from
//! mat millimetres to image pixels). Pages, receipts and cards lie on it: rectangles in
//! mat coordinates (cards with rounded corners) carrying procedural content — title
//! bars, lines of pseudo text drawn with thin dark strokes, photos, coloured boxes,
//! tables. The shot then goes through an illumination field (vignetting, gradient,
//! hot spot), soft contact shadows, a colour cast, optical blur, signal-dependent sensor
//! noise, 8-bit quantisation and often a JPEG round trip (libturbojpeg, 4:2:0).
//!
//! Ground truth is the image of each object's rectangle under the camera homography
//! (the intersection of its straight edges, also for rounded card corners), clipped to
//! the frame for objects lying partly outside it. Everything is deterministic in the
//! seed (own xorshift generator), and nothing here does any I/O.

use image::RgbImage;
use imaging::detect::DocHint;
use imaging::geometry::{clip_to_frame, signed_area, Homography, Quad};

/// The situations the generator can produce. Each kind stresses one aspect; all the
/// others stay randomised at everyday levels (some vignetting, noise, slight tilt and
/// rotation, often JPEG), so no kind is a clean lab picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SceneKind {
    /// One A4 page (portrait or landscape), any mat.
    A4Page,
    /// One A5 page.
    A5Page,
    /// One thermal receipt (long and narrow).
    Receipt,
    /// One ID or bank card (85.6 x 54 mm, rounded corners), rotated up to 90 degrees.
    IdCard,
    /// 2-5 cards, receipts and small pages, at least 6 mm apart.
    MultiObject,
    /// One object on a dark mat (black, dark grey, dark green cutting mat with grid...).
    DarkMat,
    /// White paper on a light mat: low contrast (page only 5-30 % brighter).
    LightMat,
    /// Strong vignetting, a lighting gradient and a hot spot.
    UnevenLight,
    /// Soft shadows cast along one or two edges.
    Shadow,
    /// Tilted camera: corners displaced by up to ~8 %, plus rotation.
    Perspective,
    /// Heavy signal-dependent sensor noise.
    Noise,
    /// JPEG round trip at quality 75-90.
    Jpeg,
    /// One object partly outside the frame (truth: the visible part).
    BorderTouch,
}

impl SceneKind {
    /// Every kind, in report order.
    pub const ALL: [SceneKind; 13] = [
        SceneKind::A4Page,
        SceneKind::A5Page,
        SceneKind::Receipt,
        SceneKind::IdCard,
        SceneKind::MultiObject,
        SceneKind::DarkMat,
        SceneKind::LightMat,
        SceneKind::UnevenLight,
        SceneKind::Shadow,
        SceneKind::Perspective,
        SceneKind::Noise,
        SceneKind::Jpeg,
        SceneKind::BorderTouch,
    ];

    /// Short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            SceneKind::A4Page => "a4_page",
            SceneKind::A5Page => "a5_page",
            SceneKind::Receipt => "receipt",
            SceneKind::IdCard => "id_card",
            SceneKind::MultiObject => "multi_object",
            SceneKind::DarkMat => "dark_mat",
            SceneKind::LightMat => "light_mat",
            SceneKind::UnevenLight => "uneven_light",
            SceneKind::Shadow => "shadow",
            SceneKind::Perspective => "perspective",
            SceneKind::Noise => "noise",
            SceneKind::Jpeg => "jpeg",
            SceneKind::BorderTouch => "border_touch",
        }
    }

    fn index(self) -> u64 {
        SceneKind::ALL.iter().position(|&k| k == self).unwrap_or(0) as u64
    }
}

/// A generated shot and its exact ground truth.
#[derive(Debug, Clone)]
pub struct Scene {
    /// The camera image.
    pub image: RgbImage,
    /// Ground-truth corners of every object (visible part), largest first.
    pub objects: Vec<Quad>,
    /// The document type a clerk would have selected for this shot.
    pub hint: DocHint,
}

/// Small deterministic PRNG (xorshift64*), seeded through splitmix64.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value, including 0).
    pub fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Rng(if z == 0 { 0x2545_F491_4F6C_DD1D } else { z })
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[0, 1)`.
    pub fn f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in `[a, b)`.
    pub fn range(&mut self, a: f32, b: f32) -> f32 {
        a + (b - a) * self.f32()
    }

    /// Uniform integer in `[a, b]`.
    pub fn int(&mut self, a: i32, b: i32) -> i32 {
        let span = (b - a + 1).max(1) as u64;
        a + (self.next_u64() % span) as i32
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f32) -> bool {
        self.f32() < p
    }

    /// Standard normal deviate (Box–Muller).
    pub fn normal(&mut self) -> f32 {
        let u1 = self.f32().max(1e-7);
        let u2 = self.f32();
        (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[(self.next_u64() % items.len() as u64) as usize]
    }
}

type Col = [f32; 3];

fn lum(c: Col) -> f32 {
    0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
}

fn cdist(a: Col, b: Col) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

fn lerp(a: Col, b: Col, t: f32) -> Col {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

fn jitter(rng: &mut Rng, c: Col, amount: f32) -> Col {
    c.map(|v| (v + rng.range(-amount, amount)).clamp(0.0, 255.0))
}

// ---------------------------------------------------------------------------------
// Page content
// ---------------------------------------------------------------------------------

/// 3x5 pseudo glyphs (rows top to bottom, 3 bits each, MSB = left column).
const GLYPHS: [[u8; 5]; 17] = [
    [0b111, 0b101, 0b101, 0b101, 0b111], // o
    [0b110, 0b101, 0b101, 0b101, 0b101], // n
    [0b111, 0b101, 0b111, 0b100, 0b111], // e
    [0b111, 0b001, 0b111, 0b101, 0b111], // a
    [0b101, 0b110, 0b100, 0b100, 0b100], // r
    [0b111, 0b100, 0b111, 0b001, 0b111], // s
    [0b010, 0b111, 0b010, 0b010, 0b011], // t
    [0b010, 0b000, 0b010, 0b010, 0b010], // i
    [0b010, 0b010, 0b010, 0b010, 0b010], // l
    [0b111, 0b100, 0b100, 0b100, 0b111], // c
    [0b001, 0b111, 0b101, 0b101, 0b111], // d
    [0b100, 0b111, 0b101, 0b101, 0b101], // h
    [0b101, 0b101, 0b101, 0b101, 0b111], // u
    [0b111, 0b111, 0b101, 0b101, 0b101], // m
    [0b111, 0b101, 0b111, 0b100, 0b100], // p
    [0b101, 0b101, 0b010, 0b101, 0b101], // x
    [0b000, 0b000, 0b111, 0b000, 0b000], // -
];
const DASH: u8 = 17;

#[derive(Debug, Clone, Copy)]
struct Rect {
    x0: f32,
    y0: f32,
    x1: f32,
    y1: f32,
}

impl Rect {
    fn new(x0: f32, y0: f32, x1: f32, y1: f32) -> Rect {
        Rect { x0, y0, x1, y1 }
    }
    fn contains(&self, u: f32, v: f32) -> bool {
        u >= self.x0 && u < self.x1 && v >= self.y0 && v < self.y1
    }
}

#[derive(Debug, Clone)]
enum Prim {
    Fill {
        r: Rect,
        col: Col,
    },
    Frame {
        r: Rect,
        t: f32,
        col: Col,
    },
    Grid {
        r: Rect,
        rows: u32,
        cols: u32,
        t: f32,
        col: Col,
    },
    /// One line of pseudo text; `glyphs[i]` is 0 for a space, else 1-based glyph index.
    Text {
        r: Rect,
        cell: f32,
        col: Col,
        glyphs: Vec<u8>,
    },
    Photo {
        r: Rect,
        c: [Col; 4],
        f: [f32; 5],
        blob: (f32, f32, f32),
        horizon: f32,
    },
    Ellipse {
        cx: f32,
        cy: f32,
        rx: f32,
        ry: f32,
        col: Col,
    },
}

impl Prim {
    fn rect(&self) -> Rect {
        match self {
            Prim::Fill { r, .. }
            | Prim::Frame { r, .. }
            | Prim::Grid { r, .. }
            | Prim::Text { r, .. }
            | Prim::Photo { r, .. } => *r,
            Prim::Ellipse { cx, cy, rx, ry, .. } => Rect::new(cx - rx, cy - ry, cx + rx, cy + ry),
        }
    }

    fn eval(&self, u: f32, v: f32, under: Col) -> Col {
        match self {
            Prim::Fill { r, col } => {
                if r.contains(u, v) {
                    *col
                } else {
                    under
                }
            }
            Prim::Frame { r, t, col } => {
                if r.contains(u, v)
                    && (u < r.x0 + t || u >= r.x1 - t || v < r.y0 + t || v >= r.y1 - t)
                {
                    *col
                } else {
                    under
                }
            }
            Prim::Grid {
                r,
                rows,
                cols,
                t,
                col,
            } => {
                if !r.contains(u, v) {
                    return under;
                }
                let cw = (r.x1 - r.x0) / *cols as f32;
                let ch = (r.y1 - r.y0) / *rows as f32;
                let fu = (u - r.x0) % cw;
                let fv = (v - r.y0) % ch;
                if fu < *t || fv < *t || u >= r.x1 - t || v >= r.y1 - t {
                    *col
                } else {
                    under
                }
            }
            Prim::Text {
                r,
                cell,
                col,
                glyphs,
            } => {
                if !r.contains(u, v) {
                    return under;
                }
                let pitch = 4.0 * cell;
                let gi = ((u - r.x0) / pitch) as usize;
                let Some(&g) = glyphs.get(gi) else {
                    return under;
                };
                if g == 0 {
                    return under;
                }
                let cx = ((u - r.x0 - gi as f32 * pitch) / cell) as usize;
                let cy = ((v - r.y0) / cell) as usize;
                if cx >= 3 || cy >= 5 {
                    return under;
                }
                let row = GLYPHS[(g - 1) as usize % GLYPHS.len()][cy];
                if row & (0b100 >> cx) != 0 {
                    *col
                } else {
                    under
                }
            }
            Prim::Photo {
                r,
                c,
                f,
                blob,
                horizon,
            } => {
                if !r.contains(u, v) {
                    return under;
                }
                let pu = (u - r.x0) / (r.x1 - r.x0);
                let pv = (v - r.y0) / (r.y1 - r.y0);
                let a = 0.5 + 0.5 * (f[0] * pu + f[1] * pv + f[4]).sin();
                let b = 0.5 + 0.5 * (f[2] * pu - f[3] * pv).sin();
                let mut col = lerp(lerp(c[0], c[1], a), c[2], 0.5 * b);
                if pv > *horizon + 0.08 * (f[2] * pu).sin() {
                    col = lerp(col, c[3], 0.7);
                }
                let d = ((pu - blob.0).powi(2) + (pv - blob.1).powi(2)).sqrt();
                if d < blob.2 {
                    col = lerp(col, [240.0, 225.0, 150.0], 0.8);
                }
                col
            }
            Prim::Ellipse {
                cx,
                cy,
                rx,
                ry,
                col,
            } => {
                let d = ((u - cx) / rx).powi(2) + ((v - cy) / ry).powi(2);
                if d < 1.0 {
                    *col
                } else {
                    under
                }
            }
        }
    }
}

const BAND_MM: f32 = 4.0;

#[derive(Debug, Clone)]
struct Content {
    paper: Col,
    prims: Vec<Prim>,
    bands: Vec<Vec<u32>>,
    /// Relative brightness change across the object (curl, uneven paper).
    shade: (f32, f32),
    /// Specular glare on glossy objects: centre (mm), radii (mm), strength (0..1).
    glare: Option<(f32, f32, f32, f32, f32)>,
}

impl Content {
    fn new(paper: Col, prims: Vec<Prim>, h: f32, rng: &mut Rng) -> Content {
        let nb = (h / BAND_MM).ceil().max(1.0) as usize + 1;
        let mut bands = vec![Vec::new(); nb];
        for (i, p) in prims.iter().enumerate() {
            let r = p.rect();
            let b0 = (r.y0 / BAND_MM).floor().max(0.0) as usize;
            let b1 = ((r.y1 / BAND_MM).floor().max(0.0) as usize).min(nb - 1);
            for band in bands.iter_mut().take(b1 + 1).skip(b0.min(nb - 1)) {
                band.push(i as u32);
            }
        }
        Content {
            paper,
            prims,
            bands,
            shade: (rng.range(-0.04, 0.04), rng.range(-0.04, 0.04)),
            glare: None,
        }
    }

    fn eval(&self, u: f32, v: f32, w: f32, h: f32) -> Col {
        let mut col = self.paper;
        let b = ((v / BAND_MM).floor().max(0.0) as usize).min(self.bands.len() - 1);
        for &i in &self.bands[b] {
            col = self.prims[i as usize].eval(u, v, col);
        }
        let s = 1.0 + self.shade.0 * (u / w - 0.5) + self.shade.1 * (v / h - 0.5);
        let mut col = col.map(|c| c * s);
        if let Some((gx, gy, rx, ry, k)) = self.glare {
            let r2 = ((u - gx) / rx).powi(2) + ((v - gy) / ry).powi(2);
            if r2 < 9.0 {
                let a = k * (-r2).exp();
                col = col.map(|c| c + (255.0 - c) * a);
            }
        }
        col
    }
}

fn ink(rng: &mut Rng) -> Col {
    match rng.int(0, 3) {
        0 => jitter(rng, [25.0, 25.0, 30.0], 10.0),
        1 => jitter(rng, [40.0, 40.0, 40.0], 15.0),
        2 => jitter(rng, [20.0, 30.0, 90.0], 10.0),
        _ => jitter(rng, [70.0, 70.0, 75.0], 15.0),
    }
}

fn strong_colour(rng: &mut Rng) -> Col {
    let palette = [
        [20.0, 50.0, 120.0],
        [150.0, 25.0, 35.0],
        [30.0, 100.0, 60.0],
        [60.0, 60.0, 65.0],
        [200.0, 120.0, 20.0],
        [90.0, 30.0, 110.0],
        [15.0, 15.0, 20.0],
        [0.0, 120.0, 150.0],
    ];
    {
        let c = rng.pick(&palette);
        jitter(rng, c, 15.0)
    }
}

fn tint(rng: &mut Rng) -> Col {
    let palette = [
        [220.0, 230.0, 245.0],
        [245.0, 230.0, 210.0],
        [225.0, 240.0, 225.0],
        [240.0, 225.0, 235.0],
        [230.0, 230.0, 230.0],
        [250.0, 245.0, 200.0],
    ];
    {
        let c = rng.pick(&palette);
        jitter(rng, c, 6.0)
    }
}

fn text_line(rng: &mut Rng, x0: f32, y0: f32, x1: f32, cell: f32, col: Col) -> Prim {
    let pitch = 4.0 * cell;
    let n = ((x1 - x0) / pitch).max(0.0) as usize;
    let mut glyphs = Vec::with_capacity(n);
    while glyphs.len() < n {
        let word = rng.int(1, 9) as usize;
        for _ in 0..word {
            glyphs.push(rng.int(1, 16) as u8);
        }
        glyphs.push(0);
    }
    glyphs.truncate(n);
    while glyphs.last() == Some(&0) {
        glyphs.pop();
    }
    let x1 = x0 + glyphs.len() as f32 * pitch;
    Prim::Text {
        r: Rect::new(x0, y0, x1.max(x0), y0 + 5.0 * cell),
        cell,
        col,
        glyphs,
    }
}

fn dash_line(x0: f32, y0: f32, x1: f32, cell: f32, col: Col) -> Prim {
    let n = ((x1 - x0) / (4.0 * cell)) as usize;
    Prim::Text {
        r: Rect::new(x0, y0, x0 + n as f32 * 4.0 * cell, y0 + 5.0 * cell),
        cell,
        col,
        glyphs: vec![DASH; n],
    }
}

fn photo(rng: &mut Rng, r: Rect) -> Prim {
    let mut c = [[0.0; 3]; 4];
    for ci in c.iter_mut() {
        *ci = [
            rng.range(10.0, 240.0),
            rng.range(10.0, 240.0),
            rng.range(10.0, 240.0),
        ];
    }
    Prim::Photo {
        r,
        c,
        f: [
            rng.range(2.0, 14.0),
            rng.range(2.0, 14.0),
            rng.range(3.0, 20.0),
            rng.range(3.0, 20.0),
            rng.range(0.0, 6.0),
        ],
        blob: (rng.f32(), rng.range(0.1, 0.6), rng.range(0.05, 0.2)),
        horizon: rng.range(0.4, 1.2),
    }
}

fn white_paper(rng: &mut Rng) -> Col {
    let base = rng.range(228.0, 248.0);
    match rng.int(0, 2) {
        0 => [base, base, base + rng.range(0.0, 6.0)],
        1 => [
            base,
            base - rng.range(0.0, 4.0),
            base - rng.range(2.0, 10.0),
        ],
        _ => [base, base, base],
    }
    .map(|c: f32| c.min(252.0))
}

/// A page (A4, A5, A6, business card...) of `w x h` mm in its reading orientation.
fn page_content(rng: &mut Rng, w: f32, h: f32, colour_page: bool) -> Content {
    let paper = if colour_page && rng.chance(0.3) {
        tint(rng)
    } else {
        white_paper(rng)
    };
    let near_edge = rng.chance(0.3);
    let scale = (w.min(h) / 210.0).clamp(0.4, 1.0);
    let margin = if near_edge {
        rng.range(3.0, 5.0)
    } else {
        rng.range(8.0, 25.0) * scale.max(0.5)
    };
    let mut prims = Vec::new();
    let mut y = margin;
    let x0 = margin;
    let x1 = w - margin;
    let text_col = ink(rng);
    if rng.chance(if colour_page { 0.7 } else { 0.45 }) {
        let bh = rng.range(8.0, 18.0) * scale.max(0.6);
        let bar = strong_colour(rng);
        let (bx0, bx1) = if near_edge || rng.chance(0.3) {
            (rng.range(3.0, 5.0), w - rng.range(3.0, 5.0))
        } else {
            (x0, x1)
        };
        let by = if near_edge { rng.range(3.0, 5.0) } else { y };
        prims.push(Prim::Fill {
            r: Rect::new(bx0, by, bx1, by + bh),
            col: bar,
        });
        let cell = bh * rng.range(0.08, 0.1);
        let tx1 = bx0 + (bx1 - bx0) * rng.range(0.4, 0.8);
        prims.push(text_line(
            rng,
            bx0 + 4.0,
            by + bh / 2.0 - 2.5 * cell,
            tx1,
            cell,
            [245.0, 245.0, 245.0],
        ));
        y = by + bh + rng.range(4.0, 10.0);
    }
    let cell = rng.range(0.34, 0.5) * scale.max(0.8);
    let spacing = cell * 5.0 * rng.range(2.0, 2.8);
    let photo_p = if colour_page { 0.35 } else { 0.12 };
    while y < h - margin - spacing {
        let remaining = h - margin - y;
        let roll = rng.f32();
        if roll < photo_p && remaining > 25.0 {
            let ph = rng.range(20.0, (remaining - 2.0).min(110.0 * scale));
            let pw = rng.range(0.35, 1.0) * (x1 - x0);
            let px = if rng.chance(0.5) { x0 } else { x1 - pw };
            prims.push(photo(rng, Rect::new(px, y, px + pw, y + ph)));
            if pw < 0.6 * (x1 - x0) {
                // Text flowing beside the photo.
                let (tx0, tx1) = if px == x0 {
                    (px + pw + 4.0, x1)
                } else {
                    (x0, px - 4.0)
                };
                let mut ty = y;
                while ty < y + ph - spacing {
                    prims.push(text_line(rng, tx0, ty, tx1, cell, text_col));
                    ty += spacing;
                }
            }
            y += ph + rng.range(3.0, 8.0);
        } else if roll < photo_p + 0.12 && remaining > 20.0 {
            // Coloured box or table.
            let bh = rng.range(15.0, (remaining - 2.0).min(60.0 * scale));
            let r = Rect::new(x0, y, x1, y + bh);
            if rng.chance(0.5) {
                prims.push(Prim::Fill { r, col: tint(rng) });
                prims.push(Prim::Frame {
                    r,
                    t: rng.range(0.3, 0.8),
                    col: strong_colour(rng),
                });
            } else {
                prims.push(Prim::Grid {
                    r,
                    rows: rng.int(2, 8) as u32,
                    cols: rng.int(2, 6) as u32,
                    t: rng.range(0.2, 0.5),
                    col: text_col,
                });
            }
            let mut ty = y + 3.0;
            while ty < y + bh - spacing {
                let tx1 = x0 + (x1 - x0) * rng.range(0.3, 0.9);
                prims.push(text_line(rng, x0 + 3.0, ty, tx1, cell, text_col));
                ty += spacing;
            }
            y += bh + rng.range(3.0, 8.0);
        } else {
            // Paragraph.
            let lines = rng.int(2, 10);
            for i in 0..lines {
                if y > h - margin - spacing {
                    break;
                }
                let end = if i == lines - 1 {
                    x0 + (x1 - x0) * rng.range(0.2, 0.9)
                } else {
                    x1 - rng.range(0.0, 6.0)
                };
                prims.push(text_line(rng, x0, y, end, cell, text_col));
                y += spacing;
            }
            y += rng.range(2.0, 8.0);
        }
    }
    Content::new(paper, prims, h, rng)
}

fn receipt_content(rng: &mut Rng, w: f32, h: f32) -> Content {
    let paper = {
        let b = rng.range(226.0, 244.0);
        [b - 2.0, b, b + rng.range(0.0, 4.0)]
    };
    let margin = rng.range(3.0, 5.0);
    let col = jitter(rng, [50.0, 50.0, 60.0], 20.0);
    let cell = rng.range(0.3, 0.4);
    let spacing = cell * 5.0 * rng.range(1.8, 2.3);
    let mut prims = Vec::new();
    let mut y = rng.range(4.0, 10.0);
    if rng.chance(0.6) {
        let lw = rng.range(0.3, 0.6) * w;
        let lh = rng.range(6.0, 14.0);
        let lx = (w - lw) / 2.0;
        prims.push(Prim::Fill {
            r: Rect::new(lx, y, lx + lw, y + lh),
            col: [30.0, 30.0, 35.0],
        });
        y += lh + 3.0;
    }
    while y < h - 6.0 - spacing {
        let r = rng.f32();
        if r < 0.1 {
            prims.push(dash_line(margin, y, w - margin, cell, col));
        } else if r < 0.15 {
            let big = cell * 1.6;
            prims.push(text_line(rng, margin, y, w - margin, big, col));
            y += big * 5.0 * 1.2;
            continue;
        } else {
            let x1 = margin + (w - 2.0 * margin) * rng.range(0.3, 1.0);
            prims.push(text_line(rng, margin, y, x1, cell, col));
        }
        y += spacing;
    }
    Content::new(paper, prims, h, rng)
}

fn card_content(rng: &mut Rng, w: f32, h: f32, mat: Col) -> Content {
    let mut bank = rng.chance(0.45);
    let mut base;
    let mut tries = 0;
    loop {
        tries += 1;
        if tries > 8 {
            // No light design stands out from this mat: a coloured card then.
            bank = true;
        }
        base = if bank {
            let palette = [
                [25.0, 25.0, 30.0],
                [30.0, 60.0, 150.0],
                [160.0, 30.0, 40.0],
                [20.0, 110.0, 70.0],
                [200.0, 170.0, 90.0],
                [180.0, 182.0, 188.0],
                [90.0, 40.0, 120.0],
            ];
            {
                let c = rng.pick(&palette);
                jitter(rng, c, 15.0)
            }
        } else {
            tint(rng)
        };
        if tries > 40 || (cdist(base, mat) > 45.0 && (lum(base) - lum(mat)).abs() > 12.0) {
            break;
        }
    }
    let mut prims = Vec::new();
    if bank {
        prims.push(Prim::Fill {
            r: Rect::new(8.0, 18.0, 20.0, 27.0),
            col: [205.0, 175.0, 95.0],
        });
        prims.push(Prim::Grid {
            r: Rect::new(8.0, 18.0, 20.0, 27.0),
            rows: 3,
            cols: 2,
            t: 0.3,
            col: [150.0, 120.0, 60.0],
        });
        let tc = if lum(base) > 128.0 {
            [30.0, 30.0, 30.0]
        } else {
            [235.0, 235.0, 235.0]
        };
        prims.push(text_line(rng, 8.0, 33.0, 75.0, 0.7, tc));
        prims.push(text_line(rng, 8.0, 44.0, 50.0, 0.45, tc));
        if rng.chance(0.5) {
            prims.push(photo(rng, Rect::new(w - 30.0, 5.0, w - 5.0, 15.0)));
        }
    } else {
        let band = strong_colour(rng);
        let bh = rng.range(7.0, 12.0);
        prims.push(Prim::Fill {
            r: Rect::new(0.0, 0.0, w, bh),
            col: band,
        });
        prims.push(text_line(
            rng,
            4.0,
            bh / 2.0 - 1.0,
            60.0,
            0.4,
            [240.0, 240.0, 240.0],
        ));
        let pr = Rect::new(4.0, bh + 3.0, 26.0, h - 5.0);
        prims.push(Prim::Fill {
            r: pr,
            col: jitter(rng, [200.0, 205.0, 215.0], 20.0),
        });
        let fx = (pr.x0 + pr.x1) / 2.0;
        prims.push(Prim::Ellipse {
            cx: fx,
            cy: pr.y1,
            rx: 10.0,
            ry: 8.0,
            col: ink(rng),
        });
        prims.push(Prim::Ellipse {
            cx: fx,
            cy: pr.y0 + 10.0,
            rx: 5.5,
            ry: 7.0,
            col: jitter(rng, [215.0, 170.0, 140.0], 30.0),
        });
        let tc = ink(rng);
        let mut y = bh + 4.0;
        while y < h - 5.0 {
            let tx1 = w - rng.range(4.0, 30.0);
            prims.push(text_line(rng, 30.0, y, tx1, 0.35, tc));
            y += rng.range(3.5, 5.5);
        }
    }
    Content::new(base, prims, h, rng)
}

// ---------------------------------------------------------------------------------
// Scene model
// ---------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct Shadow {
    /// Offset of the shadow caster in mat mm.
    dx: f32,
    dy: f32,
    /// Softness (mm) and darkening (0..1).
    blur: f32,
    strength: f32,
}

#[derive(Debug, Clone)]
struct Obj {
    w: f32,
    h: f32,
    cx: f32,
    cy: f32,
    cos: f32,
    sin: f32,
    radius: f32,
    content: Content,
    shadow: Option<Shadow>,
    /// Pixels per mm around the object (for edge antialiasing).
    ppm: f32,
    hint: DocHint,
}

impl Obj {
    fn local(&self, x: f32, y: f32) -> (f32, f32) {
        let dx = x - self.cx;
        let dy = y - self.cy;
        (
            dx * self.cos + dy * self.sin,
            -dx * self.sin + dy * self.cos,
        )
    }

    /// Signed distance (mm) from the object outline, negative inside.
    fn sdf(&self, u: f32, v: f32) -> f32 {
        let r = self.radius;
        let qx = u.abs() - self.w / 2.0 + r;
        let qy = v.abs() - self.h / 2.0 + r;
        let outside = (qx.max(0.0).powi(2) + qy.max(0.0).powi(2)).sqrt();
        outside + qx.max(qy).min(0.0) - r
    }

    fn corners_mat(&self) -> [(f64, f64); 4] {
        let hw = self.w / 2.0;
        let hh = self.h / 2.0;
        [(-hw, -hh), (hw, -hh), (hw, hh), (-hw, hh)].map(|(u, v)| {
            (
                (self.cx + u * self.cos - v * self.sin) as f64,
                (self.cy + u * self.sin + v * self.cos) as f64,
            )
        })
    }

    fn bound_radius(&self) -> f32 {
        (self.w * self.w + self.h * self.h).sqrt() / 2.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum MatTone {
    Dark,
    Light,
    Mid,
}

#[derive(Debug, Clone)]
struct Mat {
    base: Col,
    tex_amp: f32,
    noise: Vec<f32>,
    noise_w: usize,
    noise_h: usize,
    cell: f32,
    origin: (f32, f32),
    grid: Option<(f32, f32, Col)>,
    /// Fine texture (felt, leather, plastic grain): cell size (mm), amplitude, seed.
    fine: (f32, f32, u64),
}

impl Mat {
    fn new(rng: &mut Rng, tone: MatTone, extent: (f32, f32, f32, f32)) -> Mat {
        let base = match tone {
            MatTone::Dark => {
                let palette = [
                    [30.0, 30.0, 32.0],
                    [45.0, 45.0, 48.0],
                    [28.0, 62.0, 45.0],
                    [25.0, 35.0, 70.0],
                    [55.0, 40.0, 35.0],
                    [20.0, 20.0, 22.0],
                ];
                let c: Col = rng.pick(&palette);
                let k = rng.range(0.8, 1.4);
                c.map(|v| v * k)
            }
            MatTone::Light => {
                let palette = [
                    [200.0, 200.0, 200.0],
                    [205.0, 195.0, 175.0],
                    [190.0, 198.0, 208.0],
                    [195.0, 205.0, 192.0],
                    [210.0, 210.0, 205.0],
                ];
                let c: Col = rng.pick(&palette);
                let k = rng.range(0.84, 1.04);
                c.map(|v| v * k)
            }
            MatTone::Mid => {
                let palette = [
                    [120.0, 120.0, 120.0],
                    [60.0, 100.0, 150.0],
                    [70.0, 120.0, 80.0],
                    [140.0, 110.0, 80.0],
                    [100.0, 100.0, 110.0],
                ];
                let c: Col = rng.pick(&palette);
                let k = rng.range(0.85, 1.15);
                c.map(|v| v * k)
            }
        };
        let cell = rng.range(20.0, 50.0);
        let (x0, y0, x1, y1) = extent;
        let noise_w = ((x1 - x0) / cell).ceil() as usize + 2;
        let noise_h = ((y1 - y0) / cell).ceil() as usize + 2;
        let noise = (0..noise_w * noise_h)
            .map(|_| rng.range(-1.0, 1.0))
            .collect();
        let grid = if tone != MatTone::Light && rng.chance(0.3) {
            Some((
                10.0,
                rng.range(0.25, 0.5),
                base.map(|v| v + rng.range(18.0, 40.0)),
            ))
        } else {
            None
        };
        Mat {
            base,
            tex_amp: rng.range(0.01, 0.05),
            fine: (
                rng.range(1.0, 4.0),
                if rng.chance(0.6) {
                    rng.range(0.005, 0.04)
                } else {
                    0.0
                },
                rng.next_u64(),
            ),
            noise,
            noise_w,
            noise_h,
            cell,
            origin: (x0, y0),
            grid,
        }
    }

    fn eval(&self, x: f32, y: f32, ppm: f32) -> Col {
        let gx = ((x - self.origin.0) / self.cell).max(0.0);
        let gy = ((y - self.origin.1) / self.cell).max(0.0);
        let ix = (gx as usize).min(self.noise_w - 2);
        let iy = (gy as usize).min(self.noise_h - 2);
        let fx = (gx - ix as f32).min(1.0);
        let fy = (gy - iy as f32).min(1.0);
        let sx = fx * fx * (3.0 - 2.0 * fx);
        let sy = fy * fy * (3.0 - 2.0 * fy);
        let n = |i: usize, j: usize| self.noise[j * self.noise_w + i];
        let top = n(ix, iy) * (1.0 - sx) + n(ix + 1, iy) * sx;
        let bot = n(ix, iy + 1) * (1.0 - sx) + n(ix + 1, iy + 1) * sx;
        let t = top * (1.0 - sy) + bot * sy;
        let mut k = 1.0 + self.tex_amp * t;
        if self.fine.1 > 0.0 {
            k += self.fine.1 * hash_noise(x / self.fine.0, y / self.fine.0, self.fine.2);
        }
        let mut c = self.base.map(|v| v * k);
        if let Some((spacing, width, col)) = self.grid {
            let dx = (x.rem_euclid(spacing) - spacing / 2.0).abs();
            let dy = (y.rem_euclid(spacing) - spacing / 2.0).abs();
            let d = spacing / 2.0 - dx.max(dy);
            let a = (0.5 + (width / 2.0 - d) * ppm).clamp(0.0, 1.0);
            if a > 0.0 {
                c = lerp(c, col, a);
            }
        }
        c
    }
}

struct Light {
    gain: f32,
    vignette: f32,
    gx: f32,
    gy: f32,
    hot: f32,
    hx: f32,
    hy: f32,
    hr: f32,
    cast: Col,
}

impl Light {
    fn new(rng: &mut Rng, strong: bool) -> Light {
        let (vig, grad, hot) = if strong {
            (
                rng.range(0.25, 0.45),
                rng.range(0.12, 0.28),
                rng.range(0.0, 0.25),
            )
        } else {
            (
                rng.range(0.03, 0.18),
                rng.range(0.0, 0.07),
                if rng.chance(0.2) {
                    rng.range(0.0, 0.08)
                } else {
                    0.0
                },
            )
        };
        let ang = rng.range(0.0, std::f32::consts::TAU);
        Light {
            gain: rng.range(0.92, 1.04),
            vignette: vig,
            gx: grad * ang.cos(),
            gy: grad * ang.sin(),
            hot,
            hx: rng.range(-0.6, 0.6),
            hy: rng.range(-0.6, 0.6),
            hr: rng.range(0.25, 0.6),
            cast: [rng.range(0.96, 1.04), 1.0, rng.range(0.94, 1.06)],
        }
    }

    fn at(&self, nx: f32, ny: f32) -> f32 {
        let r2 = (nx * nx + ny * ny) / 2.0;
        let hot = self.hot
            * (-((nx - self.hx).powi(2) + (ny - self.hy).powi(2)) / (2.0 * self.hr * self.hr))
                .exp();
        self.gain * (1.0 - self.vignette * r2) * (1.0 + self.gx * nx + self.gy * ny) * (1.0 + hot)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ObjType {
    A4,
    A5,
    A6,
    Receipt,
    ShortReceipt,
    IdCard,
    BusinessCard,
}

struct Builder<'a> {
    rng: &'a mut Rng,
    cam: Homography,
    width: u32,
    height: u32,
    mat_col: Col,
    colour_pages: bool,
}

impl Builder<'_> {
    fn ppm_at(&self, x: f32, y: f32) -> f32 {
        let (x0, y0) = self.cam.apply(x as f64, y as f64);
        let (x1, y1) = self.cam.apply(x as f64 + 1.0, y as f64);
        let (x2, y2) = self.cam.apply(x as f64, y as f64 + 1.0);
        let det = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0);
        det.abs().sqrt() as f32
    }

    fn make(&mut self, t: ObjType, angle_range: f32) -> Obj {
        let rng = &mut *self.rng;
        let (mut w, mut h, radius) = match t {
            ObjType::A4 => (210.0, 297.0, 0.0),
            ObjType::A5 => (148.0, 210.0, 0.0),
            ObjType::A6 => (105.0, 148.0, 0.0),
            ObjType::Receipt => (
                rng.pick(&[57.0, 58.0, 80.0, 79.0]),
                rng.range(110.0, 320.0),
                0.0,
            ),
            ObjType::ShortReceipt => (
                rng.pick(&[57.0, 58.0, 80.0, 79.0]),
                rng.range(90.0, 170.0),
                0.0,
            ),
            ObjType::IdCard => (85.6, 53.98, 3.18),
            ObjType::BusinessCard => (rng.pick(&[85.0, 90.0]), rng.pick(&[55.0, 50.0]), 0.0),
        };
        let content = match t {
            ObjType::Receipt | ObjType::ShortReceipt => receipt_content(rng, w, h),
            ObjType::IdCard => card_content(rng, w, h, self.mat_col),
            ObjType::BusinessCard => page_content(rng, w, h, true),
            _ => {
                if rng.chance(0.5) {
                    // Landscape page.
                    std::mem::swap(&mut w, &mut h);
                }
                page_content(rng, w, h, self.colour_pages)
            }
        };
        let mut content = content;
        let glossy = match t {
            ObjType::IdCard => 0.4,
            ObjType::BusinessCard => 0.15,
            _ if self.colour_pages => 0.15,
            _ => 0.0,
        };
        if rng.chance(glossy) {
            // A specular highlight from the overhead light, anywhere on the object (also
            // across an edge), washing out colours towards white.
            content.glare = Some((
                rng.range(0.0, w),
                rng.range(0.0, h),
                rng.range(0.08, 0.3) * w.min(h),
                rng.range(0.08, 0.3) * w.min(h),
                rng.range(0.25, 0.75),
            ));
        }
        let hint = match t {
            ObjType::IdCard | ObjType::BusinessCard => DocHint::Card,
            _ if self.colour_pages => DocHint::ColorPage,
            _ => DocHint::WhiteDocument,
        };
        let mut angle = rng.range(-angle_range, angle_range).to_radians();
        if matches!(t, ObjType::Receipt | ObjType::ShortReceipt) && rng.chance(0.25) {
            angle += std::f32::consts::FRAC_PI_2;
        }
        Obj {
            w,
            h,
            cx: 0.0,
            cy: 0.0,
            cos: angle.cos(),
            sin: angle.sin(),
            radius,
            content,
            shadow: None,
            ppm: 1.0,
            hint,
        }
    }

    fn image_quad(&self, o: &Obj) -> [(f64, f64); 4] {
        o.corners_mat().map(|(x, y)| self.cam.apply(x, y))
    }

    /// True when the object lies inside the frame with `margin` pixels to spare.
    fn inside(&self, o: &Obj, margin: f64) -> bool {
        let (w, h) = (self.width as f64, self.height as f64);
        self.image_quad(o)
            .iter()
            .all(|&(x, y)| x >= margin && y >= margin && x <= w - margin && y <= h - margin)
    }

    fn mat_extent(&self) -> (f32, f32, f32, f32) {
        let inv = self.cam.inverse().expect("camera homography is invertible");
        let (w, h) = (self.width as f64, self.height as f64);
        let pts = [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)].map(|(x, y)| inv.apply(x, y));
        let xs = pts.iter().map(|p| p.0 as f32);
        let ys = pts.iter().map(|p| p.1 as f32);
        (
            xs.clone().fold(f32::MAX, f32::min),
            ys.clone().fold(f32::MAX, f32::min),
            xs.fold(f32::MIN, f32::max),
            ys.fold(f32::MIN, f32::max),
        )
    }

    /// Places `o` at a random position fully inside the frame and at least `gap` mm
    /// away from `others`. Shrinks the rotation when the object does not fit.
    fn place(&mut self, o: &mut Obj, others: &[Obj], gap: f32) -> bool {
        let (x0, y0, x1, y1) = self.mat_extent();
        let angle0 = o.sin.atan2(o.cos);
        for attempt in 0..400 {
            if attempt > 0 && attempt % 50 == 0 {
                let a = angle0 * (1.0 - attempt as f32 / 400.0);
                o.cos = a.cos();
                o.sin = a.sin();
            }
            o.cx = self.rng.range(x0, x1);
            o.cy = self.rng.range(y0, y1);
            if !self.inside(o, 6.0) {
                continue;
            }
            let mine = o.corners_mat();
            if others
                .iter()
                .all(|p| poly_gap(&mine, &p.corners_mat()) >= gap as f64)
            {
                return true;
            }
        }
        false
    }

    fn finish(&self, o: &mut Obj) {
        o.ppm = self.ppm_at(o.cx, o.cy);
    }
}

fn hash2(i: i64, j: i64, seed: u64) -> f32 {
    let mut h = seed
        ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (j as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    h ^= h >> 29;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^= h >> 32;
    (h >> 40) as f32 / (1u64 << 23) as f32 - 1.0
}

/// Smooth value noise in [-1, 1] on the integer lattice.
fn hash_noise(x: f32, y: f32, seed: u64) -> f32 {
    let (ix, iy) = (x.floor(), y.floor());
    let (fx, fy) = (x - ix, y - iy);
    let sx = fx * fx * (3.0 - 2.0 * fx);
    let sy = fy * fy * (3.0 - 2.0 * fy);
    let (i, j) = (ix as i64, iy as i64);
    let top = hash2(i, j, seed) * (1.0 - sx) + hash2(i + 1, j, seed) * sx;
    let bot = hash2(i, j + 1, seed) * (1.0 - sx) + hash2(i + 1, j + 1, seed) * sx;
    top * (1.0 - sy) + bot * sy
}

/// Minimum distance between two convex polygons (0 when they overlap).
fn poly_gap(a: &[(f64, f64); 4], b: &[(f64, f64); 4]) -> f64 {
    let overlap = {
        let mut separated = false;
        for poly in [a, b] {
            for i in 0..4 {
                let p = poly[i];
                let q = poly[(i + 1) % 4];
                let (nx, ny) = (q.1 - p.1, p.0 - q.0);
                let proj = |s: &[(f64, f64); 4]| {
                    s.iter().fold((f64::MAX, f64::MIN), |(lo, hi), v| {
                        let d = v.0 * nx + v.1 * ny;
                        (lo.min(d), hi.max(d))
                    })
                };
                let (a0, a1) = proj(a);
                let (b0, b1) = proj(b);
                if a1 < b0 || b1 < a0 {
                    separated = true;
                }
            }
        }
        !separated
    };
    if overlap {
        return 0.0;
    }
    let seg = |p: (f64, f64), a: (f64, f64), b: (f64, f64)| {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let t = (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / (dx * dx + dy * dy)).clamp(0.0, 1.0);
        ((p.0 - a.0 - t * dx).powi(2) + (p.1 - a.1 - t * dy).powi(2)).sqrt()
    };
    let mut best = f64::MAX;
    for (s, t) in [(a, b), (b, a)] {
        for &p in s.iter() {
            for i in 0..4 {
                best = best.min(seg(p, t[i], t[(i + 1) % 4]));
            }
        }
    }
    best
}

fn random_single_type(rng: &mut Rng) -> ObjType {
    let r = rng.f32();
    if r < 0.4 {
        ObjType::A4
    } else if r < 0.62 {
        ObjType::A5
    } else if r < 0.8 {
        ObjType::Receipt
    } else {
        ObjType::IdCard
    }
}

/// Generates one labelled shot. Deterministic in `(seed, kind, width, height)`.
pub fn generate(seed: u64, kind: SceneKind, width: u32, height: u32) -> Scene {
    let width = width.max(64);
    let height = height.max(48);
    let mut rng = Rng::new(seed.wrapping_mul(0x1000_0000_01B3) ^ (kind.index() << 56));
    let rng = &mut rng;

    // Camera: field of view a little larger than A3 landscape, slight keystone.
    let fov_w = rng.range(425.0, 470.0);
    let ppm = width as f32 / fov_w;
    let fov_h = height as f32 / ppm;
    let dmax = if kind == SceneKind::Perspective {
        rng.range(0.05, 0.08)
    } else {
        rng.range(0.0, 0.02)
    };
    let (wf, hf) = (width as f64, height as f64);
    let mut corners = [(0.0, 0.0), (wf, 0.0), (wf, hf), (0.0, hf)];
    let mut biggest = 0.0f64;
    let mut disp = [(0.0f64, 0.0f64); 4];
    for d in disp.iter_mut() {
        *d = (
            rng.range(-1.0, 1.0) as f64 * dmax as f64,
            rng.range(-1.0, 1.0) as f64 * dmax as f64,
        );
        biggest = biggest.max(d.0.abs()).max(d.1.abs());
    }
    if biggest > 0.0 {
        // Make the largest displacement reach dmax.
        let k = dmax as f64 / biggest;
        for d in disp.iter_mut() {
            d.0 *= k;
            d.1 *= k;
        }
    }
    for (c, d) in corners.iter_mut().zip(disp) {
        c.0 += d.0 * wf;
        c.1 += d.1 * hf;
    }
    let mat_rect = [
        (0.0, 0.0),
        (fov_w as f64, 0.0),
        (fov_w as f64, fov_h as f64),
        (0.0, fov_h as f64),
    ];
    let cam = Homography::from_points(mat_rect, corners).expect("valid camera");

    let mat_tone = match kind {
        SceneKind::DarkMat => MatTone::Dark,
        SceneKind::LightMat => MatTone::Light,
        _ => {
            let r = rng.f32();
            if r < 0.45 {
                MatTone::Dark
            } else if r < 0.85 {
                MatTone::Light
            } else {
                MatTone::Mid
            }
        }
    };
    let colour_pages = kind != SceneKind::LightMat && rng.chance(0.4);

    let mut b = Builder {
        rng,
        cam,
        width,
        height,
        mat_col: [0.0; 3],
        colour_pages,
    };
    let extent = b.mat_extent();
    let extent = (
        extent.0 - 20.0,
        extent.1 - 20.0,
        extent.2 + 20.0,
        extent.3 + 20.0,
    );
    let mut mat = Mat::new(b.rng, mat_tone, extent);
    if kind == SceneKind::LightMat {
        // Low contrast on purpose: page 5-30 % brighter than the mat.
        let ratio = b.rng.range(1.05, 1.3);
        let target = b.rng.range(232.0, 246.0) / ratio;
        let k = target / lum(mat.base);
        mat.base = mat.base.map(|v| v * k);
    }
    b.mat_col = mat.base;

    let angle = |kind: SceneKind| match kind {
        SceneKind::Perspective => 15.0,
        _ => 10.0,
    };

    let mut objs: Vec<Obj> = Vec::new();
    let mut clip_truth = false;
    match kind {
        SceneKind::MultiObject => {
            let n = b.rng.int(2, 5);
            for i in 0..n {
                let t = loop {
                    let t = b.rng.pick(&[
                        ObjType::IdCard,
                        ObjType::IdCard,
                        ObjType::BusinessCard,
                        ObjType::ShortReceipt,
                        ObjType::A6,
                        ObjType::A5,
                    ]);
                    if t != ObjType::A5 || (n <= 3 && i == 0) {
                        break t;
                    }
                };
                let ar = if matches!(t, ObjType::IdCard | ObjType::BusinessCard) {
                    90.0
                } else {
                    15.0
                };
                let mut o = b.make(t, ar);
                if b.place(&mut o, &objs, 6.0) {
                    objs.push(o);
                }
            }
        }
        SceneKind::BorderTouch => {
            let t = random_single_type(b.rng);
            let t = if t == ObjType::IdCard && b.rng.chance(0.5) {
                ObjType::A5
            } else {
                t
            };
            let ar = if t == ObjType::IdCard { 30.0 } else { 6.0 };
            let mut o = b.make(t, ar);
            o.content.paper = o.content.paper.map(|v| v.min(250.0));
            let (x0, y0, x1, y1) = b.mat_extent();
            let mut placed = false;
            for _ in 0..600 {
                o.cx = b.rng.range(x0 - 60.0, x1 + 60.0);
                o.cy = b.rng.range(y0 - 60.0, y1 + 60.0);
                let q: Vec<(f64, f64)> = b.image_quad(&o).to_vec();
                let full = signed_area(&q).abs();
                let vis = clip_to_frame(&q, width as f64, height as f64);
                let va = signed_area(&vis).abs();
                if vis.len() == 4 && va > 0.55 * full && va < 0.92 * full {
                    placed = true;
                    break;
                }
            }
            if placed {
                objs.push(o);
                clip_truth = true;
            } else {
                let mut o = b.make(t, ar);
                if b.place(&mut o, &[], 0.0) {
                    objs.push(o);
                }
            }
        }
        _ => {
            let t = match kind {
                SceneKind::A4Page => ObjType::A4,
                SceneKind::A5Page => ObjType::A5,
                SceneKind::Receipt => ObjType::Receipt,
                SceneKind::IdCard => ObjType::IdCard,
                _ => random_single_type(b.rng),
            };
            let ar = if t == ObjType::IdCard {
                90.0
            } else {
                angle(kind)
            };
            // A big page may not fit in a steep view at a given rotation and
            // orientation: draw again (new orientation) until it does.
            for _ in 0..8 {
                let mut o = b.make(t, ar);
                if kind == SceneKind::LightMat && t == ObjType::IdCard {
                    o.content.paper = white_paper(b.rng);
                }
                if b.place(&mut o, &[], 0.0) {
                    objs.push(o);
                    break;
                }
            }
        }
    }

    // Paper must stand out from the mat at least a little (a white page on a white mat
    // is invisible to any camera).
    for o in objs.iter_mut() {
        let pl = lum(o.content.paper);
        let ml = lum(mat.base);
        if (pl - ml).abs() < 0.05 * ml.max(pl) && cdist(o.content.paper, mat.base) < 20.0 {
            let k = if pl >= ml {
                1.05 * ml / pl
            } else {
                0.95 * ml / pl
            };
            o.content.paper = o.content.paper.map(|v| (v * k).min(252.0));
        }
    }

    // Shadows.
    for o in objs.iter_mut() {
        let strong = kind == SceneKind::Shadow;
        if strong || b.rng.chance(0.3) {
            let ang = b.rng.range(0.0, std::f32::consts::TAU);
            let (off, blur, strength) = if strong {
                (
                    b.rng.range(1.5, 5.0),
                    b.rng.range(2.0, 6.0),
                    b.rng.range(0.15, 0.4),
                )
            } else {
                (
                    b.rng.range(0.3, 1.5),
                    b.rng.range(0.5, 2.0),
                    b.rng.range(0.05, 0.15),
                )
            };
            o.shadow = Some(Shadow {
                dx: off * ang.cos(),
                dy: off * ang.sin(),
                blur,
                strength,
            });
        }
        b.finish(o);
    }

    let light = Light::new(b.rng, kind == SceneKind::UnevenLight);
    let truth_hint = objs.first().map(|o| o.hint).unwrap_or_default();
    let mut truth: Vec<Quad> = objs
        .iter()
        .map(|o| {
            let q = b.image_quad(o);
            let pts: Vec<(f64, f64)> = if clip_truth {
                clip_to_frame(&q, width as f64, height as f64)
            } else {
                q.to_vec()
            };
            let mut a = [(0.0f32, 0.0f32); 4];
            for (i, p) in pts.iter().take(4).enumerate() {
                a[i] = (p.0 as f32, p.1 as f32);
            }
            Quad::ordered(a)
        })
        .collect();
    truth.sort_by(|a, b| {
        b.area()
            .partial_cmp(&a.area())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let hint = if kind == SceneKind::MultiObject {
        DocHint::Card
    } else {
        truth_hint
    };

    // Render.
    let inv = cam.inverse().expect("invertible camera");
    let mut buf = vec![0.0f32; (width * height * 3) as usize];
    render(&mut buf, width, height, &inv, &mat, &objs, &light, ppm);

    // Optics, sensor, codec.
    let blur = b.rng.range(0.5, 1.4) * (width as f32 / 1296.0).max(0.5);
    gaussian_blur(&mut buf, width as usize, height as usize, blur);
    let (read, shot) = if kind == SceneKind::Noise {
        (b.rng.range(3.0, 5.0), b.rng.range(0.08, 0.2))
    } else {
        (b.rng.range(0.8, 2.0), b.rng.range(0.01, 0.05))
    };
    let mut img = RgbImage::new(width, height);
    for (o, &v) in img.as_mut().iter_mut().zip(buf.iter()) {
        let v = v.max(0.0);
        let sigma = (read * read + shot * v).sqrt();
        *o = (v + sigma * b.rng.normal()).round().clamp(0.0, 255.0) as u8;
    }
    let jpeg_q = if kind == SceneKind::Jpeg {
        Some(b.rng.int(75, 90))
    } else if b.rng.chance(0.6) {
        Some(b.rng.int(82, 95))
    } else {
        None
    };
    if let Some(q) = jpeg_q {
        if let Some(j) = jpeg_round_trip(&img, q) {
            img = j;
        }
    }
    Scene {
        image: img,
        objects: truth,
        hint,
    }
}

#[allow(clippy::too_many_arguments)]
fn render(
    buf: &mut [f32],
    width: u32,
    height: u32,
    inv: &Homography,
    mat: &Mat,
    objs: &[Obj],
    light: &Light,
    ppm: f32,
) {
    let m = inv.0;
    let (w, h) = (width as usize, height as usize);
    for y in 0..h {
        let py = y as f64 + 0.5;
        let ny = (py / h as f64 * 2.0 - 1.0) as f32;
        for x in 0..w {
            let px = x as f64 + 0.5;
            let d = m[6] * px + m[7] * py + m[8];
            let mx = ((m[0] * px + m[1] * py + m[2]) / d) as f32;
            let my = ((m[3] * px + m[4] * py + m[5]) / d) as f32;
            let mut col = mat.eval(mx, my, ppm);
            // Shadows on the mat.
            for o in objs {
                if let Some(s) = o.shadow {
                    let sx = mx - s.dx;
                    let sy = my - s.dy;
                    let reach = o.bound_radius() + s.blur * 2.0;
                    if (sx - o.cx).abs() > reach || (sy - o.cy).abs() > reach {
                        continue;
                    }
                    let (u, v) = o.local(sx, sy);
                    let sd = o.sdf(u, v);
                    let t = (0.5 - sd / s.blur).clamp(0.0, 1.0);
                    let t = t * t * (3.0 - 2.0 * t);
                    let k = 1.0 - s.strength * t;
                    col = col.map(|c| c * k);
                }
            }
            for o in objs {
                let reach = o.bound_radius() + 1.0;
                if (mx - o.cx).abs() > reach || (my - o.cy).abs() > reach {
                    continue;
                }
                let (u, v) = o.local(mx, my);
                let sd = o.sdf(u, v);
                let a = (0.5 - sd * o.ppm).clamp(0.0, 1.0);
                if a <= 0.0 {
                    continue;
                }
                let pu = (u + o.w / 2.0).clamp(0.0, o.w - 1e-3);
                let pv = (v + o.h / 2.0).clamp(0.0, o.h - 1e-3);
                let oc = o.content.eval(pu, pv, o.w, o.h);
                col = lerp(col, oc, a);
            }
            let nx = (px / w as f64 * 2.0 - 1.0) as f32;
            let l = light.at(nx, ny);
            let i = (y * w + x) * 3;
            for c in 0..3 {
                buf[i + c] = col[c] * l * light.cast[c];
            }
        }
    }
}

fn gaussian_blur(buf: &mut [f32], w: usize, h: usize, sigma: f32) {
    if sigma < 0.2 {
        return;
    }
    let r = (sigma * 3.0).ceil() as usize;
    let mut k: Vec<f32> = (0..=2 * r)
        .map(|i| {
            let d = i as f32 - r as f32;
            (-d * d / (2.0 * sigma * sigma)).exp()
        })
        .collect();
    let s: f32 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= s);
    let mut tmp = vec![0.0f32; buf.len()];
    for y in 0..h {
        for x in 0..w {
            let mut acc = [0.0f32; 3];
            for (j, kv) in k.iter().enumerate() {
                let xx = (x + j).saturating_sub(r).min(w - 1);
                let i = (y * w + xx) * 3;
                for c in 0..3 {
                    acc[c] += kv * buf[i + c];
                }
            }
            tmp[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&acc);
        }
    }
    for y in 0..h {
        for x in 0..w {
            let mut acc = [0.0f32; 3];
            for (j, kv) in k.iter().enumerate() {
                let yy = (y + j).saturating_sub(r).min(h - 1);
                let i = (yy * w + x) * 3;
                for c in 0..3 {
                    acc[c] += kv * tmp[i + c];
                }
            }
            buf[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&acc);
        }
    }
}

/// Encodes at `quality` (4:2:0, as USB cameras and browsers do) and decodes again.
pub fn jpeg_round_trip(img: &RgbImage, quality: i32) -> Option<RgbImage> {
    let (w, h) = img.dimensions();
    let src = turbojpeg::Image {
        pixels: img.as_raw().as_slice(),
        width: w as usize,
        pitch: w as usize * 3,
        height: h as usize,
        format: turbojpeg::PixelFormat::RGB,
    };
    let jpeg = turbojpeg::compress(src, quality, turbojpeg::Subsamp::Sub2x2).ok()?;
    let out = turbojpeg::decompress(&jpeg, turbojpeg::PixelFormat::RGB).ok()?;
    RgbImage::from_raw(out.width as u32, out.height as u32, out.pixels)
}
