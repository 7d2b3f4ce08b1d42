use chainrule::prelude::*;

network! {
    pub struct Typo {
        a: Dense<3, 4>,
        b: Dense<4, 2>,
        fn forward(x: [3]) -> [2] {
            let hidden = tanh(a(x));
            b(hiden)
        }
        loss: mse,
    }
}

fn main() {}
