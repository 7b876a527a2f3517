//! `rasid serial find`: another registry's serial string to the Rasid issuance it was imported
//! into, and where each part of its range is now. The look-up itself is shared with the API
//! (`rasid_server::serial_lookup`).

use crate::output::{Failure, Output};
use crate::registry::Ctx;
use rasid_server::serial_lookup::{LookupError, find, target};

pub fn run(ctx: &Ctx, text: String, range: Option<(String, String)>) -> Result<Output, Failure> {
    let target = target(&text, range).map_err(failure)?;
    ctx.read(move |s| find(s, &text, &target).map(|(t, j)| Output::new(t, j)).map_err(failure))?
}

fn failure(e: LookupError) -> Failure {
    match e {
        LookupError::Invalid(code, message) => Failure::invalid(code, message),
        LookupError::NotFound(message) => Failure::invalid("not_found", message),
    }
}
