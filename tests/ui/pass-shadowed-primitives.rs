#![allow(dead_code, non_camel_case_types)]

// Even the primitive type names can be shadowed by a user's types; the
// generated code spells them `::core::primitive::…`.
mod shadowed {
    struct usize;
    struct f32;
    struct f64;
    struct bool;
    struct u64;

    ::chainrule::network! {
        pub struct Plain {
            hidden: Dense<2, 3> => tanh,
            output: Dense<3, 1> => sigmoid,
            loss: binary_cross_entropy,
        }
    }
}

fn main() {
    let net = shadowed::Plain::<f64>::new(0);
    let x = ::chainrule::Matrix::<f64, 1, 2>::zeros();
    let _ = net.forward(&x);
}
