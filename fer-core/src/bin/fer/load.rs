//! Loading the data set for a subcommand: the library reports what went wrong with the
//! decoded-data cache in its return value, the command says it on stderr.

use std::path::Path;

use fer_core::data::{self, Fer2013};

/// Loads FER2013 from `path` ([`data::load`]), warning on stderr if the decoded data could not
/// be cached (the next run decodes again; nothing else is lost).
pub fn load(path: &Path) -> anyhow::Result<Fer2013> {
    let fer = data::load(path)?;
    if let Some(warning) = &fer.cache_warning {
        eprintln!("warning: decoded data not cached: {warning}");
    }
    Ok(fer)
}
