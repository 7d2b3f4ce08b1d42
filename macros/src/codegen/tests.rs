//! Unit tests of the generator: the generated code's shape, as tokens.

use super::*;
use quote::quote;

fn generated(tokens: TokenStream) -> String {
    let model =
        crate::check::check(crate::ir::lower(syn::parse2(tokens).expect("parses"))).expect("valid");
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
