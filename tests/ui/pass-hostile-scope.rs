#![allow(dead_code, non_camel_case_types)]

// Everything the generated code might name without a leading `::` is
// shadowed here; the invocation still compiles, so the generated code uses
// absolute paths only.
mod hostile {
    struct Option;
    struct Result;
    struct Some;
    struct None;
    struct Ok;
    struct Err;
    struct Box;
    struct Vec;
    struct String;
    struct Matrix;
    struct Dense;
    struct DenseNoBias;
    struct Scalar;
    struct Network;
    struct Parameters;
    struct Targets;
    trait Clone {}
    trait Default {}
    trait Iterator {}
    trait Into {}
    trait From {}
    mod chainrule {}
    mod core {}
    mod std {}
    mod alloc {}

    ::chainrule::network! {
        pub struct Hostile {
            hidden: Dense<2, 3> => relu,
            output: Dense<3, 2> => softmax,
            loss: cross_entropy,
        }
    }

    ::chainrule::network! {
        pub struct HostileToo {
            first: DenseNoBias<2, 2> => leaky_relu,
            second: Dense<2, 2> => sigmoid,
            output: Dense<2, 1> => sigmoid,
            loss: binary_cross_entropy,
        }
    }

    pub fn run() -> bool {
        let net = Hostile::<f64>::new(0);
        let x = ::chainrule::Matrix::<f64, 1, 2>::zeros();
        let y = ::chainrule::ClassLabels::<1, 2>::new([1]).unwrap();
        let mut grads = net.gradients();
        let mut ws = net.workspace::<1>();
        let loss = net.backward(&x, &y, &mut grads, &mut ws);
        let other = HostileToo::<f32>::zeros();
        let _ = other.forward(&::chainrule::Matrix::<f32, 1, 2>::zeros());
        loss.is_finite()
    }
}

fn main() {
    assert!(hostile::run());
}
