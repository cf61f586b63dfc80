//! Downloads without leaving the page: a file made in the page (the segmentation) or the
//! three views as one PNG, both offered through one anchor click.

use wasm_bindgen::{JsCast, JsValue};

use super::js_text;

/// Why a download could not be offered.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// The page has no document or body (not in a browser tab).
    #[error("the page has no document")]
    NoDocument,
    /// The views are empty.
    #[error("nothing is shown yet")]
    NothingShown,
    /// A browser call failed.
    #[error("{0}")]
    Browser(String),
}

fn browser(e: JsValue) -> SaveError {
    SaveError::Browser(js_text(&e))
}

fn document() -> Result<web_sys::Document, SaveError> {
    web_sys::window()
        .and_then(|w| w.document())
        .ok_or(SaveError::NoDocument)
}

/// Offers `url` (a `blob:` or `data:` URL) as a download named `name`.
fn offer(url: &str, name: &str) -> Result<(), SaveError> {
    let document = document()?;
    let a: web_sys::HtmlAnchorElement = document
        .create_element("a")
        .map_err(browser)?
        .unchecked_into();
    a.set_href(url);
    a.set_download(name);
    let body = document.body().ok_or(SaveError::NoDocument)?;
    body.append_child(&a).map_err(browser)?;
    a.click();
    a.remove();
    Ok(())
}

/// Offers `bytes` as a download named `name` of type `mime`.
pub fn save(bytes: &[u8], name: &str, mime: &str) -> Result<(), SaveError> {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes).into());
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob =
        web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options).map_err(browser)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(browser)?;
    let offered = offer(&url, name);
    // The browser reads the blob after this returns: release it a minute later.
    leptos::prelude::set_timeout(
        move || {
            let _ = web_sys::Url::revoke_object_url(&url);
        },
        std::time::Duration::from_secs(60),
    );
    offered
}

/// Offers the three views side by side as a PNG.
pub fn save_views_png() -> Result<(), SaveError> {
    let document = document()?;
    let views = document
        .query_selector_all(".plane canvas")
        .map_err(browser)?;
    let canvases: Vec<web_sys::HtmlCanvasElement> = (0..views.length())
        .filter_map(|i| views.get(i))
        .filter_map(|n| n.dyn_into().ok())
        .collect();
    let gap = 8u32;
    let width: u32 = canvases.iter().map(|c| c.width() + gap).sum();
    let height = canvases.iter().map(|c| c.height()).max().unwrap_or(0);
    if width == 0 || height == 0 {
        return Err(SaveError::NothingShown);
    }
    let out: web_sys::HtmlCanvasElement = document
        .create_element("canvas")
        .map_err(browser)?
        .unchecked_into();
    out.set_width(width);
    out.set_height(height);
    let ctx: web_sys::CanvasRenderingContext2d = out
        .get_context("2d")
        .ok()
        .flatten()
        .ok_or_else(|| SaveError::Browser("no 2D canvas context".into()))?
        .unchecked_into();
    let mut x = 0.0;
    for c in &canvases {
        ctx.draw_image_with_html_canvas_element(c, x, 0.0)
            .map_err(browser)?;
        x += f64::from(c.width() + gap);
    }
    let url = out.to_data_url_with_type("image/png").map_err(browser)?;
    offer(&url, "adamm-views.png")
}
