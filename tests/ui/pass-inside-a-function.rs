use chainrule::prelude::*;

fn main() {
    network! {
        struct Local {
            output: Dense<2, 1> => sigmoid,
            loss: binary_cross_entropy,
        }
    }
    let net = Local::<f64>::zeros();
    // Zero weights: σ(0) = 1/2 for every input.
    let out = net.forward(&Matrix::<f64, 1, 2>::filled(3.0));
    assert_eq!(out[(0, 0)], 0.5);
}
