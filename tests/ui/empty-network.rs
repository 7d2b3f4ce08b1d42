use chainrule::prelude::*;

network! {
    struct Nothing {}
}

fn main() {}
