//! The shape rules of the image operations: convolution, pooling,
//! flatten (what reads an image `[C, H, W]` and what it gives).

use proc_macro2::Span;

use super::shapes::Walk;
use super::{Conv, Pool, Shape, Step, ValueId};
use crate::ir::Form;
use crate::parse::Dim;

impl Walk<'_> {
    /// The image a convolution or pooling layer reads.
    pub(super) fn image_input(
        &mut self,
        input: ValueId,
        taker: &str,
        span: Span,
    ) -> Option<(usize, usize, usize)> {
        match &self.out.values[input].shape {
            Shape::Image {
                channels,
                height,
                width,
            } => Some((*channels, *height, *width)),
            Shape::Flat(features) => {
                let hint = if input < self.out.inputs.len() && self.graph.form == Form::Sequential {
                    " (declare the input's image shape first: `input: [C, H, W]`)".to_string()
                } else if input < self.out.inputs.len() {
                    format!(
                        ": declare `{}` as an image, `{}: [C, H, W]`",
                        self.out.values[input].name, self.out.values[input].name
                    )
                } else {
                    String::new()
                };
                let message = if self.input_width_open && input < self.out.inputs.len() {
                    format!(
                        "layer `{taker}` takes an image [C, H, W], but the network's input has no declared shape: declare it before the first layer, `input: [C, H, W]`"
                    )
                } else {
                    format!(
                        "layer `{taker}` takes an image [C, H, W] but {} gives {} features{hint}",
                        self.giver[input],
                        super::quoted(features)
                    )
                };
                self.errors.push(syn::Error::new(span, message));
                None
            }
        }
    }

    /// The output image of a convolution, or an error.
    pub(super) fn conv_output(
        &mut self,
        conv: Conv,
        (c, h, w): (usize, usize, usize),
        input: ValueId,
        taker: &str,
        span: Span,
    ) -> Option<Shape> {
        let decl_span = self.layer_span(taker);
        if c != conv.in_channels {
            self.errors.push(syn::Error::new(
                decl_span.unwrap_or(span),
                format!(
                    "layer `{taker}` takes {} input channels but {} gives {c} ([{c}, {h}, {w}])",
                    conv.in_channels, self.giver[input]
                ),
            ));
            return None;
        }
        let (padded_h, padded_w) = (h + 2 * conv.padding, w + 2 * conv.padding);
        if conv.kernel > padded_h || conv.kernel > padded_w {
            self.errors.push(syn::Error::new(
                self.layer_dim_span(taker, 2).unwrap_or(span),
                format!(
                    "the {k}×{k} kernel of layer `{taker}` is larger than its input: {} gives {h}×{w}, {padded_h}×{padded_w} with padding {}",
                    self.giver[input],
                    conv.padding,
                    k = conv.kernel
                ),
            ));
            return None;
        }
        Some(Shape::Image {
            channels: conv.out_channels,
            height: (padded_h - conv.kernel) / conv.stride + 1,
            width: (padded_w - conv.kernel) / conv.stride + 1,
        })
    }

    /// The output image of a pooling layer, or an error.
    pub(super) fn pool_output(
        &mut self,
        pool: Pool,
        (c, h, w): (usize, usize, usize),
        input: ValueId,
        taker: &str,
        span: Span,
    ) -> Option<Shape> {
        if pool.kernel > h || pool.kernel > w {
            self.errors.push(syn::Error::new(
                self.layer_dim_span(taker, 0).unwrap_or(span),
                format!(
                    "the {k}×{k} window of layer `{taker}` is larger than its input: {} gives {h}×{w}",
                    self.giver[input],
                    k = pool.kernel
                ),
            ));
            return None;
        }
        Some(Shape::Image {
            channels: c,
            height: (h - pool.kernel) / pool.stride + 1,
            width: (w - pool.kernel) / pool.stride + 1,
        })
    }

    /// The span of dimension `index` of a layer's declaration.
    pub(super) fn layer_dim_span(&self, layer: &str, index: usize) -> Option<Span> {
        let decl = self.graph.layers.iter().find(|l| l.name == layer)?;
        decl.args.as_ref()?.dims.get(index).map(Dim::span)
    }

    /// The span of a layer's first dimension (sequential) — where a channel
    /// mismatch is fixed.
    pub(super) fn layer_span(&self, layer: &str) -> Option<Span> {
        match self.graph.form {
            Form::Sequential => self.layer_dim_span(layer, 0),
            Form::Graph => None,
        }
    }

    /// `flatten(input)`: an alias with a flat shape.
    pub(super) fn flatten(&mut self, input: ValueId, giver: String) -> ValueId {
        let shape = self.out.values[input].shape.clone();
        let features = shape.features(Span::call_site());
        let id = self.push(Shape::Flat(features), giver, |output| Step::Flatten {
            input,
            output,
        });
        self.out.values[id].alias_of = Some(input);
        id
    }
}
