//! Unit tests of the generator: the generated code's shape, as tokens.

use super::*;
use quote::quote;

fn generated(tokens: TokenStream) -> String {
    let model =
        crate::check::check(crate::ir::lower(syn::parse2(tokens).expect("parses"))).expect("valid"); // ok: test-only
    generate(&model, Options::default()).to_string()
}

#[test]
fn uses_only_absolute_paths() {
    let code = generated(quote! {
        pub struct Mnist {
            hidden: Dense<784, 128> => relu,
            output: Dense<128, 10> => softmax,
            loss: cross_entropy,
        }
    });
    // Every name the prelude or the caller could shadow is reached through
    // a leading `::` path.
    let tokens: Vec<&str> = code.split_whitespace().collect();
    let shadowable = [
        "Option",
        "Some",
        "None",
        "Result",
        "Matrix",
        "Vec",
        "String",
        "Box",
        "usize",
        "u64",
        "f32",
        "str",
        "Sized",
        "FnMut",
        "Clone",
        "Debug",
        "PartialEq",
        "chainrule",
        "core",
    ];
    for (i, t) in tokens.iter().enumerate() {
        if shadowable.contains(t) {
            assert!(
                i > 0 && tokens[i - 1].ends_with("::"),
                "`{t}` not behind `::` at token {i}: {}",
                tokens[i.saturating_sub(8)..(i + 3).min(tokens.len())].join(" ")
            );
        }
    }
    assert!(code.contains(":: chainrule :: __private :: Network < 784 , 10 >"));
    assert!(code.contains("# [automatically_derived]"));
}

fn model(tokens: TokenStream) -> Model {
    let parsed = syn::parse2(tokens).expect("parses"); // ok: test-only
    crate::check::check(crate::ir::lower(parsed)).expect("valid") // ok: test-only
}

#[test]
fn dot_labels_each_backward_edge_with_its_rule_and_operands() {
    let dot = dot::graph_dot(&model(quote! {
        pub struct Mnist {
            hidden: Dense<784, 128> => relu,
            output: Dense<128, 10> => softmax,
            loss: cross_entropy,
        }
    }));
    for edge in [
        r#"dl_dz2 -> dl_dw2 [label="rule 5: dl_dz2ᵀ·a1", style=dashed];"#,
        r#"dl_dz1 -> dl_dw1 [label="rule 5: dl_dz1ᵀ·x", style=dashed];"#,
        r#"dl_dz2 -> dl_da1 [label="rule 6: dl_dz2·W2", style=dashed];"#,
        r#"dl_da1 -> dl_dz1 [label="rule 7: dl_da1 ⊗ relu′(z1)", style=dashed];"#,
        r#"dl_dz2 -> dl_db2 [label="bias: 1ᵀ·dl_dz2", style=dashed];"#,
        r#"x -> z1 [label="·Wᵀ"];"#,
        r#"z1 -> a1 [label="relu"];"#,
    ] {
        assert!(dot.contains(edge), "missing {edge} in\n{dot}");
    }
    // No gradient for x, and none for a2 (the fused loss writes dl_dz2).
    assert!(!dot.contains("dl_dx"));
    assert!(!dot.contains("dl_da2"));
}

