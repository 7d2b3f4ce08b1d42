use chainrule::prelude::*;

network! {
    pub struct Negative {
        a: Dense<3, 2>,
        fn forward(x: [3]) -> [2] {
            a(x)
        }
        loss: -0.5 * mse,
    }
}

fn main() {}
