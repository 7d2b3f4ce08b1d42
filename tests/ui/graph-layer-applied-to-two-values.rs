use chainrule::prelude::*;

network! {
    pub struct Pair {
        a: Dense<3, 2>,
        fn forward(x: [3], y2: [3]) -> [2] {
            a(x, y2)
        }
        loss: mse,
    }
}

fn main() {}
