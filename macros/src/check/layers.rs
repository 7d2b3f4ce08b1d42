//! The declared layers: kinds, dimensions and settings, names; the
//! network's generic parameters.

use std::collections::HashSet;

use syn::{GenericParam, Generics};

use super::{ConstCheck, Conv, GenericNames, Layer, LayerKind, Pool};
use crate::ir::Graph;
use crate::parse::{Dim, LayerArgs, LayerDecl};
use crate::vocab::{self, LayerKind as Kind};

/// The largest number of entries a parameter tensor may have: its bytes
/// in f64 must fit in an allocation (`isize::MAX`).
const MAX_ENTRIES: usize = (isize::MAX as usize) / 8;

/// Checks every declared layer; the result has one entry per declaration,
/// `None` where the declaration is invalid (its errors are reported).
pub(super) fn check_layers(
    graph: &Graph,
    generic_names: &GenericNames,
    errors: &mut Vec<syn::Error>,
    const_checks: &mut Vec<ConstCheck>,
) -> Vec<Option<Layer>> {
    let mut seen: HashSet<String> = HashSet::new();
    let mut out = Vec::new();
    for (index, decl) in graph.layers.iter().enumerate() {
        let name = decl.name.to_string();
        if !seen.insert(name.clone()) {
            errors.push(syn::Error::new(
                decl.name.span(),
                format!(
                    "duplicate layer name `{name}`: layer names are field names and weight-file keys, so each must be different"
                ),
            ));
        }
        if let Some(message) =
            vocab::reserved_value_name(&name).filter(|_| name.starts_with("dl_d"))
        {
            errors.push(syn::Error::new(decl.name.span(), message));
        }
        let kind = match vocab::lookup(vocab::LAYER_KINDS, &decl.kind.to_string()) {
            Some(kind) => Some(kind),
            None => {
                errors.push(syn::Error::new(
                    decl.kind.span(),
                    vocab::unknown("layer kind", vocab::LAYER_KINDS, &decl.kind.to_string()),
                ));
                None
            }
        };
        // An unknown kind is reported; its dimensions are still checked, as
        // a dense layer's when it has two.
        let kind_or_dense = kind.unwrap_or(Kind::Dense);
        let checked = match kind_or_dense {
            Kind::Dense | Kind::DenseNoBias => dense(
                decl,
                kind_or_dense == Kind::Dense,
                kind.is_some(),
                generic_names,
                errors,
                const_checks,
            ),
            Kind::LayerNorm => layer_norm(decl, generic_names, errors, const_checks),
            Kind::Conv2d | Kind::Conv2dNoBias => conv(decl, kind_or_dense == Kind::Conv2d, errors),
            Kind::MaxPool2d | Kind::AvgPool2d => {
                pool(decl, kind_or_dense == Kind::MaxPool2d, errors)
            }
            Kind::GlobalAvgPool => no_args(decl, LayerKind::GlobalAvgPool, errors),
            Kind::Flatten => no_args(decl, LayerKind::Flatten, errors),
        };
        out.push(checked.map(|kind| Layer {
            attrs: decl.attrs.clone(),
            name: decl.name.clone(),
            kind,
            he_init: false,
            number: index + 1,
            uses: 0,
        }));
    }
    out
}

/// `Dense<IN, OUT>` / `DenseNoBias<IN, OUT>`.
fn dense(
    decl: &LayerDecl,
    bias: bool,
    known_kind: bool,
    generic_names: &GenericNames,
    errors: &mut Vec<syn::Error>,
    const_checks: &mut Vec<ConstCheck>,
) -> Option<LayerKind> {
    let name = decl.name.to_string();
    let kind_name = if known_kind {
        (if bias { "Dense" } else { "DenseNoBias" }).to_string()
    } else {
        decl.kind.to_string()
    };
    let args = positional(decl, &kind_name, "<IN, OUT>", 2, errors)?;
    no_options(args, &kind_name, errors);
    let (inputs, outputs) = (args.dims[0].clone(), args.dims[1].clone());
    let mut valid = true;
    for (dim, role) in [(&inputs, "inputs"), (&outputs, "outputs")] {
        valid &= check_dimension(dim, role, &name, generic_names, errors, const_checks);
    }
    if !known_kind || !valid {
        return None;
    }
    if let (Some(i), Some(o)) = (inputs.known(), outputs.known()) {
        if i.checked_mul(o).is_none_or(|n| n > MAX_ENTRIES) {
            errors.push(syn::Error::new(
                inputs.span(),
                format!(
                    "layer `{name}` would have {i} × {o} weights, more than a program can hold: make it smaller"
                ),
            ));
            return None;
        }
    }
    Some(LayerKind::Dense {
        inputs,
        outputs,
        bias,
    })
}

