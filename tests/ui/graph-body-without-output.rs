use chainrule::prelude::*;

network! {
    pub struct NoTail {
        a: Dense<3, 2>,
        fn forward(x: [3]) -> [2] {
            let h = a(x);
        }
        loss: mse,
    }
}

fn main() {}
