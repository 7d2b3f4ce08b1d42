// Squared errors on softmax probabilities (the Brier score) are accepted:
// the gradient flows through the softmax's Jacobian, and is correct.
use chainrule::prelude::*;

network! {
    struct Mixed {
        hidden: Dense<4, 8> => tanh,
        output: Dense<8, 3> => softmax,
        loss: sse,
    }
}

fn main() {
    let net = Mixed::<f64>::new(3);
    let x = Matrix::<f64, 2, 4>::from_rows([[0.5, -1.0, 0.25, 2.0], [1.0, 0.0, -0.5, 0.3]]);
    let y = Matrix::<f64, 2, 3>::from_rows([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]);
    let report = chainrule::gradcheck::check_network(&net, &x, &y);
    assert!(report.passes(chainrule::gradcheck::DEFAULT_TOLERANCE), "{report}");
}
