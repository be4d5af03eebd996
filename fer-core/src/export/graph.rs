//! `GraphBuilder`: an ONNX graph assembled node by node, with its weights as initializers and
//! every intermediate value named after the node that makes it.

use tract_onnx::pb::{
    attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto, type_proto,
    AttributeProto, GraphProto, NodeProto, TensorProto, TensorShapeProto, TypeProto,
    ValueInfoProto,
};

/// One dimension of a graph input or output: fixed, or named and free (the batch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dim {
    /// A fixed size.
    Fixed(i64),
    /// A size the consumer chooses, under this name (ONNX's `dim_param`).
    Named(&'static str),
}

/// Nodes and initializers of a graph under construction. Node and value names are
/// `<prefix>` or `<prefix>/<op>` (`block1/conv1/Conv`), so a viewer such as Netron shows where
/// each weight came from.
#[derive(Debug, Default)]
pub struct GraphBuilder {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
}

impl GraphBuilder {
    /// An empty graph.
    pub fn new() -> Self {
        GraphBuilder::default()
    }

    /// Adds an f32 initializer (a constant of the graph: weights, statistics) of shape `dims`
    /// holding `values` in row-major order, and returns its name.
    pub fn initializer(&mut self, name: String, dims: &[usize], values: &[f32]) -> String {
        debug_assert_eq!(dims.iter().product::<usize>(), values.len(), "{name}");
        // raw_data is the compact encoding every engine reads: little-endian IEEE 754 floats.
        let raw_data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializers.push(TensorProto {
            name: name.clone(),
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: DataType::Float as i32,
            raw_data,
            ..Default::default()
        });
        name
    }

    /// Adds a node `op_type` named `name` reading `inputs`, and returns the name of its one
    /// output (`name` itself, so outputs and nodes share names).
    pub fn node(
        &mut self,
        op_type: &str,
        name: String,
        inputs: &[&str],
        attributes: Vec<AttributeProto>,
    ) -> String {
        self.node_with_output(op_type, name.clone(), inputs, attributes, name)
    }

    /// [`Self::node`] with its output named `output` (a graph output's documented name).
    pub fn node_with_output(
        &mut self,
        op_type: &str,
        name: String,
        inputs: &[&str],
        attributes: Vec<AttributeProto>,
        output: String,
    ) -> String {
        self.nodes.push(NodeProto {
            op_type: op_type.to_string(),
            name,
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.clone()],
            attribute: attributes,
            ..Default::default()
        });
        output
    }

    /// The finished graph with its inputs and outputs.
    pub fn finish(
        self,
        name: &str,
        inputs: Vec<ValueInfoProto>,
        outputs: Vec<ValueInfoProto>,
    ) -> GraphProto {
        GraphProto {
            name: name.to_string(),
            node: self.nodes,
            initializer: self.initializers,
            input: inputs,
            output: outputs,
            ..Default::default()
        }
    }
}

/// An integer attribute.
pub fn int_attribute(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        r#type: AttributeType::Int as i32,
        i: value,
        ..Default::default()
    }
}

/// An attribute holding a list of integers (kernel shapes, strides, pads).
pub fn ints_attribute(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        r#type: AttributeType::Ints as i32,
        ints: values.to_vec(),
        ..Default::default()
    }
}

/// A float attribute.
pub fn float_attribute(name: &str, value: f32) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        r#type: AttributeType::Float as i32,
        f: value,
        ..Default::default()
    }
}

/// The declaration of an f32 graph input or output of shape `dims`, with its documentation.
pub fn f32_value(name: &str, dims: &[Dim], doc: &str) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| tensor_shape_proto::Dimension {
            value: Some(match *d {
                Dim::Fixed(n) => tensor_shape_proto::dimension::Value::DimValue(n),
                Dim::Named(s) => tensor_shape_proto::dimension::Value::DimParam(s.to_string()),
            }),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: name.to_string(),
        doc_string: doc.to_string(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: DataType::Float as i32,
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initializers_are_little_endian_floats_and_nodes_are_named_after_their_output() {
        let mut g = GraphBuilder::new();
        let w = g.initializer("w".to_string(), &[2], &[1.0, -2.5]);
        let y = g.node("Mul", "scale".to_string(), &["x", &w], vec![]);
        assert_eq!(y, "scale");
        let graph = g.finish("g", vec![], vec![]);
        // 1.0 = 0x3f800000 and -2.5 = 0xc0200000, least significant byte first.
        assert_eq!(
            graph.initializer[0].raw_data,
            [0, 0, 0x80, 0x3f, 0, 0, 0x20, 0xc0]
        );
        assert_eq!(graph.initializer[0].dims, [2]);
        assert_eq!(graph.node[0].input, ["x", "w"]);
        assert_eq!(graph.node[0].output, ["scale"]);
    }
}
