//! The image editor (vendor 6.8, 6.9): `imagepro=start_editor` opens an editing session on the
//! given images and answers the address of the editor page (`/ui/editor.html?session=...`);
//! that page reads the session (`editor=session`), edits in the browser and saves each image
//! back (`editor=save`); `imagepro=get_editor_images` answers what was saved.
//!
//! One session at a time on the device: a new `start_editor` replaces the previous one (its
//! saved files stay). Sources given by file path are edited in place of nothing: an edit is
//! saved beside its source as `<name>_edited.<ext>` (a free name; never over the source or any
//! other file it did not write itself), sources given as base64 or uuid are first stored under
//! `/editor/<session>/`.

use std::sync::{Arc, Mutex};

use api::{ApiError, ApiRequest, ErrorKind, Fields, Reply, Table, Text};
use imaging::codec::Format;
use serde_json::{json, Map, Value};

use crate::common::{on, Images, Work};

/// Most images one session opens.
pub const MAX_IMAGES: usize = 50;

struct Source {
    /// The client path of the image the editor opens.
    filepath: String,
    /// Where its edit was saved ("" until then).
    saved: String,
}

struct Session {
    id: String,
    images: Vec<Source>,
}

pub struct Editor {
    images: Arc<Images>,
    session: Mutex<Option<Session>>,
}

fn no_session(id: &str) -> ApiError {
    ApiError::with(
        ErrorKind::NotFound,
        Text::new(
            format!("没有编辑会话 {id}（请先调用 imagepro=start_editor）"),
            format!("no editing session {id} (call imagepro=start_editor first)"),
        ),
    )
}