/// `LayerNorm<N>`.
fn layer_norm(
    decl: &LayerDecl,
    generic_names: &GenericNames,
    errors: &mut Vec<syn::Error>,
    const_checks: &mut Vec<ConstCheck>,
) -> Option<LayerKind> {
    let args = positional(decl, "LayerNorm", "<N>", 1, errors)?;
    no_options(args, "LayerNorm", errors);
    let features = args.dims[0].clone();
    check_dimension(
        &features,
        "features",
        &decl.name.to_string(),
        generic_names,
        errors,
        const_checks,
    )
    .then_some(LayerKind::LayerNorm { features })
}

/// `Conv2d<IN_CH, OUT_CH, K, stride = S, padding = P>`.
fn conv(decl: &LayerDecl, bias: bool, errors: &mut Vec<syn::Error>) -> Option<LayerKind> {
    let kind_name = if bias { "Conv2d" } else { "Conv2dNoBias" };
    let args = positional(decl, kind_name, "<IN_CH, OUT_CH, K>", 3, errors)?;
    let name = decl.name.to_string();
    let in_channels = literal(&args.dims[0], "input channels", &name, false, errors);
    let out_channels = literal(&args.dims[1], "output channels", &name, false, errors);
    let kernel = literal(&args.dims[2], "kernel size", &name, false, errors);
    let mut stride = Some(1);
    let mut padding = Some(0);
    for option in &args.options {
        match option.key.to_string().as_str() {
            "stride" => stride = literal(&option.value, "stride", &name, false, errors),
            "padding" => padding = literal(&option.value, "padding", &name, true, errors),
            other => errors.push(unknown_option(
                other,
                option,
                kind_name,
                &["stride", "padding"],
            )),
        }
    }
    let conv = Conv {
        in_channels: in_channels?,
        out_channels: out_channels?,
        kernel: kernel?,
        stride: stride?,
        padding: padding?,
        bias,
    };
    let weights = conv
        .out_channels
        .checked_mul(conv.in_channels)
        .and_then(|n| n.checked_mul(conv.kernel))
        .and_then(|n| n.checked_mul(conv.kernel));
    if weights.is_none_or(|n| n > MAX_ENTRIES) {
        errors.push(syn::Error::new(
            args.dims[0].span(),
            format!(
                "layer `{name}` would have {} × {} × {k} × {k} weights, more than a program can hold: make it smaller",
                conv.out_channels,
                conv.in_channels,
                k = conv.kernel
            ),
        ));
        return None;
    }
    Some(LayerKind::Conv2d(conv))
}

/// `MaxPool2d<K, stride = S>` / `AvgPool2d<K, stride = S>`.
fn pool(decl: &LayerDecl, max: bool, errors: &mut Vec<syn::Error>) -> Option<LayerKind> {
    let kind_name = if max { "MaxPool2d" } else { "AvgPool2d" };
    let args = positional(decl, kind_name, "<K>", 1, errors)?;
    let name = decl.name.to_string();
    let kernel = literal(&args.dims[0], "window size", &name, false, errors);
    let mut stride = kernel;
    for option in &args.options {
        match option.key.to_string().as_str() {
            "stride" => stride = literal(&option.value, "stride", &name, false, errors),
            other => errors.push(unknown_option(other, option, kind_name, &["stride"])),
        }
    }
    Some(LayerKind::Pool(Pool {
        max,
        kernel: kernel?,
        stride: stride?,
    }))
}

/// `GlobalAvgPool`, `Flatten`: no `<…>`.
fn no_args(decl: &LayerDecl, kind: LayerKind, errors: &mut Vec<syn::Error>) -> Option<LayerKind> {
    if let Some(args) = &decl.args {
        errors.push(syn::Error::new(
            args.open,
            format!(
                "`{}` takes no dimensions: write `{}: {}`",
                decl.kind, decl.name, decl.kind
            ),
        ));
        return None;
    }
    Some(kind)
}

