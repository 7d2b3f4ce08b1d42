//! Stage 2, lower: the syntax tree into a graph of operations.
//!
//! The graph has parameter-holding layers on one side and operation nodes on
//! the other: an input node, dense-apply nodes that refer to a layer,
//! activation nodes, and loss nodes. A chain is one particular graph (each
//! node feeds the next); a graph form with skip connections, shared layers
//! or several inputs lowers into the same structure (a layer applied twice is
//! two dense nodes referring to one layer).
//!
//! Nothing is resolved or checked here: names stay identifiers with their
//! spans, dimensions stay as written.

use proc_macro2::Span;
use syn::{Attribute, Generics, Ident, Visibility};

use crate::parse::{Dim, Entry, NetworkDef};

/// The index of a node in [`Graph::nodes`].
pub type NodeId = usize;
/// The index of a layer in [`Graph::layers`].
pub type LayerId = usize;

/// A network as a graph of operations.
pub struct Graph {
    /// Attributes and doc comments of the struct.
    pub attrs: Vec<Attribute>,
    /// The struct's visibility.
    pub vis: Visibility,
    /// The network's name.
    pub ident: Ident,
    /// The user's generic parameters.
    pub generics: Generics,
    /// The span of the body (for errors about what is missing).
    pub body_span: Span,
    /// The parameter-holding layers, in declaration order (= field order).
    pub layers: Vec<ParamLayer>,
    /// The operations, in an order where every node comes after its inputs.
    pub nodes: Vec<Node>,
    /// The losses (a valid network has exactly one, on the output).
    pub losses: Vec<LossNode>,
    /// Whether a loss entry was followed by more entries.
    pub loss_not_last: Option<Span>,
    /// Syntax errors from the parse stage, reported with the others.
    pub syntax_errors: Vec<syn::Error>,
    /// `#[chainrule(unroll = N)]`, if given.
    pub unroll: Option<usize>,
}

/// A layer that owns parameters: a struct field.
pub struct ParamLayer {
    /// Doc comments and attributes, passed to the field.
    pub attrs: Vec<Attribute>,
    /// The field name, also the weight-file prefix.
    pub name: Ident,
    /// The kind as written.
    pub kind: Ident,
    /// The dimensions as written (`None`: no `<…>`).
    pub dims: Option<Vec<Dim>>,
}

/// One operation.
pub struct Node {
    /// What it computes.
    pub op: Op,
}

/// The operations of the graph.
pub enum Op {
    /// The network's input `x`, a `B×width` batch; its width is that of the
    /// first layer applied to it.
    Input,
    /// `z = input·Wᵀ (+ 1·bᵀ)` with the weights of `layer`.
    Dense {
        /// The layer whose parameters are used.
        layer: LayerId,
        /// The node whose value is multiplied.
        input: NodeId,
    },
    /// A value that could not be parsed (an entry with a syntax error): its
    /// width is unknown, so nothing is compared with it.
    Unknown,
    /// `a = f(input)`; `name` is `None` for the implicit identity.
    Activation {
        /// The activation as written after `=>`.
        name: Option<Ident>,
        /// The node it applies to.
        input: NodeId,
    },
}

/// `loss: name` applied to a node's value and the targets.
pub struct LossNode {
    /// The `loss` identifier (span for errors).
    pub key: Ident,
    /// The loss as written.
    pub name: Ident,
    /// The node whose value is compared with the targets.
    pub input: NodeId,
}

/// Lowers the sequential form: `x → dense → activation → dense → … → loss`.
pub fn lower(def: NetworkDef) -> Graph {
    let mut graph = Graph {
        attrs: def.attrs,
        vis: def.vis,
        ident: def.ident,
        generics: def.generics,
        body_span: def.brace_span,
        layers: Vec::new(),
        nodes: vec![Node { op: Op::Input }],
        losses: Vec::new(),
        loss_not_last: None,
        syntax_errors: def.errors,
        unroll: def.unroll,
    };
    let mut current: NodeId = 0;
    for entry in def.entries {
        match entry {
            Entry::Layer(decl) => {
                if let (None, Some(loss)) = (graph.loss_not_last, graph.losses.last()) {
                    graph.loss_not_last = Some(loss.key.span());
                }
                let layer = graph.layers.len();
                graph.layers.push(ParamLayer {
                    attrs: decl.attrs,
                    name: decl.name,
                    kind: decl.kind,
                    dims: decl.dims,
                });
                graph.nodes.push(Node {
                    op: Op::Dense {
                        layer,
                        input: current,
                    },
                });
                current = graph.nodes.len() - 1;
                graph.nodes.push(Node {
                    op: Op::Activation {
                        name: decl.activation,
                        input: current,
                    },
                });
                current = graph.nodes.len() - 1;
            }
            Entry::Invalid => {
                graph.nodes.push(Node { op: Op::Unknown });
                current = graph.nodes.len() - 1;
            }
            Entry::Loss(decl) => graph.losses.push(LossNode {
                key: decl.key,
                name: decl.name,
                input: current,
            }),
        }
    }
    // The loss compares the network's output, whatever came after it.
    for loss in &mut graph.losses {
        loss.input = current;
    }
    graph
}

impl Graph {
    /// The nodes that read `node`'s value.
    pub fn consumers(&self, node: NodeId) -> Vec<NodeId> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| match n.op {
                Op::Input | Op::Unknown => false,
                Op::Dense { input, .. } | Op::Activation { input, .. } => input == node,
            })
            .map(|(id, _)| id)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn graph(tokens: proc_macro2::TokenStream) -> Graph {
        lower(syn::parse2(tokens).expect("parses")) // ok: test-only
    }

    #[test]
    fn a_chain_lowers_to_input_dense_activation_nodes() {
        let g = graph(quote! {
            struct Net {
                hidden: Dense<2, 8> => relu,
                output: Dense<8, 1>,
                loss: mse,
            }
        });
        assert_eq!(g.layers.len(), 2);
        // x, z1, a1, z2, a2 (implicit identity)
        assert_eq!(g.nodes.len(), 5);
        assert!(matches!(g.nodes[0].op, Op::Input));
        assert!(matches!(g.nodes[1].op, Op::Dense { layer: 0, input: 0 }));
        assert!(matches!(
            &g.nodes[2].op,
            Op::Activation { name: Some(n), input: 1 } if n == "relu"
        ));
        assert!(matches!(g.nodes[3].op, Op::Dense { layer: 1, input: 2 }));
        assert!(matches!(
            g.nodes[4].op,
            Op::Activation {
                name: None,
                input: 3
            }
        ));
        assert_eq!(g.losses.len(), 1);
        assert_eq!(g.losses[0].input, 4);
        assert_eq!(g.consumers(2), vec![3]);
        assert!(g.loss_not_last.is_none());
    }

    #[test]
    fn a_loss_before_a_layer_is_recorded() {
        let g = graph(quote! {
            struct Net { loss: mse, a: Dense<1, 1> }
        });
        assert!(g.loss_not_last.is_some());
        assert_eq!(g.losses[0].input, 2, "the loss still reads the output");
    }
}