/// A storage path as a download address: `/storage/<path>` with every byte outside the
/// unreserved set and `/` percent-encoded.
fn download_url(path: &str) -> String {
    let mut out = String::from("/storage/");
    for b in path.trim_start_matches('/').bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `dir/name.ext` -> (`dir/name`, `ext`).
fn split_ext(path: &str) -> (&str, &str) {
    match path.rfind('.') {
        Some(i) if !path[i..].contains(['/', '\\']) => (&path[..i], &path[i + 1..]),
        _ => (path, ""),
    }
}

impl Editor {
    pub fn new(images: Arc<Images>) -> Editor {
        Editor {
            images,
            session: Mutex::new(None),
        }
    }

    fn start(&self, req: ApiRequest) -> Result<Reply, ApiError> {
        let f = req.fields();
        // The vendor spells it `sources_images`; `source_images` is accepted too.
        let list = f
            .array("sources_images")
            .or_else(|| f.array("source_images"))
            .ok_or_else(|| ApiError::missing("sources_images"))?;
        if list.is_empty() || list.len() > MAX_IMAGES {
            return Err(ApiError::invalid(
                "sources_images",
                Text::new(
                    format!("需要 1 到 {MAX_IMAGES} 张图像"),
                    format!("give 1 to {MAX_IMAGES} images"),
                ),
            ));
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        let c = &self.images;
        let mut images = Vec::with_capacity(list.len());
        for (i, item) in list.iter().enumerate() {
            let src = item.as_object().ok_or_else(|| {
                ApiError::invalid(
                    "sources_images",
                    Text::new(
                        format!("第 {i} 项不是 source_image 对象"),
                        format!("item {i} is not a source_image object"),
                    ),
                )
            })?;
            let by_path = Fields(src).str_nonempty("filepath");
            let has_data = Fields(src)
                .raw_str("base64")
                .is_some_and(|b| !b.trim().is_empty())
                || Fields(src).str_nonempty("uuid").is_some();
            let mut work = Work::new(c);
            let data = work.source(&c.store, src, false, 1)?;
            let (format, _, _) = imaging::codec::probe(&data)?;
            let filepath = match by_path {
                Some(p) if !has_data => p,
                _ => {
                    let p = format!("/editor/{id}/source-{i}.{}", format.extension());
                    c.store.write(&p, &data, false)?;
                    p
                }
            };
            images.push(Source {
                filepath,
                saved: String::new(),
            });
        }
        let n = images.len();
        *self.session.lock().unwrap_or_else(|e| e.into_inner()) = Some(Session {
            id: id.clone(),
            images,
        });
        tracing::info!(session = %id, images = n, "image editor session started");
        Ok(Reply::ok()
            .with("session", id.clone())
            .with("editor_url", format!("/ui/editor.html?session={id}"))
            .with("image_count", n))
    }

    fn with_session<T>(
        &self,
        id: Option<&str>,
        f: impl FnOnce(&mut Session) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut g = self.session.lock().unwrap_or_else(|e| e.into_inner());
        match g.as_mut() {
            Some(s) if id.is_none_or(|id| id == s.id) => f(s),
            _ => Err(no_session(id.unwrap_or(""))),
        }
    }

    fn describe(&self, req: ApiRequest) -> Result<Reply, ApiError> {
        let id = req
            .fields()
            .str_nonempty("session")
            .ok_or_else(|| ApiError::missing("session"))?;
        self.with_session(Some(&id), |s| {
            let images: Vec<Value> = s
                .images
                .iter()
                .enumerate()
                .map(|(i, im)| {
                    json!({"index": i, "url": download_url(&im.filepath),
                           "filepath": im.filepath, "saved": im.saved})
                })
                .collect();
            Ok(Reply::ok()
                .with("session", s.id.clone())
                .with("images", Value::Array(images)))
        })
    }

    fn save(&self, req: ApiRequest) -> Result<Reply, ApiError> {
        let f = req.fields();
        let id = f
            .str_nonempty("session")
            .ok_or_else(|| ApiError::missing("session"))?;
        let index = f.int("index")?.ok_or_else(|| ApiError::missing("index"))?;
        let b64 = f
            .raw_str("base64")
            .filter(|b| !b.trim().is_empty())
            .ok_or_else(|| ApiError::missing("base64"))?;
        let (source, saved) = self.with_session(Some(&id), |s| {
            let im = usize::try_from(index)
                .ok()
                .and_then(|i| s.images.get(i))
                .ok_or_else(|| {
                    ApiError::invalid(
                        "index",
                        Text::new(
                            format!("会话中没有第 {index} 张图像"),
                            format!("the session has no image {index}"),
                        ),
                    )
                })?;
            Ok((im.filepath.clone(), im.saved.clone()))
        })?;
        let c = &self.images;
        let mut work = Work::new(c);
        let mut src = Map::new();
        src.insert("base64".into(), Value::String(b64.to_string()));
        let data = work.source(&c.store, &src, true, 1)?;
        let (format, w, h) = imaging::codec::probe(&data)?;
        if !matches!(format, Format::Jpeg | Format::Png) {
            return Err(ApiError::invalid(
                "base64",
                Text::new(
                    "编辑结果须为 JPEG 或 PNG",
                    "the edited image must be JPEG or PNG",
                ),
            ));
        }
        let ext = format.extension();
        // The same file again when this image was saved before in the same format; otherwise a
        // name nobody uses yet.
        let path = if !saved.is_empty() && split_ext(&saved).1.eq_ignore_ascii_case(ext) {
            c.store.write(&saved, &data, true)?;
            saved
        } else {
            let (stem, _) = split_ext(&source);
            let mut n = 1;
            loop {
                let p = if n == 1 {
                    format!("{stem}_edited.{ext}")
                } else {
                    format!("{stem}_edited{n}.{ext}")
                };
                match c.store.write(&p, &data, false) {
                    Ok(_) => break p,
                    Err(storage::sandbox::StoreError::Exists(_)) if n < 100 => n += 1,
                    Err(e) => return Err(e.into()),
                }
            }
        };
        // The session may have been replaced meanwhile: then the file stays, unrecorded.
        let _ = self.with_session(Some(&id), |s| {
            if let Some(im) = s.images.get_mut(index as usize) {
                im.saved = path.clone();
            }
            Ok(())
        });
        tracing::info!(session = %id, index, %path, width = w, height = h, "edited image saved");
        Ok(Reply::ok().with("filepath", path))
    }

    fn saved(&self, _req: ApiRequest) -> Result<Reply, ApiError> {
        self.with_session(None, |s| {
            let images: Vec<Value> = s
                .images
                .iter()
                .enumerate()
                .filter(|(_, im)| !im.saved.is_empty())
                .map(|(i, im)| json!({"index": i, "filepath": im.saved}))
                .collect();
            Ok(Reply::ok()
                .with("image_count", images.len())
                .with("images", Value::Array(images)))
        })
    }
}

pub fn register(table: &mut Table, editor: Arc<Editor>) {
    on(table, "imagepro", "start_editor", &editor, Editor::start);
    on(
        table,
        "imagepro",
        "get_editor_images",
        &editor,
        Editor::saved,
    );
    on(table, "editor", "session", &editor, Editor::describe);
    on(table, "editor", "save", &editor, Editor::save);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_names() {
        assert_eq!(download_url("/images/a b.jpg"), "/storage/images/a%20b.jpg");
        assert_eq!(download_url("D:/tmp/T.jpg"), "/storage/D%3A/tmp/T.jpg");
        assert_eq!(download_url("/文/x.png"), "/storage/%E6%96%87/x.png");
        assert_eq!(split_ext("/a/b.c/d.jpg"), ("/a/b.c/d", "jpg"));
        assert_eq!(split_ext("/a/b.c/d"), ("/a/b.c/d", ""));
    }
}
