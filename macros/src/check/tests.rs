//! Unit tests of the check stage: shapes inferred, every mistake reported
//! once with its message, on the token to fix.

use super::*;
use crate::vocab::LossKind;
use quote::quote;

fn run(tokens: proc_macro2::TokenStream) -> Result<Model, syn::Error> {
    check(crate::ir::lower(syn::parse2(tokens).expect("parses"))) // ok: test-only, fixed valid input
}

fn messages(tokens: proc_macro2::TokenStream) -> Vec<String> {
    match run(tokens) {
        Ok(_) => Vec::new(),
        Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
    }
}

fn has(msgs: &[String], needle: &str) -> bool {
    msgs.iter().any(|m| m.contains(needle))
}

#[test]
fn a_valid_chain_checks_and_infers_shapes() {
    let model = run(quote! {
        struct Mnist {
            hidden: Dense<784, 128> => relu,
            output: Dense<128, 10> => softmax,
            loss: cross_entropy,
        }
    })
    .expect("valid"); // ok: test-only
    let names: Vec<&str> = model.values.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["x", "z1", "a1", "z2", "a2"]);
    let widths: Vec<String> = (0..5).map(|v| model.width(v).text()).collect();
    assert_eq!(widths, ["784", "128", "128", "10", "10"]);
    assert_eq!(model.outputs[0].value, 4);
    assert_eq!(model.outputs[0].loss.kind, LossKind::CrossEntropy);
    assert_eq!(model.outputs[0].loss.logits, Some(3));
    assert!(model.layers[0].he_init);
    assert!(!model.layers[1].he_init);
    assert_eq!(
        model.architecture,
        "Mnist { hidden: Dense<784, 128> => relu, output: Dense<128, 10> => softmax, loss: cross_entropy }"
    );
}

#[test]
fn identity_layers_have_no_activation_value() {
    let model = run(quote! { struct Ls { w: DenseNoBias<3, 2>, loss: sse } }).expect("valid"); // ok: test-only
    assert_eq!(model.values.len(), 2);
    assert_eq!(model.outputs[0].value, 1);
    assert_eq!(model.outputs[0].loss.logits, None);
    assert!(matches!(
        model.layers[0].kind,
        LayerKind::Dense { bias: false, .. }
    ));
}

#[test]
fn adjacent_mismatch_names_both_numbers() {
    let msgs = messages(quote! {
        struct Net { hidden: Dense<784, 128> => relu, output: Dense<64, 10> => softmax, loss: cross_entropy }
    });
    assert_eq!(
        msgs,
        ["layer `output` takes 64 inputs but `hidden` gives 128"]
    );
}

#[test]
fn all_independent_mistakes_are_reported() {
    let msgs = messages(quote! {
        struct Net {
            a: Dense<4, 0> => rleu,
            a: Dense<8, 3> => softmax,
            c: Dnese<3, 1> => sigmoid,
            loss: cross_entropi,
        }
    });
    for e in [
        "layer `a` has zero outputs: every dimension must be at least 1",
        "duplicate layer name `a`: layer names are field names and weight-file keys, so each must be different",
        "unknown layer kind `Dnese`: did you mean `Dense`?",
        "unknown loss `cross_entropi`: did you mean `cross_entropy`?",
    ] {
        assert!(msgs.iter().any(|m| m == e), "missing {e:?} in {msgs:#?}");
    }
}

#[test]
fn loss_must_fit_the_output_activation() {
    let msgs =
        messages(quote! { struct Net { out: Dense<2, 3> => softmax, loss: binary_cross_entropy } });
    assert_eq!(msgs.len(), 1);
    assert!(msgs[0].starts_with(
        "`binary_cross_entropy` needs a sigmoid output, but the last layer `out` ends in `softmax`"
    ));
    let msgs = messages(quote! { struct Net { out: Dense<2, 1> => sigmoid, loss: cross_entropy } });
    assert!(msgs[0].contains("use `loss: binary_cross_entropy` with sigmoid"));
    assert!(messages(quote! { struct Net { out: Dense<2, 1> => tanh, loss: mse } }).is_empty());
    // Squared errors on probabilities are accepted (through the softmax Jacobian).
    assert!(messages(quote! { struct Net { out: Dense<2, 3> => softmax, loss: mse } }).is_empty());
}

