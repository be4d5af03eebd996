//! Writing an ONNX file: the model encoded with prost and written atomically, into a folder
//! that must already exist (a mistyped folder is named, not created).

use std::path::{Path, PathBuf};

use prost::Message;

use super::metadata::ExportMetadata;
use super::model::onnx_model;
use crate::cnn::{load_checkpoint, Arch, CnnModel};
use crate::error::{FerError, Result};

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ExportSummary {
    /// The ONNX file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// The network exported.
    pub arch: Arch,
    /// Nodes in the graph.
    pub nodes: usize,
    /// The PrivateTest accuracy recorded in the file's metadata, if any.
    pub private_test_accuracy: Option<f64>,
}

/// Writes `model` as ONNX to `path` (see [`onnx_model`] for the graph). The file is written
/// to a temporary name beside it and renamed, so an existing file is replaced whole or not at
/// all. Errors if `path`'s folder does not exist or `path` is a folder.
pub fn write_onnx(
    model: &CnnModel,
    metadata: &ExportMetadata,
    path: &Path,
) -> Result<ExportSummary> {
    check_output(path)?;
    let proto = onnx_model(model, metadata);
    let nodes = proto.graph.as_ref().map_or(0, |g| g.node.len());
    let bytes = proto.encode_to_vec();
    crate::fs::write_atomically(path, |w| w.write_all(&bytes))?;
    Ok(ExportSummary {
        path: path.to_path_buf(),
        bytes: bytes.len() as u64,
        arch: model.config.arch,
        nodes,
        private_test_accuracy: metadata.private_test_accuracy,
    })
}

/// Exports the checkpoint folder `dir` (as `fer train cnn` writes it) to `path`: loads it as
/// `fer predict` does (same errors for a folder that is not a checkpoint), takes the
/// PrivateTest accuracy from its `metrics.json` if it has one, and writes with
/// [`write_onnx`].
pub fn export_checkpoint(dir: &Path, path: &Path) -> Result<ExportSummary> {
    // The output is checked first, so a mistyped path fails before the weights are read.
    check_output(path)?;
    let model = load_checkpoint(dir)?;
    let metadata = ExportMetadata::of_checkpoint(dir)?;
    write_onnx(&model, &metadata, path)
}

/// The output's folder must exist, and the output must not be a folder.
fn check_output(path: &Path) -> Result<()> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !folder.is_dir() {
        return Err(FerError::io(
            folder,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!(
                    "no such folder for the ONNX file {} (create it first)",
                    path.display()
                ),
            ),
        ));
    }
    if path.is_dir() {
        return Err(FerError::io(
            path,
            std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "is a folder; give the ONNX file's name (e.g. model.onnx)",
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cnn::ModelConfig;
    use crate::data::{PixelStats, IMAGE_PIXELS};
    use dfdx::tensor::Cpu;

    fn untrained(arch: Arch) -> CnnModel {
        let stats = PixelStats {
            mean: vec![128.0; IMAGE_PIXELS],
            std: vec![64.0; IMAGE_PIXELS],
            count: 1,
        };
        CnnModel::new(ModelConfig::new(arch), stats, &Cpu::default()).unwrap()
    }

    #[test]
    fn a_missing_folder_is_named_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("no-such-folder").join("model.onnx");
        let model = untrained(Arch::Best);
        let meta = ExportMetadata {
            private_test_accuracy: None,
        };
        let err = write_onnx(&model, &meta, &out).unwrap_err().to_string();
        assert!(err.contains("no-such-folder"), "{err}");
        assert!(!dir.path().join("no-such-folder").exists());

        let err = write_onnx(&model, &meta, dir.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("is a folder"), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_folder_that_is_not_a_checkpoint_gets_the_loaders_error() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("model.onnx");
        let err = export_checkpoint(&dir.path().join("nothing"), &out)
            .unwrap_err()
            .to_string();
        // load_checkpoint's message (cnn/checkpoint.rs), as `fer predict` shows it.
        assert!(err.contains("not a checkpoint folder"), "{err}");
        assert!(!out.exists());
    }

    /// The weights are most of the file: 4 bytes per parameter and running statistic of the
    /// best network (1,175,399 trainable, BestModel's docs, plus 2 x 960 running statistics
    /// of its 8 batch norms) and the 2 x 2,304 pixel statistics.
    #[test]
    fn writes_the_weights_and_a_complete_graph() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("best.onnx");
        let summary = write_onnx(
            &untrained(Arch::Best),
            &ExportMetadata {
                private_test_accuracy: Some(0.5),
            },
            &out,
        )
        .unwrap();
        let floats = 1_175_399 + 2 * (2 * (32 + 64 + 128 + 256)) + 2 * IMAGE_PIXELS;
        assert_eq!(summary.bytes, std::fs::metadata(&out).unwrap().len());
        assert!(
            summary.bytes >= 4 * floats as u64 && summary.bytes < 4 * floats as u64 + 20_000,
            "{} bytes for {floats} floats",
            summary.bytes
        );
        // 2 standardisation + 4 blocks x 7 (2 x conv, norm, relu; pool) + pool, flatten,
        // gemm, identity, softmax.
        assert_eq!(summary.nodes, 2 + 4 * 7 + 5);
    }
}
