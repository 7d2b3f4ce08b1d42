use chainrule::prelude::*;

network! {
    /// Linear least squares: Ỹ = X·W, no bias.
    struct LeastSquares {
        output: DenseNoBias<3, 2>,
        loss: sse,
    }
}

fn main() {
    let net = LeastSquares::<f64>::new(0);
    let grads = net.gradients();
    // Only a weight: the gradients hold one tensor, `output.weight`.
    let mut names = Vec::new();
    grads.visit(&mut |info, _| names.push(info.name.to_owned()));
    assert_eq!(names, ["output.weight"]);
    let _: &Matrix<f64, 2, 3> = &net.output.weight;
}
