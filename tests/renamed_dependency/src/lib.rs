//! `network!` with the runtime renamed to `cr`, in both forms.

use cr::prelude::*;

network! {
    /// The sequential form.
    #[chainrule(crate = cr)]
    pub struct Chain {
        hidden: Dense<3, 4> => tanh,
        output: Dense<4, 2> => softmax,
        loss: cross_entropy,
    }
}

network! {
    /// The graph form, a convolution, a penalty.
    #[chainrule(crate = ::cr)]
    pub struct Graph {
        conv: Conv2d<1, 2, 3, padding = 1>,
        head: Dense<32, 2>,
        fn forward(image: [1, 4, 4]) -> [2] {
            let features = relu(conv(image));
            softmax(head(flatten(features)))
        }
        loss: cross_entropy + 0.01 * l2(head.weight),
    }
}
