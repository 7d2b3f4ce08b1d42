//! The networks declared with `#[chainrule(crate = cr)]` work: forward,
//! backward, the traits, a gradient check.

use chainrule_renamed_dependency::{Chain, Graph};
use cr::prelude::*;

#[test]
fn both_forms_run_and_their_gradients_check() {
    let chain = Chain::<f64>::new(1);
    let x = Matrix::<f64, 2, 3>::from_rows([[0.5, -1.0, 2.0], [1.0, 0.25, -0.5]]);
    let y = ClassLabels::<2, 2>::new([1, 0]).expect("labels below 2");
    let report = cr::gradcheck::check_network(&chain, &x, &y);
    assert!(report.passes(cr::gradcheck::DEFAULT_TOLERANCE), "{report}");

    let graph = Graph::<f64>::new(2);
    let images = Matrix::<f64, 2, 16>::from_fn(|i, j| (i * 5 + j) as f64 / 16.0 - 0.5);
    let report = cr::gradcheck::check_model(&graph, &images, &y);
    assert!(report.passes(cr::gradcheck::DEFAULT_TOLERANCE), "{report}");
    assert!(Graph::<f32>::graph_dot().starts_with("digraph Graph"));
}
