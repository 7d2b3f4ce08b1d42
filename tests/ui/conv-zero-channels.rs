use chainrule::prelude::*;

network! {
    pub struct Empty {
        input: [1, 8, 8],
        conv: Conv2d<1, 0, 3>,
        loss: mse,
    }
}

fn main() {}
