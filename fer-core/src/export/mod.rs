//! A CNN checkpoint as an ONNX file, which ONNX Runtime (servers, phones, onnxruntime-web in a
//! browser), TensorRT, Triton and every framework a learner moves on to can run.
//!
//! The graph takes `pixels`, `[N, 1, 48, 48]` f32 grey levels 0-255 with a free batch size,
//! standardises them with the checkpoint's per-pixel statistics (so a consumer needs no
//! `normalization.json`), runs the network's eval pass (batch norm in inference form, no
//! dropout) and gives `probabilities` (`[N, 7]`, softmax) and `logits` (`[N, 7]`), columns in
//! [`Emotion`](crate::Emotion)'s order. Opset 17, IR version 8. Its metadata names the labels,
//! the architecture, the fer version and the PrivateTest accuracy recorded in the checkpoint's
//! `metrics.json`.
//!
//! ```no_run
//! # fn main() -> fer_core::Result<()> {
//! use std::path::Path;
//! let summary = fer_core::export::export_checkpoint(
//!     Path::new("data/models/fer-cnn"),
//!     Path::new("fer-cnn.onnx"),
//! )?;
//! println!("{} bytes, {} nodes", summary.bytes, summary.nodes);
//! # Ok(())
//! # }
//! ```
//!
//! The ONNX schema's types come from `tract_onnx::pb` (prost-generated from onnx.proto3 and
//! kept in step with ONNX by tract's maintainers) and are encoded by `prost`: no hand-written
//! protobuf. tract-onnx is a large dependency (its whole inference engine comes with the
//! types), so it sits behind the default `onnx` feature; the notebooks, which build fer-core
//! without default features, do not compile it. The lighter crates that carry only the types
//! are either unmaintained (onnx-pb: prost 0.6, 2020) or a different protobuf runtime
//! (onnx-protobuf), and the tests need tract anyway: it is one of the two engines that check
//! an export (`tests/e2e/onnx_export.rs`; ONNX Runtime is the other, `tests/onnx_check.sh`).

mod graph;
mod layers;
mod metadata;
mod model;
mod networks;
mod write;

pub use metadata::{
    ExportMetadata, ARCH_KEY, EMOTIONS_KEY, FER_VERSION_KEY, METRICS_FILE,
    PRIVATE_TEST_ACCURACY_KEY,
};
pub use model::{
    onnx_model, INPUT_NAME, IR_VERSION, LOGITS_NAME, OPSET_VERSION, PROBABILITIES_NAME,
};
pub use write::{export_checkpoint, write_onnx, ExportSummary};
