use chainrule::prelude::*;

// The declaration is wrong, but the type still exists: only the macro's
// error is reported, not one more for every mention of `Broken` below.
network! {
    struct Broken {
        hidden: Dense<4, 8> => relu,
        output: Dense<6, 2> => identity,
        loss: mse,
    }
}

fn inspect(_net: Option<&Broken>) {}

fn main() {
    inspect(None);
}
