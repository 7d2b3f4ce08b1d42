#![deny(warnings)]
#![forbid(unsafe_code)]

use chainrule::prelude::*;

network! {
    /// A documented network.
    ///
    /// More than one line of docs.
    #[doc = "An attribute-style doc line."]
    #[allow(clippy::all)]
    pub(crate) struct Documented {
        /// The hidden layer.
        hidden: Dense<3, 4> => tanh,
        output: Dense<4, 2> => identity,
        loss: mse,
    }
}

fn main() {
    let net = Documented::<f32>::new(3);
    // Clone, Debug and PartialEq are derived.
    let copy = net.clone();
    assert_eq!(copy, net);
    assert!(!format!("{net:?}").is_empty());
    let grads = net.gradients();
    assert_eq!(grads.clone(), grads);
}
