use chainrule::prelude::*;

network! {
    pub struct Heads {
        a: Dense<3, 2>,
        fn forward(x: [3]) -> (first: [2], second: [2]) {
            a(x)
        }
        loss: mse(first) + mse(second),
    }
}

fn main() {}
