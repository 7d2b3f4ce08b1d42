use chainrule::prelude::*;

network! {
    pub struct Dangling {
        a: Dense<3, 2>,
        b: Dense<3, 2>,
        fn forward(x: [3]) -> [2] {
            let unused = b(x);
            a(x)
        }
        loss: mse,
    }
}

fn main() {}
