//! The graph as data: `Model::GRAPH`, a `chainrule::graph::GraphSpec` with
//! the same values and operations as the forward pass (what the ONNX
//! exporter and other tools walk).

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::rt;
use crate::check::{LayerKind, Model, Shape, Step};
use crate::vocab::Activation;

/// `GraphSpec { name, values, inputs, outputs, ops }` as a constant
/// expression.
pub(super) fn graph_spec(model: &Model) -> TokenStream {
    let rt = rt();
    let name = model.ident.to_string();
    let values = model.values.iter().map(|v| {
        let name = &v.name;
        let shape = match &v.shape {
            Shape::Flat(dim) => quote!(&[#dim]),
            Shape::Image {
                channels,
                height,
                width,
            } => {
                let (c, h, w) = (
                    Literal::usize_unsuffixed(*channels),
                    Literal::usize_unsuffixed(*height),
                    Literal::usize_unsuffixed(*width),
                );
                quote!(&[#c, #h, #w])
            }
        };
        quote!(#rt::ValueSpec { name: #name, shape: #shape })
    });
    let inputs = &model.inputs;
    let outputs = model.outputs.iter().map(|o| o.value);
    let ops = model.steps.iter().map(|step| op(model, step));
    quote! {
        #rt::GraphSpec {
            name: #name,
            values: &[#(#values),*],
            inputs: &[#(#inputs),*],
            outputs: &[#(#outputs),*],
            ops: &[#(#ops),*],
        }
    }
}

/// One `OpSpec`.
fn op(model: &Model, step: &Step) -> TokenStream {
    let rt = rt();
    let output = step.output();
    match step {
        Step::Dense { layer, input, .. } => {
            let l = &model.layers[*layer];
            let name = l.name.to_string();
            let bias = l.dense().is_some_and(|(_, _, b)| b);
            quote!(#rt::OpSpec::Dense { layer: #name, input: #input, output: #output, bias: #bias })
        }
        Step::Activation {
            activation, input, ..
        } => {
            let function = match activation {
                Activation::Relu => quote!(Relu),
                Activation::LeakyRelu => quote!(LeakyRelu),
                Activation::Sigmoid => quote!(Sigmoid),
                Activation::Tanh => quote!(Tanh),
                // Identity is never a step.
                Activation::Softmax | Activation::Identity => quote!(Softmax),
            };
            quote!(#rt::OpSpec::Activation { function: #rt::ActivationSpec::#function, input: #input, output: #output })
        }
        Step::Add { lhs, rhs, .. } => {
            quote!(#rt::OpSpec::Add { lhs: #lhs, rhs: #rhs, output: #output })
        }
        Step::Mul { lhs, rhs, .. } => {
            quote!(#rt::OpSpec::Mul { lhs: #lhs, rhs: #rhs, output: #output })
        }
        Step::Concat { inputs, .. } => {
            quote!(#rt::OpSpec::Concat { inputs: &[#(#inputs),*], output: #output })
        }
        Step::LayerNorm { layer, input, .. } => {
            let name = model.layers[*layer].name.to_string();
            quote!(#rt::OpSpec::LayerNorm { layer: #name, input: #input, output: #output, epsilon: 1e-5 })
        }
        Step::Conv2d { layer, input, .. } => {
            let l = &model.layers[*layer];
            let name = l.name.to_string();
            let LayerKind::Conv2d(c) = &l.kind else {
                return TokenStream::new();
            };
            let (kernel, stride, padding, bias) = (c.kernel, c.stride, c.padding, c.bias);
            quote!(#rt::OpSpec::Conv2d { layer: #name, input: #input, output: #output, kernel: #kernel, stride: #stride, padding: #padding, bias: #bias })
        }
        Step::Pool { layer, input, .. } => {
            let LayerKind::Pool(p) = &model.layers[*layer].kind else {
                return TokenStream::new();
            };
            let (kernel, stride) = (p.kernel, p.stride);
            if p.max {
                quote!(#rt::OpSpec::MaxPool2d { input: #input, output: #output, kernel: #kernel, stride: #stride })
            } else {
                quote!(#rt::OpSpec::AvgPool2d { input: #input, output: #output, kernel: #kernel, stride: #stride })
            }
        }
        Step::GlobalAvgPool { input, .. } => {
            quote!(#rt::OpSpec::GlobalAvgPool { input: #input, output: #output })
        }
        Step::Flatten { input, .. } => {
            quote!(#rt::OpSpec::Flatten { input: #input, output: #output })
        }
    }
}