#[test]
fn a_one_unit_softmax_with_cross_entropy_is_rejected() {
    let msgs = messages(quote! { struct Net { out: Dense<4, 1> => softmax, loss: cross_entropy } });
    assert_eq!(msgs.len(), 1);
    assert!(
        msgs[0].starts_with("softmax over one unit is always 1"),
        "{msgs:?}"
    );
    assert!(msgs[0].contains("binary_cross_entropy"));
    // Through a named width: the compiler is asked to check it.
    let model = run(quote! { struct Net { out: Dense<4, WIDTH> => softmax, loss: cross_entropy } })
        .expect("valid"); // ok: test-only
    assert!(model
        .const_checks
        .iter()
        .any(|c| matches!(c, ConstCheck::NotEqual { value: 1, .. })));
}

#[test]
fn an_empty_network_is_one_error() {
    let msgs = messages(quote! { struct Net { } });
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert!(msgs[0].starts_with("network `Net` has no layers"));
    let msgs = messages(quote! { struct Net { loss: mse } });
    assert_eq!(msgs.len(), 1);
    let msgs = messages(quote! { struct Net { a: Dense<1, 1> } });
    assert!(msgs[0].starts_with("missing loss"));
}

#[test]
fn named_dimensions_become_junctions_and_generics_must_match_exactly() {
    let model = run(quote! {
        struct Net<const H: usize> {
            a: Dense<INPUTS, H> => relu,
            b: Dense<H, HIDDEN> => relu,
            c: Dense<WIDTH, 1>,
            loss: mse,
        }
    })
    .expect("valid"); // ok: test-only
    let junctions: Vec<(String, String, Option<String>)> = model
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Dense {
                junction: Some(j), ..
            } => Some((
                j.given.text(),
                j.expected.text(),
                match &j.taker {
                    JunctionTaker::Layer(name) => Some(name.clone()),
                    _ => None,
                },
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        junctions,
        [(
            "HIDDEN".to_string(),
            "WIDTH".to_string(),
            Some("c".to_string())
        )]
    );
    let msgs = messages(quote! {
        struct Net<const H: usize> { a: Dense<4, H>, b: Dense<8, 1>, loss: mse }
    });
    assert_eq!(
        msgs,
        ["layer `b` takes 8 inputs but `a` gives `H`: a dimension given by a const generic parameter only fits the same parameter"]
    );
}

#[test]
fn bad_literals_are_named_with_their_layer() {
    let msgs = messages(quote! {
        struct Net { h: Dense<4, -8>, o: Dense<99999999999999999999999, 1>, loss: sse }
    });
    assert_eq!(
        msgs,
        [
            "layer `h` has a negative output dimension `-8`: every dimension is a positive integer",
            "the input dimension `99999999999999999999999` of layer `o` does not fit in a `usize`",
        ]
    );
}

#[test]
fn a_weight_count_that_overflows_is_an_error_not_a_panic() {
    let msgs = messages(quote! { struct Net { h: Dense<784, 18446744073709551615>, loss: sse } });
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert!(msgs[0].contains("784 × 18446744073709551615 weights, more than a program can hold"));
    let msgs = messages(quote! { struct Net { h: Dense<4294967296, 4294967296>, loss: sse } });
    assert!(msgs[0].contains("more than a program can hold"), "{msgs:?}");
}

#[test]
fn a_syntax_error_hides_no_layer_and_no_loss_errors_it_would_cause() {
    let msgs = messages(quote! { struct Net { hidden: Dense<4, 8> => relu output: Dense<8, 1> } });
    assert_eq!(
        msgs,
        ["missing `,` before this entry: entries are separated by commas"]
    );
    let msgs = messages(
        quote! { struct Net { a: Dense<4, 8>, b: Dense<8 9>, c: Dense<3, 1>, loss: sse } },
    );
    assert_eq!(msgs.len(), 1, "only the syntax error: {msgs:?}");
}

#[test]
fn errors_point_at_the_offending_token() {
    let tokens: proc_macro2::TokenStream =
        "struct Net { h: Dense<2, 128>, o: Dense<64, 1>, loss: mse }"
            .parse()
            .expect("tokens"); // ok: test-only
    let err = run(tokens).err().expect("error"); // ok: test-only
    let range = err.span().byte_range();
    assert_eq!(range.end - range.start, 2, "the span covers `64` only");
}

// ------------------------------------------------------------- graph form

#[test]
fn the_graph_form_names_values_after_the_user() {
    let model = run(quote! {
        struct Skip {
            first: Dense<64, 32>,
            second: Dense<32, 10>,
            shortcut: Dense<64, 10>,
            fn forward(x: [64]) -> [10] {
                let h = relu(first(x));
                softmax(second(h) + shortcut(x))
            }
            loss: cross_entropy,
        }
    })
    .expect("valid"); // ok: test-only
    let names: Vec<&str> = model.values.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(
        names,
        ["x", "first", "h", "second", "shortcut", "sum1", "output"]
    );
    assert!(model.layers[0].he_init, "relu after `first`");
    assert_eq!(model.outputs[0].loss.logits, Some(5));
}

#[test]
fn graph_form_shape_mistakes() {
    let msgs = messages(quote! {
        struct Net {
            a: Dense<4, 64>,
            b: Dense<4, 32>,
            out: Dense<8, 2>,
            fn forward(x: [4]) -> [2] {
                let s = a(x) + b(x);
                out(concat(a(x), b(x)))
            }
            loss: mse,
        }
    });
    assert!(
        has(
            &msgs,
            "cannot add `a(x)` [64] and `b(x)` [32]: both sides of `+` must have the same shape"
        ),
        "{msgs:#?}"
    );
    assert!(
        has(
            &msgs,
            "layer `out` takes 8 inputs but `concat(a(x), b(x))` gives 96"
        ),
        "{msgs:#?}"
    );
    assert!(has(&msgs, "`s` is computed but never used"), "{msgs:#?}");
}

#[test]
fn graph_form_name_mistakes() {
    let msgs = messages(quote! {
        struct Net {
            first: Dense<4, 4>,
            unused: Dense<4, 4>,
            fn forward(x: [4], y2: [4]) -> (a: [4], b: [4]) {
                (frist(x), relu(first(x)))
            }
            loss: mse(a) + mse(c) + 0.1 * l2(fist.weight, first.bais),
        }
    });
    assert!(
        has(
            &msgs,
            "unknown layer or function `frist`: did you mean `first`?"
        ),
        "{msgs:#?}"
    );
    // A misspelled name may be what an unused layer was meant to be: no
    // "never applied" then.
    assert!(!has(&msgs, "never applied"), "{msgs:#?}");
    assert!(has(&msgs, "the input `y2` is never used"), "{msgs:#?}");
    assert!(
        has(&msgs, "`c` is not an output of `fn forward`"),
        "{msgs:#?}"
    );
    assert!(
        has(
            &msgs,
            "the penalty names an unknown layer `fist`: did you mean `first`?"
        ),
        "{msgs:#?}"
    );
    assert!(
        has(&msgs, "layer `first` has no tensor `bais`"),
        "{msgs:#?}"
    );
}

#[test]
fn unused_layers_inputs_and_values_are_errors() {
    let msgs = messages(quote! {
        struct Net {
            first: Dense<4, 4>,
            unused: Dense<4, 4>,
            fn forward(x: [4], y2: [4]) -> [4] {
                let spare = relu(x);
                first(x)
            }
            loss: mse,
        }
    });
    assert!(
        has(&msgs, "layer `unused` is declared but never applied"),
        "{msgs:#?}"
    );
    assert!(has(&msgs, "the input `y2` is never used"), "{msgs:#?}");
    assert!(
        has(&msgs, "`spare` is computed but never used"),
        "{msgs:#?}"
    );
}

#[test]
fn every_output_has_one_loss() {
    let msgs = messages(quote! {
        struct Net {
            a: Dense<4, 3>,
            b: Dense<4, 1>,
            fn forward(x: [4]) -> (class: [3], size: [1]) {
                (softmax(a(x)), b(x))
            }
            loss: cross_entropy(class),
        }
    });
    assert_eq!(msgs.len(), 1);
    assert!(
        msgs[0].starts_with("the output `size` has no loss"),
        "{msgs:?}"
    );
    let msgs = messages(quote! {
        struct Net {
            a: Dense<4, 3>,
            fn forward(x: [4]) -> [3] { a(x) }
            loss: mse + sse,
        }
    });
    assert!(has(&msgs, "already has a loss"), "{msgs:?}");
}

#[test]
fn concat_of_generic_widths_is_rejected_early() {
    let msgs = messages(quote! {
        struct Net<const H: usize> {
            a: Dense<4, H>,
            b: Dense<4, 3>,
            out: Dense<7, 1>,
            fn forward(x: [4]) -> [1] { out(concat(a(x), b(x))) }
            loss: mse,
        }
    });
    assert!(
        has(
            &msgs,
            "stable Rust cannot write a sum of generic widths in a type"
        ),
        "{msgs:?}"
    );
}

#[test]
fn concat_of_const_items_is_a_constant_expression() {
    let model = run(quote! {
        struct Net {
            a: Dense<4, LEFT>,
            b: Dense<4, RIGHT>,
            out: Dense<BOTH, 1>,
            fn forward(x: [4]) -> [1] { out(concat(a(x), b(x))) }
            loss: mse,
        }
    })
    .expect("valid"); // ok: test-only
    let junction = model.steps.iter().find_map(|s| match s {
        Step::Dense {
            junction: Some(j), ..
        } => Some(j.given.text()),
        _ => None,
    });
    assert_eq!(junction.as_deref(), Some("{ LEFT + RIGHT }"));
}

// ----------------------------------------------------------- convolutions

#[test]
fn convolution_shapes_are_computed() {
    let model = run(quote! {
        struct LeNet {
            input: [1, 28, 28],
            conv1: Conv2d<1, 6, 5, padding = 2> => relu,
            pool1: MaxPool2d<2>,
            conv2: Conv2d<6, 16, 5> => relu,
            pool2: MaxPool2d<2>,
            flat: Flatten,
            fc1: Dense<400, 120> => relu,
            out: Dense<120, 10> => softmax,
            loss: cross_entropy,
        }
    })
    .expect("valid"); // ok: test-only
    let shapes: Vec<String> = model.values.iter().map(|v| v.shape.text()).collect();
    assert_eq!(
        shapes,
        [
            "[1, 28, 28]",
            "[6, 28, 28]",
            "[6, 28, 28]",
            "[6, 14, 14]",
            "[16, 10, 10]",
            "[16, 10, 10]",
            "[16, 5, 5]",
            "[400]",
            "[120]",
            "[120]",
            "[10]",
            "[10]"
        ]
    );
    assert!(model.values[7].alias_of.is_some(), "flatten moves nothing");
}

#[test]
fn convolution_mistakes_name_the_computed_numbers() {
    let msgs = messages(quote! {
        struct Bad {
            input: [1, 28, 28],
            conv1: Conv2d<1, 6, 5> => relu,
            pool1: MaxPool2d<2>,
            flat: Flatten,
            fc1: Dense<784, 10> => softmax,
            loss: cross_entropy,
        }
    });
    assert_eq!(
        msgs,
        ["layer `fc1` takes 784 inputs but `flat` gives 864"],
        "{msgs:?}"
    );
    let msgs = messages(quote! {
        struct Bad {
            input: [3, 8, 8],
            conv1: Conv2d<1, 6, 3>,
            loss: mse,
        }
    });
    assert!(
        has(
            &msgs,
            "layer `conv1` takes 1 input channels but the input gives 3 ([3, 8, 8])"
        ),
        "{msgs:?}"
    );
    let msgs = messages(quote! {
        struct Bad {
            input: [1, 4, 4],
            conv1: Conv2d<1, 2, 5>,
            loss: mse,
        }
    });
    assert!(
        has(
            &msgs,
            "the 5×5 kernel of layer `conv1` is larger than its input"
        ),
        "{msgs:?}"
    );
    let msgs = messages(quote! {
        struct Bad {
            input: [1, 8, 8],
            conv1: Conv2d<1, 2, 3, stride = 0, pading = 1>,
            loss: mse,
        }
    });
    assert!(has(&msgs, "layer `conv1` has stride = 0"), "{msgs:?}");
    assert!(
        has(
            &msgs,
            "`Conv2d` has no setting `pading`: did you mean `padding`?"
        ),
        "{msgs:?}"
    );
    let msgs = messages(quote! {
        struct Bad {
            conv1: Conv2d<1, 2, 3>,
            loss: mse,
        }
    });
    assert!(
        has(
            &msgs,
            "the network's input has no declared shape: declare it before the first layer, `input: [C, H, W]`"
        ),
        "{msgs:?}"
    );
    let msgs = messages(quote! {
        struct Bad {
            input: [1, 8, 8],
            fc: Dense<64, 2>,
            loss: mse,
        }
    });
    assert!(has(&msgs, "flatten it first (64 features)"), "{msgs:?}");
}
