//! The stats page served on a proxy's `stats uri`. TODO(#8): HTML page and CSV export.

use crate::http1::HeadEdit;
use crate::proxy::rules::ReqHead;
use crate::runtime::{Proxy, Runtime};

/// Writes the stats response for this request into `out`; returns its status.
pub fn serve(
    rt: &Runtime,
    px: &Proxy,
    head: &ReqHead<'_>,
    edit: &HeadEdit,
    out: &mut Vec<u8>,
) -> u16 {
    let _ = (rt, px, head, edit);
    out.extend_from_slice(crate::http1::canned::HTTP_503);
    503
}