/// The arguments of a kind that takes `count` dimensions (`shape` as
/// written in the message), or an error.
fn positional<'a>(
    decl: &'a LayerDecl,
    kind_name: &str,
    shape: &str,
    count: usize,
    errors: &mut Vec<syn::Error>,
) -> Option<&'a LayerArgs> {
    let name = &decl.name;
    match &decl.args {
        None => {
            errors.push(syn::Error::new(
                decl.kind.span(),
                format!("layer `{name}` needs its dimensions: `{kind_name}{shape}`"),
            ));
            None
        }
        Some(args) if args.dims.len() != count => {
            let what = match count {
                1 => "one dimension".to_string(),
                2 => "two dimensions".to_string(),
                3 => "three dimensions".to_string(),
                n => format!("{n} dimensions"),
            };
            errors.push(syn::Error::new(
                args.dims.first().map_or(args.open, Dim::span),
                format!(
                    "`{kind_name}` takes {what}, `{kind_name}{shape}`, but layer `{name}` gives {}",
                    args.dims.len()
                ),
            ));
            None
        }
        Some(args) => Some(args),
    }
}

/// Reports settings given to a kind that takes none.
fn no_options(args: &LayerArgs, kind_name: &str, errors: &mut Vec<syn::Error>) {
    for option in &args.options {
        errors.push(syn::Error::new(
            option.key.span(),
            format!("`{kind_name}` has no setting `{}`", option.key),
        ));
    }
}

