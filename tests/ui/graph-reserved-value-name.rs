use chainrule::prelude::*;

network! {
    pub struct Reserved {
        a: Dense<3, 2>,
        fn forward(x: [3]) -> [2] {
            let loss = a(x);
            loss
        }
        loss: mse,
    }
}

fn main() {}
