use chainrule::prelude::*;

network! {
    pub struct Loop {
        a: Dense<3, 3>,
        fn forward(x: [3]) -> [3] {
            let h = a(g);
            let g = relu(h);
            g
        }
        loss: mse,
    }
}

fn main() {}
