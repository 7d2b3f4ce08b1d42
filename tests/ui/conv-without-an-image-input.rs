use chainrule::prelude::*;

network! {
    pub struct Flat {
        conv: Conv2d<1, 2, 3>,
        loss: mse,
    }
}

fn main() {}
