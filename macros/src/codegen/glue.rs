//! The structs, constructors, trait impls and compile-time dimension checks.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote, quote_spanned};

use super::forward::{signature, step_buffers, width_tokens, Signature};
use super::{backward, dot, forward, grad_ident, rt, spec, value_ident, Names, Options};
use crate::check::{ConstCheck, Junction, JunctionTaker, Layer, LayerKind, Model, Step};
use crate::vocab::LossKind;

/// The field type of a layer with parameters: `Dense<T, IN, OUT>`,
/// `LayerNorm<T, N>`, `Conv2d<T, OUT_CH, PATCH>`; `None` for the others.
fn layer_ty(layer: &Layer) -> Option<TokenStream> {
    let rt = rt();
    match &layer.kind {
        LayerKind::Dense {
            inputs,
            outputs,
            bias: true,
        } => Some(quote!(#rt::Dense<T, #inputs, #outputs>)),
        LayerKind::Dense {
            inputs, outputs, ..
        } => Some(quote!(#rt::DenseNoBias<T, #inputs, #outputs>)),
        LayerKind::LayerNorm { features } => Some(quote!(#rt::LayerNorm<T, #features>)),
        LayerKind::Conv2d(c) => {
            let (oc, patch) = (
                Literal::usize_unsuffixed(c.out_channels),
                Literal::usize_unsuffixed(c.in_channels * c.kernel * c.kernel),
            );
            if c.bias {
                Some(quote!(#rt::Conv2d<T, #oc, #patch>))
            } else {
                Some(quote!(#rt::Conv2dNoBias<T, #oc, #patch>))
            }
        }
        LayerKind::Pool(_) | LayerKind::GlobalAvgPool | LayerKind::Flatten => None,
    }
}

/// The layers with parameters (the struct fields), with their types.
fn fields(model: &Model) -> Vec<(&Layer, TokenStream)> {
    model
        .layers
        .iter()
        .filter_map(|l| layer_ty(l).map(|ty| (l, ty)))
        .collect()
}

/// The network, gradients and workspace structs.
pub(super) fn structs(model: &Model, names: &Names) -> TokenStream {
    let rt = rt();
    let (attrs, vis) = (&model.attrs, &model.vis);
    let (net, grads, ws) = (&names.net, &names.grads, &names.ws);
    let params = &names.const_params_decl;
    let fields = fields(model);
    let field_attrs: Vec<_> = fields.iter().map(|(l, _)| &l.attrs).collect();
    let field_names: Vec<_> = fields.iter().map(|(l, _)| &l.name).collect();
    let tys: Vec<_> = fields.iter().map(|(_, ty)| ty).collect();
    let grad_docs: Vec<String> = fields
        .iter()
        .map(|(l, _)| {
            format!(
                " ∂l/∂ of layer `{}`'s parameters (rule 0: the same shapes).",
                l.name
            )
        })
        .collect();
    let grads_doc = format!(
        " The gradients of [`{net}`]'s loss: one tensor per parameter, of the same shape (rule 0)."
    );
    let ws_doc = format!(
        " Every buffer a forward and backward pass of [`{net}`] over `B` rows needs, made once: each value the network computes (by its name), the intermediate gradients `dl_d…`, and the gradient of the inputs."
    );

    let mut ws_fields = Vec::new();
    for (id, value) in model.values.iter().enumerate().skip(model.inputs.len()) {
        if value.alias_of.is_some() {
            continue;
        }
        let name = value_ident(model, id);
        let width = width_tokens(model, id);
        let doc = format!(" `{}`, B×{}.", value.name, model.width(id).text());
        ws_fields.push(quote!(#[doc = #doc] pub #name: #rt::Matrix<T, B, #width>));
    }
    for id in backward::gradient_values(model) {
        let name = grad_ident(model, id);
        let width = width_tokens(model, id);
        let doc = format!(
            " `∂l/∂{}`, B×{}.",
            model.values[id].name,
            model.width(id).text()
        );
        ws_fields.push(quote!(#[doc = #doc] pub #name: #rt::Matrix<T, B, #width>));
    }
    let Signature { inputs_ty, .. } = signature(model);
    let input_grads = input_grads_field(model);
    let doc = if model.inputs.len() == 1 {
        format!(
            " `∂l/∂{}`, filled by `backward_with_input_grads` only.",
            model.values[model.inputs[0]].name
        )
    } else {
        " `∂l/∂` of each input, in order, filled by `backward_with_input_grads` only.".to_string()
    };
    ws_fields.push(quote!(#[doc = #doc] pub #input_grads: #inputs_ty));
    for step in &model.steps {
        for (field, doc, ty) in step_buffers(model, step) {
            ws_fields.push(quote!(#[doc = #doc] pub #field: #ty));
        }
    }
    let consts = &names.const_params_decl;
    quote! {
        #(#attrs)*
        #[derive(::core::clone::Clone, ::core::fmt::Debug, ::core::cmp::PartialEq)]
        #vis struct #net<#(#params,)* T: #rt::Scalar = ::core::primitive::f32> {
            #( #(#field_attrs)* pub #field_names: #tys, )*
        }

        #[doc = #grads_doc]
        #[derive(::core::clone::Clone, ::core::fmt::Debug, ::core::cmp::PartialEq)]
        #vis struct #grads<#(#params,)* T: #rt::Scalar = ::core::primitive::f32> {
            #( #[doc = #grad_docs] pub #field_names: #tys, )*
        }

        #[doc = #ws_doc]
        #[derive(::core::clone::Clone, ::core::fmt::Debug)]
        #vis struct #ws<#(#consts,)* T: #rt::Scalar, const B: ::core::primitive::usize> {
            #(#ws_fields,)*
        }
    }
}

/// The workspace field of the inputs' gradient: `dl_dx`, or `dl_dinputs`
/// (a tuple) for several inputs.
pub(super) fn input_grads_field(model: &Model) -> proc_macro2::Ident {
    if model.inputs.len() == 1 {
        grad_ident(model, model.inputs[0])
    } else {
        format_ident!("dl_dinputs")
    }
}

/// How a layer field is initialised by `Net::new`.
fn initialiser(layer: &Layer, ty: &TokenStream) -> TokenStream {
    let rt = rt();
    let init = if layer.he_init {
        quote!(#rt::Init::He)
    } else {
        quote!(#rt::Init::Xavier)
    };
    match &layer.kind {
        LayerKind::LayerNorm { .. } => quote!(<#ty>::new()),
        LayerKind::Conv2d(c) => {
            let area = Literal::usize_unsuffixed(c.kernel * c.kernel);
            quote!(<#ty>::init(#init, #area, &mut rng))
        }
        _ => quote!(<#ty>::init(#init, &mut rng)),
    }
}

/// `impl Net { new, zeros, forward, … }`, `impl NetGradients { zeros }`,
/// `impl NetWorkspace { new }`.
pub(super) fn inherent_impl(model: &Model, names: &Names, options: Options) -> TokenStream {
    let rt = rt();
    let (grads, ws) = (&names.grads, &names.ws);
    let generics = names.impl_generics();
    let (net_ty, grads_ty, ws_ty) = (names.net_ty(), names.grads_ty(), names.ws_ty());
    let consts = &names.const_params;
    let fields = fields(model);
    let field_names: Vec<_> = fields.iter().map(|(l, _)| &l.name).collect();
    let news: Vec<TokenStream> = fields.iter().map(|(l, ty)| initialiser(l, ty)).collect();
    let uses_rng = fields
        .iter()
        .any(|(l, _)| !matches!(l.kind, LayerKind::LayerNorm { .. }));
    let rng = if uses_rng {
        quote!(let mut rng = #rt::init_rng(seed);)
    } else {
        quote!(let _ = seed;)
    };

    let ws_body = workspace_constructor(model);
    // The parameters and their gradients have the same fields.
    let zeros_body = zeros_by_type(
        fields
            .iter()
            .map(|(l, ty)| ZeroField::of_type(l.name.clone(), ty.clone()))
            .collect(),
    );

    // A flattened value shares its image's buffer: read it by its name
    // through a method.
    let alias_accessors: Vec<TokenStream> = (0..model.values.len())
        .filter(|&v| model.values[v].alias_of.is_some() && model.values[v].name != "new")
        .map(|v| {
            let name =
                proc_macro2::Ident::new(&model.values[v].name, proc_macro2::Span::call_site());
            let storage = value_ident(model, v);
            let width = width_tokens(model, v);
            let doc = format!(
                " `{}`, B×{}: the entries of `{}` (a flattened image is its image's buffer).",
                model.values[v].name,
                model.width(v).text(),
                storage
            );
            quote! {
                #[doc = #doc]
                #[must_use]
                pub fn #name(&self) -> &#rt::Matrix<T, B, #width> {
                    &self.#storage
                }
            }
        })
        .collect();
    let generic_checks: Vec<TokenStream> = model
        .const_checks
        .iter()
        .filter_map(|c| match c {
            ConstCheck::NotEqual {
                dim,
                value,
                generic: true,
                message,
            } => {
                let value = Literal::usize_unsuffixed(*value);
                Some(quote_spanned! {dim.span()=>
                    ::core::assert!(#dim != #value, #message);
                })
            }
            _ => None,
        })
        .collect();
    let (nonzero_const, nonzero_use) = if generic_checks.is_empty() {
        (TokenStream::new(), TokenStream::new())
    } else {
        (
            quote! {
                /// Evaluated (at compile time) by every constructor: the
                /// dimensions given by const generic parameters are valid.
                const NONZERO_DIMENSIONS: () = { #(#generic_checks)* };
            },
            quote!(let () = Self::NONZERO_DIMENSIONS;),
        )
    };
    let width_consts = if model.is_single() {
        let input_width = width_tokens(model, model.inputs[0]);
        let output_width = width_tokens(model, model.outputs[0].value);
        quote! {
            /// The number of inputs (columns of `x`).
            pub const INPUTS: ::core::primitive::usize = #input_width;
            /// The number of outputs.
            pub const OUTPUTS: ::core::primitive::usize = #output_width;
        }
    } else {
        TokenStream::new()
    };
    let forward_fns = forward::methods(model, names, options);
    let backward_fns = backward::methods(model, names, options);
    // One literal per line, so the expansion shows the graph line by line.
    let dot = dot::graph_dot(model);
    let dot_lines: Vec<String> = dot.split_inclusive('\n').map(str::to_string).collect();
    let new_doc = format!(
        " A network initialised from `seed`: {}.",
        fields
            .iter()
            .map(|(l, _)| format!(
                "`{}` {}",
                l.name,
                match l.kind {
                    LayerKind::LayerNorm { .. } => "γ = 1, β = 0",
                    _ if l.he_init => "He uniform, biases zero",
                    _ => "Xavier uniform, biases zero",
                }
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    // `#[automatically_derived]` goes on the trait impls only: rustc
    // rejects it on inherent impls.
    quote! {
        #[allow(clippy::all, clippy::pedantic, unused_doc_comments)]
        impl #generics #net_ty {
            #width_consts

            #nonzero_const

            #[doc = #new_doc]
            #[must_use]
            // Called once: inlined, its calls (one per layer) would be
            // optimised again inside every caller.
            #[inline(never)]
            pub fn new(seed: ::core::primitive::u64) -> Self {
                #nonzero_use
                #rng
                Self { #( #field_names: #news, )* }
            }

            /// All parameters zero.
            #[must_use]
            #[inline(never)]
            pub fn zeros() -> Self {
                #nonzero_use
                #zeros_body
            }

            /// Gradients, all zero.
            #[must_use]
            pub fn gradients(&self) -> #grads_ty {
                #nonzero_use
                #grads::zeros()
            }

            /// The buffers for batches of `B` rows (allocated once, here).
            #[must_use]
            pub fn workspace<const B: ::core::primitive::usize>(&self) -> #ws_ty {
                #nonzero_use
                #ws::new()
            }

            #forward_fns
            #backward_fns

            /// The computational graph, forward (from the inputs to `l`) and
            /// backward (`∂l/∂…`, edges labelled with the rule), in Graphviz DOT.
            #[must_use]
            pub fn graph_dot() -> #rt::String {
                #rt::String::from(::core::concat!(#(#dot_lines),*))
            }
        }

        // The constructors stay out of line: inlined, a deep network's
        // dozens of allocations (and their unwinding clean-up) are optimized
        // again in every caller, for nothing at run time.
        impl #generics #grads_ty {
            /// All gradients zero.
            #[must_use]
            #[inline(never)]
            pub fn zeros() -> Self {
                #zeros_body
            }
        }

        impl<#(#consts,)* T: #rt::Scalar, const B: ::core::primitive::usize> #ws_ty {
            /// All buffers, zero.
            #[must_use]
            #[inline(never)]
            pub fn new() -> Self {
                #ws_body
            }
            #(#alias_accessors)*
        }

        #[automatically_derived]
        impl<#(#consts,)* T: #rt::Scalar, const B: ::core::primitive::usize> #rt::WorkspaceOf<#net_ty, B> for #ws_ty {
            #[inline(always)]
            fn get(&mut self) -> &mut Self {
                self
            }
        }
    }
}

/// The body of `NetWorkspace::new`: every buffer zero.
fn workspace_constructor(model: &Model) -> TokenStream {
    let rt = rt();
    let matrix = |id| {
        let width = width_tokens(model, id);
        quote!(#rt::Matrix<T, B, #width>)
    };
    let mut fields = Vec::new();
    for id in model.inputs.len()..model.values.len() {
        if model.values[id].alias_of.is_none() {
            fields.push(ZeroField::of_type(value_ident(model, id), matrix(id)));
        }
    }
    for id in backward::gradient_values(model) {
        fields.push(ZeroField::of_type(grad_ident(model, id), matrix(id)));
    }
    fields.push(ZeroField {
        name: input_grads_field(model),
        ty: None,
        value: quote!(<_ as #rt::BatchInputs<T>>::zeros()),
    });
    for step in &model.steps {
        for (field, _, ty) in step_buffers(model, step) {
            fields.push(ZeroField::of_type(field, ty));
        }
    }
    zeros_by_type(fields)
}

/// A field of a constructor that makes every field zero.
struct ZeroField {
    name: proc_macro2::Ident,
    /// The field's type, when its value is `<ty>::zeros()`.
    ty: Option<TokenStream>,
    value: TokenStream,
}

impl ZeroField {
    fn of_type(name: proc_macro2::Ident, ty: TokenStream) -> Self {
        let value = quote!(<#ty>::zeros());
        Self {
            name,
            ty: Some(ty),
            value,
        }
    }
}

/// Constructors of at most this many fields stay one struct literal (the
/// expansion of small networks reads as before); past it, the fields of
/// one type are made together by [`zeros_by_type`].
const PLAIN_CONSTRUCTOR_MAX_FIELDS: usize = 16;

/// A constructor body: the struct literal of `fields`, or, for more than
/// [`PLAIN_CONSTRUCTOR_MAX_FIELDS`], the fields of each type made by one
/// call returning them as an array and named by destructuring: `let
/// fieldsN: [Ty; K] = array_of(Ty::zeros);`, …, `let [a, b, …] =
/// fieldsN;`, …, `Self { a, b, … }`. Fields without a type, or alone of
/// theirs, are made first, one call each.
///
/// One call per type rather than one per field keeps the constructor
/// small: a call that may unwind needs clean-up code that drops every
/// field made before it, and a 32-layer network's workspace has over a
/// hundred buffers. Every array is made (the largest last) before any is
/// destructured, so the named fields only move into the struct.
fn zeros_by_type(fields: Vec<ZeroField>) -> TokenStream {
    let rt = rt();
    if fields.len() <= PLAIN_CONSTRUCTOR_MAX_FIELDS {
        let (names, values): (Vec<_>, Vec<_>) =
            fields.into_iter().map(|f| (f.name, f.value)).unzip();
        return quote!(Self { #(#names: #values,)* });
    }
    let names: Vec<_> = fields.iter().map(|f| f.name.clone()).collect();
    // (type, its fields), in order of first appearance.
    let mut groups: Vec<(TokenStream, Vec<proc_macro2::Ident>)> = Vec::new();
    let mut singles = Vec::new();
    for field in fields {
        let Some(ty) = field.ty else {
            singles.push((field.name, field.value));
            continue;
        };
        let key = ty.to_string();
        match groups.iter_mut().find(|(t, _)| t.to_string() == key) {
            Some((_, names)) => names.push(field.name),
            None => groups.push((ty, vec![field.name])),
        }
    }
    // The largest group last: its call has no fields after it to clean
    // up, and the clean-up of each earlier call drops only smaller groups.
    groups.sort_by_key(|(_, names)| names.len());
    let arrays = groups.partition_point(|(_, names)| names.len() == 1);
    for (ty, names) in groups.drain(..arrays) {
        singles.push((names[0].clone(), quote!(<#ty>::zeros())));
    }
    let (single_names, single_values): (Vec<_>, Vec<_>) = singles.into_iter().unzip();
    let array_names: Vec<proc_macro2::Ident> = (0..groups.len())
        .map(|i| format_ident!("fields{}", i))
        .collect();
    let makes = groups.iter().zip(&array_names).map(|((ty, names), array)| {
        let count = Literal::usize_unsuffixed(names.len());
        quote!(let #array: [#ty; #count] = #rt::array_of(<#ty>::zeros);)
    });
    let destructure = groups
        .iter()
        .zip(&array_names)
        .map(|((_, names), array)| quote!(let [#(#names),*] = #array;));
    quote! {
        #(let #single_names = #single_values;)*
        #(#makes)*
        #(#destructure)*
        Self { #(#names,)* }
    }
}

/// `(weight-file name, PyTorch shape, field access, number of entries)` of
/// every parameter tensor, in order.
fn tensors(model: &Model) -> Vec<(String, TokenStream, TokenStream, TokenStream)> {
    let mut tensors = Vec::new();
    for layer in &model.layers {
        let field = &layer.name;
        match &layer.kind {
            LayerKind::Dense {
                inputs,
                outputs,
                bias,
            } => {
                let (i, o) = (inputs, outputs);
                tensors.push((
                    format!("{field}.weight"),
                    quote!(&[#o, #i]),
                    quote!(#field.weight),
                    quote!(#o * #i),
                ));
                if *bias {
                    tensors.push((
                        format!("{field}.bias"),
                        quote!(&[#o]),
                        quote!(#field.bias),
                        quote!(#o),
                    ));
                }
            }
            LayerKind::LayerNorm { features } => {
                let n = features;
                tensors.push((
                    format!("{field}.weight"),
                    quote!(&[#n]),
                    quote!(#field.weight),
                    quote!(#n),
                ));
                tensors.push((
                    format!("{field}.bias"),
                    quote!(&[#n]),
                    quote!(#field.bias),
                    quote!(#n),
                ));
            }
            LayerKind::Conv2d(c) => {
                let (oc, ic, k) = (
                    Literal::usize_unsuffixed(c.out_channels),
                    Literal::usize_unsuffixed(c.in_channels),
                    Literal::usize_unsuffixed(c.kernel),
                );
                let size =
                    Literal::usize_unsuffixed(c.out_channels * c.in_channels * c.kernel * c.kernel);
                tensors.push((
                    format!("{field}.weight"),
                    quote!(&[#oc, #ic, #k, #k]),
                    quote!(#field.weight),
                    quote!(#size),
                ));
                if c.bias {
                    tensors.push((
                        format!("{field}.bias"),
                        quote!(&[#oc]),
                        quote!(#field.bias),
                        quote!(#oc),
                    ));
                }
            }
            LayerKind::Pool(_) | LayerKind::GlobalAvgPool | LayerKind::Flatten => {}
        }
    }
    tensors
}

/// `impl Parameters` for the network and its gradients, `impl Model`,
/// `impl Backprop`, and `impl Network` for one input and one output.
pub(super) fn trait_impls(model: &Model, names: &Names) -> TokenStream {
    let rt = rt();
    let generics = names.impl_generics();
    let consts = &names.const_params;
    let (net_ty, grads_ty, ws) = (names.net_ty(), names.grads_ty(), &names.ws);
    let args = &names.const_args;
    let architecture = &model.architecture;

    let tensors = tensors(model);
    let count = tensors.len();
    // One table of the tensors' names and shapes, and one array of their
    // slices per method, walked by a loop: a straight line of one call per
    // tensor cost rustc's type and borrow checkers ~40 ms per method at 66
    // tensors (-Z self-profile), more than the network's passes. Optimizers
    // check their state against `TENSOR_LENGTHS`, so no step visits.
    let mut infos = Vec::new();
    let mut slices = Vec::new();
    let mut mut_slices = Vec::new();
    let mut grad_slices = Vec::new();
    let mut sizes = Vec::new();
    for (index, (name, shape, access, size)) in tensors.iter().enumerate() {
        infos.push(quote!(#rt::ParamInfo { name: #name, shape: #shape, index: #index }));
        slices.push(quote!(#rt::Matrix::as_slice(&self.#access)));
        mut_slices.push(quote!(#rt::Matrix::as_mut_slice(&mut self.#access)));
        grad_slices.push(quote!(#rt::Matrix::as_slice(&grads.#access)));
        sizes.push(size.clone());
    }
    let tensor_table = quote! {
        #[allow(clippy::all, clippy::pedantic)]
        impl #generics #net_ty {
            /// The parameter tensors' names, shapes and positions, in order.
            const PARAMETER_INFO: &'static [#rt::ParamInfo<'static>; #count] = &[#(#infos),*];
        }
    };
    let parameters = |ty: &TokenStream| {
        quote! {
            #[automatically_derived]
            impl #generics #rt::Parameters for #ty {
                type Scalar = T;
                const TENSORS: ::core::primitive::usize = #count;
                const SCALARS: ::core::primitive::usize = 0 #(+ #sizes)*;
                const TENSOR_LENGTHS: &'static [::core::primitive::usize] = &[#(#sizes),*];
                #[allow(unused_variables)]
                fn visit(&self, f: &mut dyn ::core::ops::FnMut(#rt::ParamInfo<'_>, &[T])) {
                    let tensors: [&[T]; #count] = [#(#slices),*];
                    for (info, tensor) in ::core::iter::Iterator::zip(<#net_ty>::PARAMETER_INFO.iter(), tensors.iter()) {
                        f(*info, tensor);
                    }
                }
                #[allow(unused_variables)]
                fn visit_mut(&mut self, f: &mut dyn ::core::ops::FnMut(#rt::ParamInfo<'_>, &mut [T])) {
                    let mut tensors: [&mut [T]; #count] = [#(#mut_slices),*];
                    for (info, tensor) in ::core::iter::Iterator::zip(<#net_ty>::PARAMETER_INFO.iter(), tensors.iter_mut()) {
                        f(*info, tensor);
                    }
                }
            }
        }
    };
    let net_params = parameters(&net_ty);
    let grad_params = parameters(&grads_ty);
    let Signature {
        inputs_ty,
        targets_args,
        ..
    } = signature(model);
    let input_grads = input_grads_field(model);
    let graph = spec::graph_spec(model);

    let model_impl = quote! {
        #[automatically_derived]
        impl #generics #rt::Model for #net_ty {
            type Gradients = #grads_ty;
            type Workspace<const B: ::core::primitive::usize> = #ws<#(#args,)* T, B>;
            type Inputs<const B: ::core::primitive::usize> = #inputs_ty;
            const ARCHITECTURE: &'static ::core::primitive::str = #architecture;
            const GRAPH: #rt::GraphSpec = #graph;

            #[inline]
            fn init(seed: ::core::primitive::u64) -> Self {
                Self::new(seed)
            }
            #[inline]
            fn new_gradients(&self) -> Self::Gradients {
                Self::gradients(self)
            }
            #[inline]
            fn new_workspace<const B: ::core::primitive::usize>(&self) -> Self::Workspace<B> {
                Self::workspace::<B>(self)
            }
            #[inline]
            fn input_gradients<const B: ::core::primitive::usize>(ws: &Self::Workspace<B>) -> &Self::Inputs<B> {
                &ws.#input_grads
            }
            #[allow(unused_variables)]
            fn update_with(&mut self, grads: &Self::Gradients, f: &mut #rt::UpdateFn<'_, T>) {
                let mut tensors: [&mut [T]; #count] = [#(#mut_slices),*];
                let gradients: [&[T]; #count] = [#(#grad_slices),*];
                for ((info, tensor), gradient) in ::core::iter::Iterator::zip(
                    ::core::iter::Iterator::zip(Self::PARAMETER_INFO.iter(), tensors.iter_mut()),
                    gradients.iter(),
                ) {
                    f(*info, tensor, gradient);
                }
            }
            fn graph_dot() -> #rt::String {
                Self::graph_dot()
            }
        }
    };

    // Backprop<B, Y>: Y the targets (one output), or a tuple of them.
    let (backprop_generics, backprop_targets, pass_y) = if model.outputs.len() == 1 {
        let w = width_tokens(model, model.outputs[0].value);
        (
            quote!(Y: #rt::Targets<T, B, #w> + ?::core::marker::Sized),
            quote!(Y),
            quote!(y),
        )
    } else {
        let ys: Vec<proc_macro2::Ident> = (0..model.outputs.len())
            .map(|k| format_ident!("Y{}", k))
            .collect();
        let bounds = model.outputs.iter().zip(&ys).map(|(o, yk)| {
            let w = width_tokens(model, o.value);
            quote!(#yk: #rt::Targets<T, B, #w>)
        });
        let indices = (0..ys.len()).map(syn::Index::from);
        (
            quote!(#(#bounds),*),
            quote!((#(#ys,)*)),
            quote!((#(&y.#indices,)*)),
        )
    };
    let backprop_impl = quote! {
        #[automatically_derived]
        impl<#(#consts,)* T: #rt::Scalar, const B: ::core::primitive::usize, #backprop_generics> #rt::Backprop<B, #backprop_targets> for #net_ty {
            #[inline]
            fn loss_of(&self, x: &Self::Inputs<B>, y: &#backprop_targets, ws: &mut Self::Workspace<B>) -> T {
                Self::loss_with::<B, #targets_args>(self, x, #pass_y, ws)
            }
            #[inline]
            fn backprop(&self, x: &Self::Inputs<B>, y: &#backprop_targets, grads: &mut Self::Gradients, ws: &mut Self::Workspace<B>) -> T {
                Self::backward::<B, #targets_args>(self, x, #pass_y, grads, ws)
            }
            #[inline]
            fn backprop_with_input_grads(&self, x: &Self::Inputs<B>, y: &#backprop_targets, grads: &mut Self::Gradients, ws: &mut Self::Workspace<B>) -> T {
                Self::backward_with_input_grads::<B, #targets_args>(self, x, #pass_y, grads, ws)
            }
        }
    };

    let network_impl = if model.is_single() {
        let input_width = width_tokens(model, model.inputs[0]);
        let output_width = width_tokens(model, model.outputs[0].value);
        let output_field = value_ident(model, model.outputs[0].value);
        let reduction = match model.outputs[0].loss.kind {
            LossKind::Sse if model.penalties.is_empty() => quote!(Sum),
            LossKind::Sse => quote!(NotSplittable),
            LossKind::Mse | LossKind::BinaryCrossEntropy | LossKind::CrossEntropy => {
                quote!(MeanOverBatch)
            }
        };
        quote! {
            #[automatically_derived]
            impl #generics #rt::Network<#input_width, #output_width> for #net_ty {
                const LOSS_REDUCTION: #rt::LossReduction = #rt::LossReduction::#reduction;

                #[inline]
                fn forward_with<'w, const B: ::core::primitive::usize>(
                    &self,
                    x: &#rt::Matrix<T, B, #input_width>,
                    ws: &'w mut Self::Workspace<B>,
                ) -> &'w #rt::Matrix<T, B, #output_width> {
                    Self::forward_with::<B>(self, x, ws)
                }
                #[inline]
                fn loss_with<const B: ::core::primitive::usize, Y: #rt::Targets<T, B, #output_width> + ?::core::marker::Sized>(
                    &self,
                    x: &#rt::Matrix<T, B, #input_width>,
                    y: &Y,
                    ws: &mut Self::Workspace<B>,
                ) -> T {
                    Self::loss_with::<B, Y>(self, x, y, ws)
                }
                /// One forward pass: the loss leaves the outputs in the
                /// workspace (a fused loss computes them from the logits).
                #[inline]
                fn loss_and_output_with<'w, const B: ::core::primitive::usize, Y: #rt::Targets<T, B, #output_width> + ?::core::marker::Sized>(
                    &self,
                    x: &#rt::Matrix<T, B, #input_width>,
                    y: &Y,
                    ws: &'w mut Self::Workspace<B>,
                ) -> (T, &'w #rt::Matrix<T, B, #output_width>) {
                    let loss = Self::loss_with::<B, Y>(self, x, y, ws);
                    (loss, &ws.#output_field)
                }
                #[inline]
                fn backward<const B: ::core::primitive::usize, Y: #rt::Targets<T, B, #output_width> + ?::core::marker::Sized>(
                    &self,
                    x: &#rt::Matrix<T, B, #input_width>,
                    y: &Y,
                    grads: &mut Self::Gradients,
                    ws: &mut Self::Workspace<B>,
                ) -> T {
                    Self::backward::<B, Y>(self, x, y, grads, ws)
                }
                #[inline]
                fn backward_with_input_grad<'w, const B: ::core::primitive::usize, Y: #rt::Targets<T, B, #output_width> + ?::core::marker::Sized>(
                    &self,
                    x: &#rt::Matrix<T, B, #input_width>,
                    y: &Y,
                    grads: &mut Self::Gradients,
                    ws: &'w mut Self::Workspace<B>,
                ) -> (T, &'w #rt::Matrix<T, B, #input_width>) {
                    let loss = Self::backward_with_input_grads::<B, Y>(self, x, y, grads, ws);
                    (loss, &ws.#input_grads)
                }
            }
        }
    } else {
        TokenStream::new()
    };
    quote! {
        #tensor_table
        #net_params
        #grad_params
        #model_impl
        #backprop_impl
        #network_impl
    }
}

/// The compile-time checks of dimensions given by `const` items: non-zero
/// conditions (with the message the macro would give for a literal) and
/// equalities, each with the span of the dimension to fix.
pub(super) fn const_checks(model: &Model) -> TokenStream {
    let mut out = TokenStream::new();
    for check in &model.const_checks {
        match check {
            ConstCheck::NotEqual {
                dim,
                value,
                generic: false,
                message,
            } => {
                let value = Literal::usize_unsuffixed(*value);
                out.extend(quote_spanned! {dim.span()=>
                    const _: () = ::core::assert!(#dim != #value, #message);
                });
            }
            // Asserted in the impl, where the parameter is in scope.
            ConstCheck::NotEqual { generic: true, .. } => {}
            ConstCheck::SameWidth {
                given,
                expected,
                message,
            } => out.extend(width_check(
                given,
                expected,
                message,
                "the widths must be equal",
            )),
        }
    }
    for step in &model.steps {
        let junction = match step {
            Step::Dense { junction, .. }
            | Step::Add { junction, .. }
            | Step::Mul { junction, .. } => junction.as_deref(),
            _ => None,
        };
        if let Some(j) = junction {
            out.extend(junction_check(j));
        }
    }
    out
}

/// The check of a junction: one error, naming both sides, if the two
/// `const` widths differ.
fn junction_check(j: &Junction) -> TokenStream {
    let giver = j.giver.replace('{', "{{").replace('}', "}}");
    let escape = |text: &str| text.replace('{', "{{").replace('}', "}}");
    let message = match &j.taker {
        JunctionTaker::Layer(taker) => format!("layer `{taker}` takes {{C}} inputs but {giver} gives {{A}}"),
        JunctionTaker::Add(lhs) => format!(
            "cannot add {} ({{C}} features) and {giver} ({{A}} features): both sides of `+` must have the same shape",
            escape(lhs)
        ),
        JunctionTaker::Mul(lhs) => format!(
            "cannot multiply elementwise {} ({{C}} features) and {giver} ({{A}} features): both sides of `*` must have the same shape",
            escape(lhs)
        ),
    };
    let consts = match (j.given.literal_value(), j.expected.literal_value()) {
        (Some(_), None) => format!("`{}` is a `const` item", j.expected.text()),
        (None, Some(_)) => format!("`{}` is a `const` item", j.given.text()),
        _ => format!(
            "`{}` and `{}` are `const` items",
            j.given.text(),
            j.expected.text()
        ),
    };
    let note = format!("{consts}, so the compiler compares the widths: they must be equal");
    width_check(&j.given, &j.expected, &message, &note)
}

/// `const _` with a trait of its own whose only impl is for equal widths:
/// its message, label and note are the user's, and nothing of the runtime
/// shows.
fn width_check(
    given: &crate::parse::Dim,
    expected: &crate::parse::Dim,
    message: &str,
    note: &str,
) -> TokenStream {
    let label = message.split(" but ").next().unwrap_or(message).to_string();
    quote_spanned! {expected.span()=>
        const _: () = {
            #[diagnostic::on_unimplemented(message = #message, label = #label, note = #note)]
            trait WidthsMustBeEqual<const A: ::core::primitive::usize, const C: ::core::primitive::usize> {}
            #[diagnostic::do_not_recommend]
            impl<const A: ::core::primitive::usize> WidthsMustBeEqual<A, A> for () {}
            fn check<W: WidthsMustBeEqual<{ #given }, { #expected }>>() {}
            let _ = check::<()>;
        };
    }
}