#[test]
fn dot_is_well_formed_every_edge_joins_declared_nodes() {
    let dot = dot::graph_dot(&model(quote! {
        struct Deep {
            a: Dense<2, 3> => tanh,
            b: DenseNoBias<3, 3> => leaky_relu,
            c: Dense<3, 1> => sigmoid,
            loss: mse,
        }
    }));
    assert!(dot.starts_with("digraph Deep {\n") && dot.ends_with("}\n"));
    let mut nodes = std::collections::HashSet::new();
    let mut edges = Vec::new();
    for line in dot.lines().map(str::trim) {
        if let Some((head, _)) = line.split_once(" [") {
            match head.split_once(" -> ") {
                Some((from, to)) => edges.push((from.to_string(), to.to_string())),
                None => {
                    nodes.insert(head.to_string());
                }
            }
        }
    }
    for (from, to) in &edges {
        assert!(
            nodes.contains(from) && nodes.contains(to),
            "{from} -> {to} undeclared"
        );
    }
    // A non-fused loss: the loss gradient reaches a3, then rule 7 to z3.
    assert!(dot.contains(r#"dl_dl -> dl_da3 [label="mse: dl_da3""#));
    assert!(dot.contains(r#"dl_da3 -> dl_dz3 [label="rule 7: dl_da3 ⊗ sigmoid′(z3)""#));
    assert!(!dot.contains("b2 ["), "DenseNoBias has no bias node");
}

#[test]
fn small_layers_take_the_small_forms_and_the_attribute_overrides_it() {
    let small = generated(quote! {
        struct Xor { hidden: Dense<2, 8> => tanh, output: Dense<8, 1> => sigmoid, loss: binary_cross_entropy }
    });
    // Forward: the 2×8 layer and its tanh in one pass over the rows, by the
    // runtime's fixed-size form; the 8×1 layer alone (its sigmoid is fused
    // into the loss).
    assert!(
        small.contains(
            ":: chainrule :: __private :: dense :: forward_activate :: < :: chainrule :: __private :: Tanh , T , B , _ , _ > (x , & self . hidden . weight , :: core :: option :: Option :: Some (& self . hidden . bias) , z1 , a1)"
        ),
        "{small}"
    );
    assert!(small.contains(
        ":: chainrule :: __private :: dense :: forward (a1 , & self . output . weight , :: core :: option :: Option :: Some (& self . output . bias) , z2)"
    ));
    // Backward: rules 5 and 6 by the small forms, the gradients written.
    assert!(small.contains(
        ":: chainrule :: __private :: dense :: weight_grad (dl_dz2 , a1 , & mut grads . output . weight , :: core :: option :: Option :: Some (& mut grads . output . bias))"
    ));
    assert!(small.contains(
        ":: chainrule :: __private :: dense :: input_grad (dl_dz2 , & self . output . weight , dl_da1)"
    ));
    assert!(small.contains(
        ":: chainrule :: __private :: dense :: weight_grad (dl_dz1 , x , & mut grads . hidden . weight"
    ));
    assert!(!small.contains("forward_into"), "no kernel call left");

    // A setting forces the small forms up to its weight count.
    let forced = generated(quote! {
        #[chainrule(unroll = 16)]
        struct Xor { hidden: Dense<2, 8> => tanh, output: Dense<8, 1> => sigmoid, loss: binary_cross_entropy }
    });
    assert!(forced.contains(":: chainrule :: __private :: small :: forward_activate :: <"));
    assert!(forced.contains(":: chainrule :: __private :: small :: weight_grad (dl_dz1"));
    assert!(!forced.contains("dense ::"));

    let off = generated(quote! {
        #[chainrule(unroll = 0)]
        struct Xor { hidden: Dense<2, 8> => tanh, output: Dense<8, 1> => sigmoid, loss: binary_cross_entropy }
    });
    assert!(!off.contains("small ::") && !off.contains("dense ::"));
    assert!(off.contains("self . hidden . forward_into (x , z1)"));
    assert!(
        !off.contains("chainrule (unroll"),
        "the setting is not passed through"
    );

    let big = generated(quote! {
        struct Big { hidden: Dense<784, 128> => relu, output: Dense<128, 10> => softmax, loss: cross_entropy }
    });
    assert!(!big.contains("small ::"));
    assert!(
        big.contains("ops :: matmul_t_bias_relu_into (x , & self . hidden . weight")
            && big.contains("rules :: rule5_weight_grad_into (dl_dz1 , x , dl_dw1)"),
        "a layer wider than 512 calls the kernels"
    );
    // 1 280 weights, but at most 512 inputs and outputs: the cost model
    // (the small gradient forms over one row).
    assert!(big
        .contains(":: chainrule :: __private :: dense :: forward (a1 , & self . output . weight"));
    assert!(big.contains(":: chainrule :: __private :: dense :: weight_grad (dl_dz2 , a1"));
    assert!(big.contains(":: chainrule :: __private :: softmax_rows_into (z2 , a2) ;"));
}

#[test]
fn an_unknown_setting_is_an_error() {
    let def: crate::parse::NetworkDef = syn::parse2(quote! {
        #[chainrule(unrol = 4)]
        struct N { a: Dense<1, 1>, loss: sse }
    })
    .expect("parses"); // ok: test-only
    assert_eq!(def.errors.len(), 1);
    assert!(def.errors[0].to_string().starts_with("unknown setting"));
}

#[test]
fn the_error_stub_keeps_the_name_generics_and_methods() {
    let stub = stub(&quote! {
        pub struct Mlp<const H: usize> { hidden: Dense<4, H> => rleu, output: Dense<H, 2>, loss: sse }
    })
    .to_string();
    assert!(stub.contains("pub struct Mlp < const H : :: core :: primitive :: usize , T"));
    assert!(stub.contains("pub struct MlpGradients"));
    assert!(stub.contains("pub fn forward < const B : :: core :: primitive :: usize > (& self , x : & :: chainrule :: __private :: Matrix < T , B , 4 >) -> :: chainrule :: __private :: Matrix < T , B , 2 >"));
    // Unparseable header: still a struct of that name.
    let stub = super::stub(&quote!(struct Broken ! { }));
    assert!(stub.to_string().contains("pub struct Broken <"));
}

/// The attribute just before `fn <name>` in the generated code.
fn attribute_before(code: &str, name: &str) -> String {
    let at = code.find(&format!("fn {name}")).expect("generated"); // ok: test-only
    let before = &code[..at];
    let start = before.rfind("# [inline").expect("has an inline attribute"); // ok: test-only
    before[start..]
        .split(']')
        .next()
        .unwrap_or_default()
        .to_string()
        + "]"
}

/// The code generated for `depth` × `Dense<4, 4> => tanh`, then
/// `Dense<4, 2> => softmax`, cross-entropy.
fn deep_tanh_chain(depth: usize) -> String {
    let layers = (1..=depth).map(|i| {
        let name = format_ident!("hidden{i}");
        quote!(#name: Dense<4, 4> => tanh,)
    });
    generated(quote! {
        pub struct Deep {
            #(#layers)*
            output: Dense<4, 2> => softmax,
            loss: cross_entropy,
        }
    })
}

#[test]
fn deep_networks_keep_their_passes_out_of_line() {
    let shallow = generated(quote! {
        pub struct Shallow {
            hidden: Dense<4, 4> => relu,
            output: Dense<4, 2> => softmax,
            loss: cross_entropy,
        }
    });
    assert_eq!(attribute_before(&shallow, "backward_pass"), "# [inline]");
    assert_eq!(attribute_before(&shallow, "forward_logits"), "# [inline]");

    let deep = deep_tanh_chain(9);
    assert_eq!(
        attribute_before(&deep, "backward_pass"),
        "# [inline (never)]"
    );
    assert_eq!(
        attribute_before(&deep, "forward_logits"),
        "# [inline (never)]"
    );
}

#[test]
fn deep_networks_make_their_fields_type_by_type() {
    let deep = deep_tanh_chain(17);
    // 17 × (z, a, dl_dz, dl_da) of width 4 in one array (the largest group,
    // made last), (z, a, dl_dz) of the output, width 2, in another (dl_dx
    // is made on its own); the 17 hidden layers are of one type, the output
    // alone of its.
    let workspace = &deep[deep.find("pub fn new () -> Self").expect("workspace new")..]; // ok: test-only
    let array = |ty: &str, count: usize| {
        format!(
            "[:: chainrule :: __private :: {ty} ; {count}] = :: chainrule :: __private :: array_of"
        )
    };
    let width_2 = workspace.find(&array("Matrix < T , B , 2 >", 3));
    let width_4 = workspace.find(&array("Matrix < T , B , 4 >", 68));
    assert!(
        width_2.is_some() && width_4.is_some() && width_2 < width_4,
        "{workspace}"
    );
    let params = array("Dense < T , 4 , 4 >", 17);
    assert_eq!(
        deep.matches(&params).count(),
        2,
        "Net::zeros and NetGradients::zeros"
    );

    let shallow = generated(quote! {
        pub struct Shallow {
            hidden: Dense<4, 4> => relu,
            output: Dense<4, 2> => softmax,
            loss: cross_entropy,
        }
    });
    assert!(!shallow.contains("array_of"));
}
