use chainrule::prelude::*;

network! {
    pub struct Twice {
        a: Dense<3, 2>,
        fn forward(x: [3]) -> [2] { a(x) }
        fn forward(x: [3]) -> [2] { a(x) }
        loss: mse,
    }
}

fn main() {}
