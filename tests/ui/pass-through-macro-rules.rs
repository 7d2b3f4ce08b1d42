use chainrule::prelude::*;

// Users generate networks from their own macros: dimensions arrive as
// `literal` and `expr` fragments, activations as `ident`, the loss as `tt`.
macro_rules! declare {
    ($name:ident, $inputs:literal, $hidden:expr, $act:ident, $loss:tt) => {
        network! {
            struct $name {
                hidden: Dense<$inputs, $hidden> => $act,
                output: Dense<$hidden, 1> => identity,
                loss: $loss,
            }
        }
    };
}

declare!(ThroughLiterals, 3, 5, tanh, mse);
declare!(ThroughConsts, 2, WIDTH, relu, sse);

const WIDTH: usize = 4;

fn main() {
    let a = ThroughLiterals::<f64>::new(0);
    let _ = a.forward(&Matrix::<f64, 1, 3>::zeros());
    let b = ThroughConsts::<f64>::new(0);
    let _ = b.forward(&Matrix::<f64, 1, 2>::zeros());
}
