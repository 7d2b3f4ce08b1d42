use chainrule::prelude::*;

network! {
    pub struct Half {
        input: [1, 8, 8],
        conv: Conv2d<1, 2, 3, stride = 1.5>,
        loss: mse,
    }
}

fn main() {}
