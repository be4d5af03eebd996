//! The ONNX model of a [`CnnModel`]: grey levels in, standardisation with the checkpoint's
//! pixel statistics, the network's eval pass, softmax; the probabilities and the logits out.

use tract_onnx::pb::{ModelProto, OperatorSetIdProto};

use super::graph::{f32_value, int_attribute, Dim, GraphBuilder};
use super::layers::standardize;
use super::metadata::ExportMetadata;
use super::networks::network_logits;
use crate::cnn::CnnModel;
use crate::data::IMAGE_SIDE;
use crate::Emotion;

/// The input: `[N, 1, 48, 48]` f32 grey levels 0-255 (FER2013's pixels as they are, not
/// scaled to 0-1 or standardised), row-major, any batch size `N`.
pub const INPUT_NAME: &str = "pixels";
/// The first output: `[N, 7]` class probabilities (softmax of the logits), columns in
/// [`Emotion`]'s order.
pub const PROBABILITIES_NAME: &str = "probabilities";
/// The second output: `[N, 7]` logits, the network's last layer before softmax.
pub const LOGITS_NAME: &str = "logits";

/// The ONNX operator set the graph uses: 17, which ONNX Runtime, the `onnx` checker and tract
/// all read (every op here has had its current form since opset 13 or earlier).
pub const OPSET_VERSION: i64 = 17;
/// The ONNX IR version that goes with opset 17 (onnx 1.12).
pub const IR_VERSION: i64 = 8;

/// The name of the batch dimension in the input and outputs.
const BATCH: &str = "N";

/// `model` as an ONNX model, with `metadata` in its `metadata_props`.
pub fn onnx_model(model: &CnnModel, metadata: &ExportMetadata) -> ModelProto {
    let mut g = GraphBuilder::new();
    let x = standardize(&mut g, INPUT_NAME, &model.stats); // [N, 1, 48, 48], standardised
    let logits = network_logits(&mut g, &x, model.network()); // [N, 7]
                                                              // The logits leave the graph under their documented name through an Identity, so the
                                                              // last Gemm keeps its layer's name.
    let logits = g.node_with_output(
        "Identity",
        "logits/Identity".into(),
        &[&logits],
        vec![],
        LOGITS_NAME.into(),
    );
    g.node_with_output(
        "Softmax",
        "probabilities/Softmax".into(),
        &[&logits],
        vec![int_attribute("axis", 1)],
        PROBABILITIES_NAME.into(),
    );

    let side = IMAGE_SIDE as i64;
    let classes = Emotion::COUNT as i64;
    let input = f32_value(
        INPUT_NAME,
        &[
            Dim::Named(BATCH),
            Dim::Fixed(1),
            Dim::Fixed(side),
            Dim::Fixed(side),
        ],
        "Faces as 48x48 grey levels 0-255 (f32, not scaled or standardised), row-major; \
         the graph standardises them with the training set's per-pixel statistics.",
    );
    let labels = Emotion::ALL.map(|e| e.name()).join(", ");
    let outputs = vec![
        f32_value(
            PROBABILITIES_NAME,
            &[Dim::Named(BATCH), Dim::Fixed(classes)],
            &format!("Class probabilities (softmax of the logits), columns: {labels}."),
        ),
        f32_value(
            LOGITS_NAME,
            &[Dim::Named(BATCH), Dim::Fixed(classes)],
            &format!("Logits, columns: {labels}."),
        ),
    ];
    let arch = model.config.arch;
    ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET_VERSION,
        }],
        producer_name: "fer".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: format!(
            "fer's `{}` CNN for FER2013 facial emotions. Input `{INPUT_NAME}`: [N, 1, 48, 48] \
             f32 grey levels 0-255. Outputs `{PROBABILITIES_NAME}` and `{LOGITS_NAME}`: \
             [N, 7], columns {labels}.",
            arch.name()
        ),
        graph: Some(g.finish(&format!("fer-{}", arch.name()), vec![input], outputs)),
        metadata_props: metadata.props(arch),
        ..Default::default()
    }
}
