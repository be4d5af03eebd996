//! What an exported file says about itself (ONNX `metadata_props`, which ONNX Runtime returns
//! as `InferenceSession.get_modelmeta().custom_metadata_map`): the emotion labels in output
//! order, the model's PrivateTest accuracy when its checkpoint records one, the architecture
//! and the fer version that wrote it.

use std::path::Path;

use serde_json::Value;
use tract_onnx::pb::StringStringEntryProto;

use crate::cnn::Arch;
use crate::error::Result;
use crate::Emotion;

/// Key of the labels: a JSON array of the seven emotion names, index i naming output column i.
pub const EMOTIONS_KEY: &str = "emotions";
/// Key of the PrivateTest accuracy (a fraction, as `metrics.json` records it).
pub const PRIVATE_TEST_ACCURACY_KEY: &str = "private_test_accuracy";
/// Key of the architecture (`seed` or `best`).
pub const ARCH_KEY: &str = "architecture";
/// Key of the version of fer that wrote the file.
pub const FER_VERSION_KEY: &str = "fer_version";

/// File name of the metrics `fer train cnn` writes into a checkpoint folder at the end.
pub const METRICS_FILE: &str = "metrics.json";

/// The facts an export records beside the graph.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportMetadata {
    /// The model's accuracy on PrivateTest without test-time augmentation, if known.
    pub private_test_accuracy: Option<f64>,
}

impl ExportMetadata {
    /// The metadata of a checkpoint folder: the PrivateTest accuracy from its `metrics.json`
    /// (`summary.private_test_accuracy`, what `fer train cnn` recorded when it scored the
    /// kept epoch), or none if the folder has no such file (a `last/` checkpoint, or one
    /// written by the library). A `metrics.json` that does not parse is an error naming it.
    pub fn of_checkpoint(dir: &Path) -> Result<Self> {
        let path = dir.join(METRICS_FILE);
        if !path.is_file() {
            return Ok(ExportMetadata {
                private_test_accuracy: None,
            });
        }
        let metrics: Value = crate::fs::read_json(&path)?;
        Ok(ExportMetadata {
            private_test_accuracy: metrics["summary"]["private_test_accuracy"].as_f64(),
        })
    }

    /// The `metadata_props` entries for a model of `arch`.
    pub fn props(&self, arch: Arch) -> Vec<StringStringEntryProto> {
        let emotions: Vec<&str> = Emotion::ALL.iter().map(|e| e.name()).collect();
        let mut props = vec![
            (
                EMOTIONS_KEY,
                serde_json::to_string(&emotions).expect("a list of strings serialises"),
            ),
            (ARCH_KEY, arch.name().to_string()),
            (FER_VERSION_KEY, env!("CARGO_PKG_VERSION").to_string()),
        ];
        if let Some(accuracy) = self.private_test_accuracy {
            props.push((PRIVATE_TEST_ACCURACY_KEY, accuracy.to_string()));
        }
        props
            .into_iter()
            .map(|(key, value)| StringStringEntryProto {
                key: key.to_string(),
                value,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value<'a>(props: &'a [StringStringEntryProto], key: &str) -> Option<&'a str> {
        props
            .iter()
            .find(|p| p.key == key)
            .map(|p| p.value.as_str())
    }

    #[test]
    fn reads_the_recorded_accuracy_and_lists_the_labels_in_output_order() {
        let dir = tempfile::tempdir().unwrap();
        let none = ExportMetadata::of_checkpoint(dir.path()).unwrap();
        assert_eq!(none.private_test_accuracy, None);
        let props = none.props(Arch::Seed);
        assert_eq!(value(&props, PRIVATE_TEST_ACCURACY_KEY), None);
        assert_eq!(value(&props, ARCH_KEY), Some("seed"));
        // Emotion's label order, 0 angry .. 6 neutral (FER2013's).
        assert_eq!(
            value(&props, EMOTIONS_KEY),
            Some(r#"["angry","disgust","fear","happy","sad","surprise","neutral"]"#)
        );

        std::fs::write(
            dir.path().join(METRICS_FILE),
            r#"{"summary": {"private_test_accuracy": 0.6968514906659237}}"#,
        )
        .unwrap();
        let recorded = ExportMetadata::of_checkpoint(dir.path()).unwrap();
        let props = recorded.props(Arch::Best);
        assert_eq!(
            value(&props, PRIVATE_TEST_ACCURACY_KEY),
            Some("0.6968514906659237")
        );

        std::fs::write(dir.path().join(METRICS_FILE), "{not json").unwrap();
        let err = ExportMetadata::of_checkpoint(dir.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains(METRICS_FILE), "{err}");
    }
}
