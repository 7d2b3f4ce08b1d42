use chainrule::prelude::*;

network! {
    struct NoLayers {
        loss: mse,
    }
}

fn main() {}
