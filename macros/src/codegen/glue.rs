//! The structs, constructors, trait impls and compile-time dimension checks.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use super::{backward, dot, forward, grad_ident, rt, value_ident, Names, Options};
use crate::check::{ConstCheck, Model};
use crate::vocab::{LayerKind, LossKind};

/// `Dense<T, IN, OUT>` or `DenseNoBias<T, IN, OUT>`.
fn layer_ty(layer: &crate::check::Layer) -> TokenStream {
    let rt = rt();
    let (i, o) = (&layer.inputs, &layer.outputs);
    match layer.kind {
        LayerKind::Dense => quote!(#rt::Dense<T, #i, #o>),
        LayerKind::DenseNoBias => quote!(#rt::DenseNoBias<T, #i, #o>),
    }
}

/// The network, gradients and workspace structs.
pub(super) fn structs(model: &Model, names: &Names) -> TokenStream {
    let rt = rt();
    let (attrs, vis) = (&model.attrs, &model.vis);
    let (net, grads, ws) = (&names.net, &names.grads, &names.ws);
    let params = &names.const_params_decl;
    let field_attrs: Vec<_> = model.layers.iter().map(|l| &l.attrs).collect();
    let fields: Vec<_> = model.layers.iter().map(|l| &l.name).collect();
    let tys: Vec<_> = model.layers.iter().map(layer_ty).collect();
    let grad_docs: Vec<String> = model
        .layers
        .iter()
        .map(|l| {
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
        " Every buffer a forward and backward pass of [`{net}`] over `B` rows needs, made once: pre-activations `z`, activations `a`, intermediate gradients `dl_d…`."
    );

    let mut ws_fields = Vec::new();
    for (id, value) in model.values.iter().enumerate().skip(1) {
        let name = value_ident(model, id);
        let width = &value.width;
        let doc = format!(" `{}`, B×{}.", value.name, value.width.text());
        ws_fields.push(quote!(#[doc = #doc] pub #name: #rt::Matrix<T, B, #width>));
    }
    for id in backward::gradient_values(model) {
        let name = grad_ident(model, id);
        let width = &model.values[id].width;
        let doc = format!(
            " `∂l/∂{}`, B×{}.",
            model.values[id].name,
            model.values[id].width.text()
        );
        ws_fields.push(quote!(#[doc = #doc] pub #name: #rt::Matrix<T, B, #width>));
    }
    let consts = &names.const_params_decl;
    quote! {
        #(#attrs)*
        #[derive(::core::clone::Clone, ::core::fmt::Debug, ::core::cmp::PartialEq)]
        #vis struct #net<#(#params,)* T: #rt::Scalar = ::core::primitive::f32> {
            #( #(#field_attrs)* pub #fields: #tys, )*
        }

        #[doc = #grads_doc]
        #[derive(::core::clone::Clone, ::core::fmt::Debug, ::core::cmp::PartialEq)]
        #vis struct #grads<#(#params,)* T: #rt::Scalar = ::core::primitive::f32> {
            #( #[doc = #grad_docs] pub #fields: #tys, )*
        }

        #[doc = #ws_doc]
        #[derive(::core::clone::Clone, ::core::fmt::Debug)]
        #vis struct #ws<#(#consts,)* T: #rt::Scalar, const B: ::core::primitive::usize> {
            #(#ws_fields,)*
        }
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
    let fields: Vec<_> = model.layers.iter().map(|l| &l.name).collect();
    let tys: Vec<_> = model.layers.iter().map(layer_ty).collect();
    let inits: Vec<TokenStream> = model
        .layers
        .iter()
        .map(|l| {
            if l.he_init {
                quote!(#rt::Init::He)
            } else {
                quote!(#rt::Init::Xavier)
            }
        })
        .collect();
    let input_width = &model.values[0].width;
    let output_width = &model.values[model.output].width;

    let mut ws_inits = Vec::new();
    for id in 1..model.values.len() {
        let name = value_ident(model, id);
        ws_inits.push(quote!(#name: #rt::Matrix::zeros()));
    }
    for id in backward::gradient_values(model) {
        let name = grad_ident(model, id);
        ws_inits.push(quote!(#name: #rt::Matrix::zeros()));
    }

    let generic_checks: Vec<TokenStream> = model
        .const_checks
        .iter()
        .filter_map(|c| match c {
            ConstCheck::NonZeroGeneric { dim, message } => Some(quote_spanned! {dim.span()=>
                ::core::assert!(#dim != 0, #message);
            }),
            ConstCheck::NonZero { .. } => None,
        })
        .collect();
    let (nonzero_const, nonzero_use) = if generic_checks.is_empty() {
        (TokenStream::new(), TokenStream::new())
    } else {
        (
            quote! {
                /// Evaluated (at compile time) by every constructor: the
                /// dimensions given by const generic parameters are not zero.
                const NONZERO_DIMENSIONS: () = { #(#generic_checks)* };
            },
            quote!(let () = Self::NONZERO_DIMENSIONS;),
        )
    };
    let forward_fns = forward::methods(model, names, options);
    let backward_fn = backward::method(model, names, options);
    // One literal per line, so the expansion shows the graph line by line.
    let dot = dot::graph_dot(model);
    let dot_lines: Vec<String> = dot.split_inclusive('\n').map(str::to_string).collect();
    let new_doc = format!(
        " A network initialised from `seed`: {}, biases zero.",
        model
            .layers
            .iter()
            .map(|l| format!(
                "`{}` {}",
                l.name,
                if l.he_init {
                    "He uniform"
                } else {
                    "Xavier uniform"
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
            /// The number of inputs (columns of `x`).
            pub const INPUTS: ::core::primitive::usize = #input_width;
            /// The number of outputs.
            pub const OUTPUTS: ::core::primitive::usize = #output_width;

            #nonzero_const

            #[doc = #new_doc]
            #[must_use]
            pub fn new(seed: ::core::primitive::u64) -> Self {
                #nonzero_use
                let mut rng = #rt::init_rng(seed);
                Self { #( #fields: <#tys>::init(#inits, &mut rng), )* }
            }

            /// All parameters zero.
            #[must_use]
            pub fn zeros() -> Self {
                #nonzero_use
                Self { #( #fields: <#tys>::zeros(), )* }
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
            #backward_fn

            /// The computational graph, forward (`x → z1 → a1 → … → l`) and
            /// backward (`∂l/∂…`, edges labelled with the rule), in Graphviz DOT.
            #[must_use]
            pub fn graph_dot() -> #rt::String {
                #rt::String::from(::core::concat!(#(#dot_lines),*))
            }
        }

        impl #generics #grads_ty {
            /// All gradients zero.
            #[must_use]
            pub fn zeros() -> Self {
                Self { #( #fields: <#tys>::zeros(), )* }
            }
        }

        impl<#(#consts,)* T: #rt::Scalar, const B: ::core::primitive::usize> #ws_ty {
            /// All buffers, zero.
            #[must_use]
            pub fn new() -> Self {
                Self { #(#ws_inits,)* }
            }
        }
    }
}

/// `impl Network` for the network, `impl Parameters` for it and its
/// gradients.
pub(super) fn trait_impls(model: &Model, names: &Names) -> TokenStream {
    let rt = rt();
    let generics = names.impl_generics();
    let (net_ty, grads_ty, ws) = (names.net_ty(), names.grads_ty(), &names.ws);
    let args = &names.const_args;
    let input_width = &model.values[0].width;
    let output_width = &model.values[model.output].width;
    let architecture = &model.architecture;
    let reduction = match model.loss.kind {
        LossKind::Sse => quote!(Sum),
        LossKind::Mse | LossKind::BinaryCrossEntropy | LossKind::CrossEntropy => {
            quote!(MeanOverBatch)
        }
    };

    // (field, "field.weight", shape tokens, accessor)
    let mut tensors = Vec::new();
    for layer in &model.layers {
        let field = &layer.name;
        let (i, o) = (&layer.inputs, &layer.outputs);
        tensors.push((
            format!("{field}.weight"),
            quote!(&[#o, #i]),
            quote!(#field.weight),
            quote!(#o * #i),
        ));
        if layer.kind == LayerKind::Dense {
            tensors.push((
                format!("{field}.bias"),
                quote!(&[#o]),
                quote!(#field.bias),
                quote!(#o),
            ));
        }
    }
    let count = tensors.len();
    let mut visit = Vec::new();
    let mut visit_mut = Vec::new();
    let mut update = Vec::new();
    let mut sizes = Vec::new();
    for (index, (name, shape, access, size)) in tensors.iter().enumerate() {
        let info = quote!(#rt::ParamInfo { name: #name, shape: #shape, index: #index });
        visit.push(quote!(f(#info, self.#access.as_slice());));
        visit_mut.push(quote!(f(#info, self.#access.as_mut_slice());));
        update.push(quote!(f(#info, self.#access.as_mut_slice(), grads.#access.as_slice());));
        sizes.push(size.clone());
    }
    let parameters = |ty: &TokenStream| {
        quote! {
            #[automatically_derived]
            impl #generics #rt::Parameters for #ty {
                type Scalar = T;
                const TENSORS: ::core::primitive::usize = #count;
                const SCALARS: ::core::primitive::usize = 0 #(+ #sizes)*;
                fn visit(&self, f: &mut dyn ::core::ops::FnMut(#rt::ParamInfo<'_>, &[T])) {
                    #(#visit)*
                }
                fn visit_mut(&mut self, f: &mut dyn ::core::ops::FnMut(#rt::ParamInfo<'_>, &mut [T])) {
                    #(#visit_mut)*
                }
            }
        }
    };
    let net_params = parameters(&net_ty);
    let grad_params = parameters(&grads_ty);
    quote! {
        #net_params
        #grad_params

        #[automatically_derived]
        impl #generics #rt::Network<#input_width, #output_width> for #net_ty {
            type Gradients = #grads_ty;
            type Workspace<const B: ::core::primitive::usize> = #ws<#(#args,)* T, B>;
            const ARCHITECTURE: &'static ::core::primitive::str = #architecture;
            const LOSS_REDUCTION: #rt::LossReduction = #rt::LossReduction::#reduction;

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
            fn update_with(&mut self, grads: &Self::Gradients, f: &mut #rt::UpdateFn<'_, T>) {
                #(#update)*
            }
            fn graph_dot() -> #rt::String {
                Self::graph_dot()
            }
        }
    }
}

/// Equalities and non-zero conditions between dimensions given by `const`
/// items, asserted at compile time with the same message the macro would
/// give for literals; the span is the dimension to fix.
pub(super) fn const_checks(model: &Model) -> TokenStream {
    let mut out = TokenStream::new();
    for check in &model.const_checks {
        let tokens = match check {
            ConstCheck::NonZero { dim, message } => quote_spanned! {dim.span()=>
                const _: () = ::core::assert!(#dim != 0, #message);
            },
            // Asserted in the impl, where the parameter is in scope.
            ConstCheck::NonZeroGeneric { .. } => continue,
        };
        out.extend(tokens);
    }
    out
}
