use chainrule::prelude::*;

network! {
    pub struct Reused {
        a: Dense<3, 4>,
        b: Dense<4, 4>,
        fn forward(x: [3]) -> (probs: [4], again: [4]) {
            let p = softmax(a(x));
            (p, b(p))
        }
        loss: cross_entropy(probs) + mse(again),
    }
}

fn main() {}
