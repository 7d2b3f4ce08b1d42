//! Convolution, pooling and global average pooling: forward and backward
//! statements. The convolution is a product on the unfolded patches
//! (im2col), so its backward pass is rules 5 and 6 applied to them.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use super::backward::{accumulated, guard, sum_rule, Mode, Plan};
use super::{grad_ident, rt, value_ident, value_name, value_shape};
use crate::check::{LayerKind, Model, Shape, Step, ValueId};

/// `(channels, height, width)` of an image value.
fn image(model: &Model, value: ValueId) -> (usize, usize, usize) {
    match &model.values[value].shape {
        Shape::Image {
            channels,
            height,
            width,
        } => (*channels, *height, *width),
        // Checked: these steps read images.
        Shape::Flat(_) => (0, 0, 0),
    }
}

fn lit(n: usize) -> Literal {
    Literal::usize_unsuffixed(n)
}

/// The geometry type of a convolution or pooling step.
fn geometry(model: &Model, index: usize) -> TokenStream {
    let rt = rt();
    match &model.steps[index] {
        Step::Conv2d { layer, input, .. } => {
            let (c, h, w) = image(model, *input);
            let LayerKind::Conv2d(conv) = &model.layers[*layer].kind else {
                return TokenStream::new();
            };
            let (c, h, w, k, s, p) = (
                lit(c),
                lit(h),
                lit(w),
                lit(conv.kernel),
                lit(conv.stride),
                lit(conv.padding),
            );
            quote!(#rt::Conv2dGeometry::<#c, #h, #w, #k, #s, #p>)
        }
        Step::Pool { layer, input, .. } => {
            let (c, h, w) = image(model, *input);
            let LayerKind::Pool(pool) = &model.layers[*layer].kind else {
                return TokenStream::new();
            };
            let (c, h, w, k, s) = (lit(c), lit(h), lit(w), lit(pool.kernel), lit(pool.stride));
            quote!(#rt::Pool2dGeometry::<#c, #h, #w, #k, #s>)
        }
        Step::GlobalAvgPool { input, .. } => {
            let (c, h, w) = image(model, *input);
            let (c, area) = (lit(c), lit(h * w));
            quote!(#rt::GlobalAvgPoolGeometry::<#c, #area>)
        }
        _ => TokenStream::new(),
    }
}

/// The patch buffers of a convolution step: `(patches, dpatches)` idents.
pub(super) fn patch_buffers(
    model: &Model,
    output: ValueId,
) -> (proc_macro2::Ident, proc_macro2::Ident) {
    let name = &model.values[output].name;
    (
        format_ident!("{}_patches", name),
        format_ident!("{}_dpatches", name),
    )
}

/// The sizes of a convolution step's buffers, as the runtime's
/// `Conv2dGeometry` computes them: one image's unfolded patches
/// (`C·K·K` rows of the positions rounded up to a multiple of 8,
/// `PATCHES_PER_IMAGE`) and the scratch (`C·K·K × max(positions, out_ch)`,
/// then with padding a padded image `C × (H + 2P) × (W + 2P)`:
/// `scratch_len`).
pub(super) fn patch_sizes(model: &Model, index: usize) -> (usize, usize) {
    let Step::Conv2d {
        layer,
        input,
        output,
    } = &model.steps[index]
    else {
        return (0, 0);
    };
    let LayerKind::Conv2d(conv) = &model.layers[*layer].kind else {
        return (0, 0);
    };
    let (_, oh, ow) = image(model, *output);
    let kk = conv.in_channels * conv.kernel * conv.kernel;
    let positions = oh * ow;
    let p = conv.padding;
    let (_, h, w) = image(model, *input);
    let padded_image = if p > 0 {
        conv.in_channels * (h + 2 * p) * (w + 2 * p)
    } else {
        0
    };
    (
        kk * positions.div_ceil(8) * 8,
        kk * positions.max(conv.out_channels) + padded_image,
    )
}

/// Output positions of a convolution step.
fn positions(model: &Model, index: usize) -> usize {
    let Step::Conv2d { output, .. } = &model.steps[index] else {
        return 0;
    };
    let (_, oh, ow) = image(model, *output);
    oh * ow
}

/// The forward statements of a convolution or pooling step.
pub(super) fn forward(model: &Model, index: usize) -> TokenStream {
    let geom = geometry(model, index);
    match &model.steps[index] {
        Step::Conv2d {
            layer,
            input,
            output,
        } => {
            let l = &model.layers[*layer];
            let field = &l.name;
            let LayerKind::Conv2d(conv) = &l.kind else {
                return TokenStream::new();
            };
            let (x, y) = (value_ident(model, *input), value_ident(model, *output));
            let (patches, dpatches) = patch_buffers(model, *output);
            let bias = if conv.bias {
                quote!(::core::option::Option::Some(&self.#field.bias))
            } else {
                quote!(::core::option::Option::None)
            };
            let (yn, xn) = (value_name(model, *output), value_name(model, *input));
            let kk = conv.in_channels * conv.kernel * conv.kernel;
            let doc = format!(
                " {yn} = conv2d({xn}, `{field}`): per image, P = the {k}×{k} windows of {xn} (stride {}, padding {}) unfolded into columns, {yn} = W·P{}   [{}×{positions}] = [{}×{kk}]·[{kk}×{positions}]",
                conv.stride,
                conv.padding,
                if conv.bias { " + b" } else { "" },
                conv.out_channels,
                conv.out_channels,
                positions = positions(model, index),
                k = conv.kernel,
            );
            quote! {
                #[doc = #doc]
                #geom::forward(#x, &self.#field.weight, #bias, #patches, #dpatches, #y);
            }
        }
        Step::Pool {
            layer,
            input,
            output,
        } => {
            let LayerKind::Pool(pool) = &model.layers[*layer].kind else {
                return TokenStream::new();
            };
            let (x, y) = (value_ident(model, *input), value_ident(model, *output));
            let what = if pool.max { "max" } else { "mean" };
            let f = format_ident!("{}_forward", if pool.max { "max" } else { "avg" });
            let doc = format!(
                " {} = the {what} of each {k}×{k} window of {} (stride {})   {}",
                value_name(model, *output),
                value_name(model, *input),
                pool.stride,
                value_shape(model, *output),
                k = pool.kernel
            );
            quote! { #[doc = #doc] #geom::#f(#x, #y); }
        }
        Step::GlobalAvgPool { input, output } => {
            let (x, y) = (value_ident(model, *input), value_ident(model, *output));
            let doc = format!(
                " {} = the mean of each channel of {}   {}",
                value_name(model, *output),
                value_name(model, *input),
                value_shape(model, *output)
            );
            quote! { #[doc = #doc] #geom::forward(#x, #y); }
        }
        _ => TokenStream::new(),
    }
}

/// The backward statements of a convolution or pooling step.
pub(super) fn backward(model: &Model, index: usize, plan: &mut Plan) -> TokenStream {
    let geom = geometry(model, index);
    match &model.steps[index] {
        Step::Conv2d {
            layer,
            input,
            output,
        } => {
            let l = &model.layers[*layer];
            let field = &l.name;
            let LayerKind::Conv2d(conv) = &l.kind else {
                return TokenStream::new();
            };
            let dy = grad_ident(model, *output);
            let x = value_ident(model, *input);
            let (patches, dpatches) = patch_buffers(model, *output);
            let (yn, xn) = (value_name(model, *output), value_name(model, *input));
            let param_mode = plan.layer(*layer);
            let accumulate = param_mode == Mode::Acc;
            let db = if conv.bias {
                quote!(::core::option::Option::Some(&mut grads.#field.bias))
            } else {
                quote!(::core::option::Option::None)
            };
            let kk = conv.in_channels * conv.kernel * conv.kernel;
            let doc = format!(
                " rule 5 on the unfolded patches: dl_d{field}.weight = Σ_images dl_d{yn}·Pᵀ   [{}×{kk}] = Σ [{}×positions]·[positions×{kk}] (P: each image of {xn} unfolded again; computed transposed, Σ P·dl_d{yn}ᵀ, in the scratch){}{}",
                conv.out_channels,
                conv.out_channels,
                if conv.bias { "; bias: dl_d".to_string() + &field.to_string() + ".bias = the sums of dl_d" + yn + " over images and positions" } else { String::new() },
                if accumulate { "; sum rule: added, the layer is applied several times" } else { "" },
            );
            let mut out = quote! {
                #[doc = #doc]
                #geom::param_grads(#dy, #x, #patches, #dpatches, &mut grads.#field.weight, #db, #accumulate);
            };
            let mode = plan.contribute(model, *input);
            let dx = grad_ident(model, *input);
            let accumulate = mode == Mode::Acc;
            let doc = format!(
                " rule 6 on the unfolded patches: dl_dP = Wᵀ·dl_d{yn}   [{kk}×positions] = [{kk}×{}]·[{}×positions], per image, folded back {} dl_d{xn} (col2im: each entry gets the sum over the windows that read it){}",
                conv.out_channels,
                conv.out_channels,
                if accumulate { "and added onto" } else { "onto" },
                sum_rule(model, mode, *input)
            );
            out.extend(guard(
                plan,
                model,
                *input,
                quote! { #[doc = #doc] #geom::input_grad(#dy, &self.#field.weight, #dpatches, #dx, #accumulate); },
            ));
            out
        }
        Step::Pool {
            layer,
            input,
            output,
        } => {
            let LayerKind::Pool(pool) = &model.layers[*layer].kind else {
                return TokenStream::new();
            };
            let (x, dy) = (value_ident(model, *input), grad_ident(model, *output));
            let mode = plan.contribute(model, *input);
            let dx = grad_ident(model, *input);
            let accumulate = mode == Mode::Acc;
            let (yn, xn) = (value_name(model, *output), value_name(model, *input));
            let statement = if pool.max {
                let doc = format!(
                    " max pooling: dl_d{xn} = dl_d{yn} at the first maximum of each window (row-major), 0 elsewhere (the Jacobian of a max is the indicator of its argmax)   {}{}",
                    value_shape(model, *input),
                    sum_rule(model, mode, *input)
                );
                let doc = accumulated(doc, mode);
                quote! { #[doc = #doc] #geom::max_backward(#x, #dy, #dx, #accumulate); }
            } else {
                let doc = format!(
                    " average pooling: dl_d{xn} = dl_d{yn}/{} on every entry of each window   {}{}",
                    pool.kernel * pool.kernel,
                    value_shape(model, *input),
                    sum_rule(model, mode, *input)
                );
                let doc = accumulated(doc, mode);
                quote! { #[doc = #doc] #geom::avg_backward(#dy, #dx, #accumulate); }
            };
            guard(plan, model, *input, statement)
        }
        Step::GlobalAvgPool { input, output } => {
            let dy = grad_ident(model, *output);
            let mode = plan.contribute(model, *input);
            let dx = grad_ident(model, *input);
            let accumulate = mode == Mode::Acc;
            let (_, h, w) = image(model, *input);
            let doc = format!(
                " global average pooling: dl_d{} = dl_d{}[c]/{} on every entry of channel c   {}{}",
                value_name(model, *input),
                value_name(model, *output),
                h * w,
                value_shape(model, *input),
                sum_rule(model, mode, *input)
            );
            let doc = accumulated(doc, mode);
            guard(
                plan,
                model,
                *input,
                quote! { #[doc = #doc] #geom::backward(#dy, #dx, #accumulate); },
            )
        }
        _ => TokenStream::new(),
    }
}
