//! The shape rules of the operations that combine values: `a + b` and
//! `a * b` (equal shapes; widths given by different `const` items become a
//! junction the compiler checks) and `concat(a, b, …)` (features side by
//! side, or images of one height and width along their channels).

use proc_macro2::Span;

use super::layers::mentions_generic;
use super::shapes::{respan, Walk};
use super::{Junction, JunctionTaker, Shape, Step, ValueId};
use crate::ir::NodeId;
use crate::parse::Dim;

impl Walk<'_> {
    /// `lhs + rhs` or `lhs * rhs`.
    pub(super) fn elementwise(
        &mut self,
        id: NodeId,
        op: Span,
        lhs: NodeId,
        rhs: NodeId,
        add: bool,
    ) -> Option<ValueId> {
        let (l, r) = (self.out.node_value[lhs]?, self.out.node_value[rhs]?);
        let (ls, rs) = (
            self.out.values[l].shape.clone(),
            self.out.values[r].shape.clone(),
        );
        let what = if add {
            "cannot add"
        } else {
            "cannot multiply elementwise"
        };
        let sign = if add { "+" } else { "*" };
        let mismatch = |this: &mut Self| {
            this.errors.push(syn::Error::new(
                op,
                format!(
                    "{what} {} {} and {} {}: both sides of `{sign}` must have the same shape",
                    this.giver[l],
                    ls.text(),
                    this.giver[r],
                    rs.text()
                ),
            ));
        };
        let junction = match (&ls, &rs) {
            (Shape::Flat(a), Shape::Flat(b)) => match (a.literal_value(), b.literal_value()) {
                (Some(Ok(x)), Some(Ok(y))) if x != y => {
                    mismatch(self);
                    return None;
                }
                (Some(Ok(_)), Some(Ok(_))) => None,
                _ if a.text() == b.text() => None,
                _ if mentions_generic(a, self.generic_names)
                    || mentions_generic(b, self.generic_names) =>
                {
                    self.errors.push(syn::Error::new(
                        op,
                        format!(
                            "{what} {} {} and {} {}: a dimension given by a const generic parameter only fits the same parameter",
                            self.giver[l],
                            ls.text(),
                            self.giver[r],
                            rs.text()
                        ),
                    ));
                    return None;
                }
                _ => Some(Box::new(Junction {
                    given: b.clone(),
                    expected: respan(a, op),
                    taker: if add {
                        JunctionTaker::Add(self.giver[l].clone())
                    } else {
                        JunctionTaker::Mul(self.giver[l].clone())
                    },
                    giver: self.giver[r].clone(),
                })),
            },
            (
                Shape::Image {
                    channels: c1,
                    height: h1,
                    width: w1,
                },
                Shape::Image {
                    channels: c2,
                    height: h2,
                    width: w2,
                },
            ) if (c1, h1, w1) == (c2, h2, w2) => None,
            _ => {
                mismatch(self);
                return None;
            }
        };
        let giver = self.giver_of_node(id);
        Some(self.push(ls, giver, |output| {
            if add {
                Step::Add {
                    lhs: l,
                    rhs: r,
                    output,
                    junction,
                }
            } else {
                Step::Mul {
                    lhs: l,
                    rhs: r,
                    output,
                    junction,
                }
            }
        }))
    }

    /// `concat(parts…)`.
    pub(super) fn concat(
        &mut self,
        id: NodeId,
        span: Span,
        args: &[NodeId],
        parts: &[ValueId],
    ) -> Option<ValueId> {
        if parts.len() < 2 {
            self.errors.push(syn::Error::new(
                span,
                "`concat` joins at least two values: `concat(a, b)`",
            ));
            return None;
        }
        let shapes: Vec<Shape> = parts
            .iter()
            .map(|p| self.out.values[*p].shape.clone())
            .collect();
        let shape = match &shapes[0] {
            Shape::Flat(_) => {
                let mut total = Some(0usize);
                let mut texts = Vec::new();
                for (k, shape) in shapes.iter().enumerate() {
                    match shape {
                        Shape::Flat(dim) => {
                            if mentions_generic(dim, self.generic_names) {
                                self.errors.push(syn::Error::new(
                                    self.graph.nodes[args[k]].span,
                                    format!(
                                        "`concat` cannot join {}, whose width `{}` is a const generic parameter: stable Rust cannot write a sum of generic widths in a type; give the widths as literals or `const` items",
                                        self.giver[parts[k]],
                                        dim.text()
                                    ),
                                ));
                                return None;
                            }
                            total = match (total, dim.known()) {
                                (Some(t), Some(n)) => t.checked_add(n),
                                _ => None,
                            };
                            texts.push(dim.text());
                        }
                        Shape::Image { .. } => {
                            self.errors.push(syn::Error::new(
                                self.graph.nodes[args[k]].span,
                                format!(
                                    "`concat` joins features or images, not both: {} is an image {} but {} is flat {}",
                                    self.giver[parts[k]],
                                    shape.text(),
                                    self.giver[parts[0]],
                                    shapes[0].text()
                                ),
                            ));
                            return None;
                        }
                    }
                }
                match total {
                    Some(n) => Shape::Flat(Dim::literal(n, span)),
                    None => {
                        let expr: syn::ExprBlock =
                            match syn::parse_str(&format!("{{ {} }}", texts.join(" + "))) {
                                Ok(e) => e,
                                Err(e) => {
                                    self.errors.push(syn::Error::new(span, e.to_string()));
                                    return None;
                                }
                            };
                        Shape::Flat(Dim::Block(expr))
                    }
                }
            }
            Shape::Image { height, width, .. } => {
                let (h, w) = (*height, *width);
                let mut channels = 0usize;
                for (k, shape) in shapes.iter().enumerate() {
                    match shape {
                        Shape::Image {
                            channels: c,
                            height,
                            width,
                        } if (*height, *width) == (h, w) => channels += c,
                        other => {
                            self.errors.push(syn::Error::new(
                                self.graph.nodes[args[k]].span,
                                format!(
                                    "`concat` joins images of one height and width along their channels: {} is {} but {} is {}",
                                    self.giver[parts[k]],
                                    other.text(),
                                    self.giver[parts[0]],
                                    shapes[0].text()
                                ),
                            ));
                            return None;
                        }
                    }
                }
                Shape::Image {
                    channels,
                    height: h,
                    width: w,
                }
            }
        };
        let giver = self.giver_of_node(id);
        let inputs = parts.to_vec();
        Some(self.push(shape, giver, |output| Step::Concat { inputs, output }))
    }
}