/// An unknown `key = value` setting.
fn unknown_option(
    key: &str,
    option: &crate::parse::LayerOption,
    kind_name: &str,
    known: &[&'static str],
) -> syn::Error {
    let table: Vec<(&'static str, ())> = known.iter().map(|k| (*k, ())).collect();
    let message = match vocab::did_you_mean(&table, key) {
        Some(best) => format!("`{kind_name}` has no setting `{key}`: did you mean `{best}`?"),
        None => format!(
            "`{kind_name}` has no setting `{key}`: its settings are {}",
            vocab::list(&table)
        ),
    };
    syn::Error::new(option.key.span(), message)
}

/// A dimension of a convolution or pooling layer: an integer literal (at
/// least 1, or 0 too when `zero_ok`).
fn literal(
    dim: &Dim,
    role: &str,
    layer: &str,
    zero_ok: bool,
    errors: &mut Vec<syn::Error>,
) -> Option<usize> {
    match dim {
        Dim::Neg(..) => {
            errors.push(syn::Error::new_spanned(
                dim,
                format!(
                    "layer `{layer}` has a negative {role} `{}`: it must be a positive integer",
                    dim.text()
                ),
            ));
            None
        }
        Dim::Lit(_) => match dim.literal_value() {
            Some(Ok(0)) if !zero_ok => {
                errors.push(syn::Error::new(
                    dim.span(),
                    format!("layer `{layer}` has {role} = 0: it must be at least 1"),
                ));
                None
            }
            Some(Ok(v)) => Some(v),
            _ => {
                errors.push(syn::Error::new(
                    dim.span(),
                    format!(
                        "the {role} `{}` of layer `{layer}` does not fit in a `usize`",
                        dim.text()
                    ),
                ));
                None
            }
        },
        Dim::Path(_) | Dim::Block(_) => {
            errors.push(syn::Error::new(
                dim.span(),
                format!(
                    "the {role} of layer `{layer}` must be an integer literal: the macro computes every image shape of a convolution stack, so it needs the numbers"
                ),
            ));
            None
        }
    }
}

/// `Dense<784, 128>`, `Conv2d<1, 6, 5, stride = 1, padding = 2>`.
pub(super) fn kind_text(kind: &LayerKind) -> String {
    match kind {
        LayerKind::Dense {
            inputs,
            outputs,
            bias,
        } => format!(
            "{}<{}, {}>",
            if *bias { "Dense" } else { "DenseNoBias" },
            inputs.text(),
            outputs.text()
        ),
        LayerKind::LayerNorm { features } => format!("LayerNorm<{}>", features.text()),
        LayerKind::Conv2d(c) => format!(
            "{}<{}, {}, {}, stride = {}, padding = {}>",
            if c.bias { "Conv2d" } else { "Conv2dNoBias" },
            c.in_channels,
            c.out_channels,
            c.kernel,
            c.stride,
            c.padding
        ),
        LayerKind::Pool(p) => format!(
            "{}<{}, stride = {}>",
            if p.max { "MaxPool2d" } else { "AvgPool2d" },
            p.kernel,
            p.stride
        ),
        LayerKind::GlobalAvgPool => "GlobalAvgPool".to_string(),
        LayerKind::Flatten => "Flatten".to_string(),
    }
}

/// Only `const N: usize` parameters, not named `T` or `B` (the generated
/// code's scalar and batch size), and no `where` clause.
pub(super) fn check_generics(generics: &Generics, errors: &mut Vec<syn::Error>) -> GenericNames {
    let mut names = HashSet::new();
    for param in &generics.params {
        match param {
            GenericParam::Const(c) => {
                let is_usize = matches!(&c.ty, syn::Type::Path(p) if p.path.is_ident("usize"));
                if !is_usize {
                    errors.push(syn::Error::new_spanned(
                        &c.ty,
                        format!(
                            "the dimension `{}` must be a `usize`: write `const {}: usize`",
                            c.ident, c.ident
                        ),
                    ));
                }
                if c.ident == "T" || c.ident == "B" {
                    errors.push(syn::Error::new(
                        c.ident.span(),
                        format!(
                            "rename `{}`: the generated code uses `T` for the scalar type and `B` for the batch size",
                            c.ident
                        ),
                    ));
                }
                names.insert(c.ident.to_string());
            }
            GenericParam::Type(t) => errors.push(syn::Error::new(
                t.ident.span(),
                format!(
                    "a network takes only const generic dimensions (`const {}: usize`); the scalar type parameter `T` is added by `network!`",
                    t.ident
                ),
            )),
            GenericParam::Lifetime(l) => errors.push(syn::Error::new(
                l.lifetime.span(),
                "a network holds its parameters and takes no lifetime parameters",
            )),
        }
    }
    if let Some(where_clause) = &generics.where_clause {
        errors.push(syn::Error::new(
            where_clause.where_token.span,
            "a network takes no `where` clause",
        ));
    }
    names
}

/// Whether a dimension mentions a const generic parameter of the network.
pub(super) fn mentions_generic(dim: &Dim, generic_names: &GenericNames) -> bool {
    let tokens = match dim {
        Dim::Lit(_) | Dim::Neg(..) => return false,
        Dim::Path(p) => quote::quote!(#p),
        Dim::Block(b) => quote::quote!(#b),
    };
    fn walk(tokens: proc_macro2::TokenStream, names: &GenericNames) -> bool {
        tokens.into_iter().any(|t| match t {
            proc_macro2::TokenTree::Ident(i) => names.contains(&i.to_string()),
            proc_macro2::TokenTree::Group(g) => walk(g.stream(), names),
            _ => false,
        })
    }
    walk(tokens, generic_names)
}

/// A dimension as quoted in a message: `128` or `` `HIDDEN` ``.
pub fn quoted(dim: &Dim) -> String {
    match dim {
        Dim::Lit(_) => dim.text(),
        _ => format!("`{}`", dim.text()),
    }
}

/// A zero, negative or oversized literal is an error; a named dimension gets
/// a compile-time check. Returns whether the dimension is usable.
pub(super) fn check_dimension(
    dim: &Dim,
    role: &str,
    layer: &str,
    generic_names: &GenericNames,
    errors: &mut Vec<syn::Error>,
    const_checks: &mut Vec<ConstCheck>,
) -> bool {
    let message = format!("layer `{layer}` has zero {role}: every dimension must be at least 1");
    let singular = match role {
        "inputs" => "input",
        "outputs" => "output",
        other => other,
    };
    if let Dim::Neg(..) = dim {
        errors.push(syn::Error::new_spanned(
            dim,
            format!(
                "layer `{layer}` has a negative {singular} dimension `{}`: every dimension is a positive integer",
                dim.text()
            ),
        ));
        return false;
    }
    match dim.literal_value() {
        Some(Ok(0)) => {
            errors.push(syn::Error::new(dim.span(), message));
            false
        }
        Some(Ok(_)) => true,
        Some(Err(_)) => {
            let text = dim.text();
            let digits = text.trim_end_matches(|c: char| !c.is_ascii_digit());
            let why =
                if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit() || c == '_') {
                    "does not fit in a `usize`"
                } else {
                    "is not a `usize` integer"
                };
            errors.push(syn::Error::new(
                dim.span(),
                format!("the {singular} dimension `{text}` of layer `{layer}` {why}"),
            ));
            false
        }
        None => {
            let message = format!(
                "layer `{layer}` has zero {role}: `{}` is 0, every dimension must be at least 1",
                dim.text()
            );
            const_checks.push(ConstCheck::NotEqual {
                dim: dim.clone(),
                value: 0,
                generic: mentions_generic(dim, generic_names),
                message,
            });
            true
        }
    }
}
