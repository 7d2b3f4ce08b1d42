use chainrule::prelude::*;

network! {
    pub struct Method {
        a: Dense<3, 2>,
        fn forward(x: [3]) -> [2] {
            a(x).relu()
        }
        loss: mse,
    }
}

fn main() {}
