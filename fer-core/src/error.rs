//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong in `fer-core`. Each variant names the file, line, value or
/// parameter at fault, so a message alone tells a user what to fix.
#[derive(Debug, thiserror::Error)]
pub enum FerError {
    /// Reading or writing a file or folder failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A file that should be an image could not be decoded.
    #[error("{path}: not a readable image ({source})")]
    Image {
        /// The image file.
        path: PathBuf,
        /// The decoder's error.
        #[source]
        source: image::ImageError,
    },

    /// A file or folder whose content is not what FER2013 data should be.
    #[error("{path}: {message}")]
    InvalidData {
        /// The file or folder at fault.
        path: PathBuf,
        /// What was found and what was expected.
        message: String,
    },

    /// A bad row in a CSV file. Lines count the header as line 1, as an editor shows them.
    #[error("{path}, line {line}: {message}")]
    Csv {
        /// The CSV file.
        path: PathBuf,
        /// 1-based line number, the header being line 1.
        line: u64,
        /// What was found and what was expected.
        message: String,
    },

    /// A name that is not one of the seven emotions.
    #[error("unknown emotion {0:?}: expected one of angry, disgust, fear, happy, sad, surprise, neutral")]
    UnknownEmotion(String),

    /// A parameter outside its valid range, rejected when a pipeline, sampler or model is built.
    #[error("invalid parameter `{name}`: {message}")]
    InvalidParameter {
        /// The parameter's name, as the builder spells it.
        name: &'static str,
        /// The value given and what is allowed.
        message: String,
    },

    /// A data set (or a requested part of one) with no samples.
    #[error("empty data set: {0}")]
    EmptyDataset(String),

    /// Shapes or dimensions that do not fit together (a model and its input, say).
    #[error("shape mismatch: {0}")]
    ShapeMismatch(String),

    /// A saved model or checkpoint that cannot be used (corrupt, another version, another
    /// architecture).
    #[error("{path}: {message}")]
    Model {
        /// The model file or folder.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },

    /// A dfdx tensor operation failed on the CPU (out of memory, or a buffer of the wrong size).
    #[error("tensor operation failed: {0}")]
    Tensor(#[from] dfdx::tensor::CpuError),

    /// Fitting a model failed (for example linfa's line search).
    #[error("fitting failed: {0}")]
    Fit(String),

    /// Training stopped on request (Ctrl-C) between two steps; with a checkpoint folder, a
    /// resumable checkpoint was saved first.
    #[error("interrupted at epoch {epoch} step {step}; {}", interrupted_note(.checkpoint))]
    Interrupted {
        /// 1-based epoch that was running.
        epoch: usize,
        /// Steps of that epoch already done.
        step: usize,
        /// The `last/` folder holding the resumable checkpoint, if the run keeps checkpoints.
        checkpoint: Option<PathBuf>,
    },

    /// JSON (de)serialisation of a config, history or metrics file failed.
    #[error("{path}: {source}")]
    Json {
        /// The JSON file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
}

fn interrupted_note(checkpoint: &Option<PathBuf>) -> String {
    match checkpoint {
        Some(dir) => format!("checkpoint in {}; continue with --resume", dir.display()),
        None => "no checkpoint was kept (no output folder)".to_string(),
    }
}

/// `Result` with [`FerError`].
pub type Result<T, E = FerError> = std::result::Result<T, E>;

impl FerError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        FerError::Io {
            path: path.into(),
            source,
        }
    }

    /// An [`FerError::InvalidData`] for `path`.
    pub fn invalid_data(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        FerError::InvalidData {
            path: path.into(),
            message: message.into(),
        }
    }

    /// An [`FerError::InvalidParameter`] naming `name`.
    pub fn invalid_parameter(name: &'static str, message: impl Into<String>) -> Self {
        FerError::InvalidParameter {
            name,
            message: message.into(),
        }
    }
}
