//! A hand-written network with the shape of what `network!` generates, for
//! the unit tests of generic code (optimizers, training loop) inside this
//! crate, where the macro's absolute `::chainrule` paths do not resolve.
//!
//! `Mlp<IN, H, OUT>`: `hidden: Dense<IN, H> => relu`,
//! `output: Dense<H, OUT> => softmax`, `loss: cross_entropy`.

use crate::activations::{activate_into, activation_backward_into, Relu};
use crate::graph::{ActivationSpec, GraphSpec, OpSpec, ValueSpec};
use crate::layers::{init_rng, Dense, Init};
use crate::{
    losses, ops, LossReduction, Matrix, Model, Network, ParamInfo, Parameters, Scalar, Targets,
    UpdateFn,
};

std::thread_local! {
    /// How many forward passes `Mlp` ran on this thread (for tests that
    /// count them).
    pub static FORWARD_PASSES: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
}

#[derive(Clone, Debug, PartialEq)]
pub struct Mlp<T: Scalar, const IN: usize, const H: usize, const OUT: usize> {
    pub hidden: Dense<T, IN, H>,
    pub output: Dense<T, H, OUT>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MlpGradients<T: Scalar, const IN: usize, const H: usize, const OUT: usize> {
    pub hidden: Dense<T, IN, H>,
    pub output: Dense<T, H, OUT>,
}

pub struct MlpWorkspace<
    T: Scalar,
    const B: usize,
    const IN: usize,
    const H: usize,
    const OUT: usize,
> {
    z1: Matrix<T, B, H>,
    a1: Matrix<T, B, H>,
    z2: Matrix<T, B, OUT>,
    a2: Matrix<T, B, OUT>,
    dl_dz2: Matrix<T, B, OUT>,
    dl_da1: Matrix<T, B, H>,
    dl_dz1: Matrix<T, B, H>,
    dl_dx: Matrix<T, B, IN>,
}

fn visit_dense<T: Scalar, const I: usize, const O: usize>(
    layer: &Dense<T, I, O>,
    name: &str,
    first_index: usize,
    f: &mut dyn FnMut(ParamInfo<'_>, &[T]),
) {
    let weight = format!("{name}.weight");
    let bias = format!("{name}.bias");
    f(
        ParamInfo {
            name: &weight,
            shape: &[O, I],
            index: first_index,
        },
        layer.weight.as_slice(),
    );
    f(
        ParamInfo {
            name: &bias,
            shape: &[O],
            index: first_index + 1,
        },
        layer.bias.as_slice(),
    );
}

fn visit_dense_mut<T: Scalar, const I: usize, const O: usize>(
    layer: &mut Dense<T, I, O>,
    name: &str,
    first_index: usize,
    f: &mut dyn FnMut(ParamInfo<'_>, &mut [T]),
) {
    let weight = format!("{name}.weight");
    let bias = format!("{name}.bias");
    f(
        ParamInfo {
            name: &weight,
            shape: &[O, I],
            index: first_index,
        },
        layer.weight.as_mut_slice(),
    );
    f(
        ParamInfo {
            name: &bias,
            shape: &[O],
            index: first_index + 1,
        },
        layer.bias.as_mut_slice(),
    );
}

macro_rules! impl_parameters {
    ($ty:ident) => {
        impl<T: Scalar, const IN: usize, const H: usize, const OUT: usize> Parameters
            for $ty<T, IN, H, OUT>
        {
            type Scalar = T;
            const TENSORS: usize = 4;
            const SCALARS: usize = H * IN + H + OUT * H + OUT;
            const TENSOR_LENGTHS: &'static [usize] = &[H * IN, H, OUT * H, OUT];
            fn visit(&self, f: &mut dyn FnMut(ParamInfo<'_>, &[T])) {
                visit_dense(&self.hidden, "hidden", 0, f);
                visit_dense(&self.output, "output", 2, f);
            }
            fn visit_mut(&mut self, f: &mut dyn FnMut(ParamInfo<'_>, &mut [T])) {
                visit_dense_mut(&mut self.hidden, "hidden", 0, f);
                visit_dense_mut(&mut self.output, "output", 2, f);
            }
        }
    };
}
impl_parameters!(Mlp);
impl_parameters!(MlpGradients);

impl<T: Scalar, const IN: usize, const H: usize, const OUT: usize> Mlp<T, IN, H, OUT> {
    pub fn zeros() -> Self {
        Self {
            hidden: Dense::zeros(),
            output: Dense::zeros(),
        }
    }
}

impl<T: Scalar, const IN: usize, const H: usize, const OUT: usize> MlpGradients<T, IN, H, OUT> {
    pub fn zeros() -> Self {
        Self {
            hidden: Dense::zeros(),
            output: Dense::zeros(),
        }
    }
}

impl<T: Scalar, const IN: usize, const H: usize, const OUT: usize> Model for Mlp<T, IN, H, OUT> {
    type Gradients = MlpGradients<T, IN, H, OUT>;
    type Workspace<const B: usize> = MlpWorkspace<T, B, IN, H, OUT>;
    type Inputs<const B: usize> = Matrix<T, B, IN>;
    const ARCHITECTURE: &'static str = "hidden: Dense => relu, output: Dense => softmax";
    const GRAPH: GraphSpec = GraphSpec {
        name: "Mlp",
        values: &[
            ValueSpec {
                name: "x",
                shape: &[IN],
            },
            ValueSpec {
                name: "z1",
                shape: &[H],
            },
            ValueSpec {
                name: "a1",
                shape: &[H],
            },
            ValueSpec {
                name: "z2",
                shape: &[OUT],
            },
            ValueSpec {
                name: "a2",
                shape: &[OUT],
            },
        ],
        inputs: &[0],
        outputs: &[4],
        ops: &[
            OpSpec::Dense {
                layer: "hidden",
                input: 0,
                output: 1,
                bias: true,
            },
            OpSpec::Activation {
                function: ActivationSpec::Relu,
                input: 1,
                output: 2,
            },
            OpSpec::Dense {
                layer: "output",
                input: 2,
                output: 3,
                bias: true,
            },
            OpSpec::Activation {
                function: ActivationSpec::Softmax,
                input: 3,
                output: 4,
            },
        ],
    };

    fn init(seed: u64) -> Self {
        let mut rng = init_rng(seed);
        Self {
            hidden: Dense::init(Init::He, &mut rng),
            output: Dense::init(Init::Xavier, &mut rng),
        }
    }

    fn new_gradients(&self) -> Self::Gradients {
        MlpGradients::zeros()
    }

    fn new_workspace<const B: usize>(&self) -> Self::Workspace<B> {
        MlpWorkspace {
            z1: Matrix::zeros(),
            a1: Matrix::zeros(),
            z2: Matrix::zeros(),
            a2: Matrix::zeros(),
            dl_dz2: Matrix::zeros(),
            dl_da1: Matrix::zeros(),
            dl_dz1: Matrix::zeros(),
            dl_dx: Matrix::zeros(),
        }
    }

    fn input_gradients<const B: usize>(ws: &Self::Workspace<B>) -> &Matrix<T, B, IN> {
        &ws.dl_dx
    }

    fn update_with(&mut self, grads: &Self::Gradients, f: &mut UpdateFn<'_, T>) {
        update_mlp(self, grads, f);
    }

    fn graph_dot() -> String {
        "digraph mlp { x -> hidden -> relu -> output -> softmax -> loss; }".to_string()
    }
}

impl<T: Scalar, const IN: usize, const H: usize, const OUT: usize> Network<IN, OUT>
    for Mlp<T, IN, H, OUT>
{
    const LOSS_REDUCTION: LossReduction = LossReduction::MeanOverBatch;

    fn forward_with<'w, const B: usize>(
        &self,
        x: &Matrix<T, B, IN>,
        ws: &'w mut Self::Workspace<B>,
    ) -> &'w Matrix<T, B, OUT> {
        FORWARD_PASSES.with(|c| c.set(c.get() + 1));
        self.hidden.forward_into(x, &mut ws.z1);
        activate_into::<Relu, _, B, H>(&ws.z1, &mut ws.a1);
        self.output.forward_into(&ws.a1, &mut ws.z2);
        crate::activations::softmax_rows_into(&ws.z2, &mut ws.a2);
        &ws.a2
    }

    fn loss_with<const B: usize, Y: Targets<T, B, OUT> + ?Sized>(
        &self,
        x: &Matrix<T, B, IN>,
        y: &Y,
        ws: &mut Self::Workspace<B>,
    ) -> T {
        self.forward_with(x, ws);
        losses::softmax_cross_entropy(&ws.z2, y, &mut ws.a2, None)
    }

    /// One forward pass: the loss leaves the probabilities in `a2`.
    fn loss_and_output_with<'w, const B: usize, Y: Targets<T, B, OUT> + ?Sized>(
        &self,
        x: &Matrix<T, B, IN>,
        y: &Y,
        ws: &'w mut Self::Workspace<B>,
    ) -> (T, &'w Matrix<T, B, OUT>) {
        let loss = self.loss_with(x, y, ws);
        (loss, &ws.a2)
    }

    fn backward<const B: usize, Y: Targets<T, B, OUT> + ?Sized>(
        &self,
        x: &Matrix<T, B, IN>,
        y: &Y,
        grads: &mut Self::Gradients,
        ws: &mut Self::Workspace<B>,
    ) -> T {
        self.forward_with(x, ws);
        let loss = losses::softmax_cross_entropy(&ws.z2, y, &mut ws.a2, Some(&mut ws.dl_dz2));
        ops::t_matmul_into(&ws.dl_dz2, &ws.a1, &mut grads.output.weight);
        ops::column_sums_into(&ws.dl_dz2, &mut grads.output.bias);
        ops::matmul_into(&ws.dl_dz2, &self.output.weight, &mut ws.dl_da1);
        activation_backward_into::<Relu, _, B, H>(&ws.dl_da1, &ws.z1, &ws.a1, &mut ws.dl_dz1);
        ops::t_matmul_into(&ws.dl_dz1, x, &mut grads.hidden.weight);
        ops::column_sums_into(&ws.dl_dz1, &mut grads.hidden.bias);
        loss
    }

    fn backward_with_input_grad<'w, const B: usize, Y: Targets<T, B, OUT> + ?Sized>(
        &self,
        x: &Matrix<T, B, IN>,
        y: &Y,
        grads: &mut Self::Gradients,
        ws: &'w mut Self::Workspace<B>,
    ) -> (T, &'w Matrix<T, B, IN>) {
        let loss = self.backward(x, y, grads, ws);
        ops::matmul_into(&ws.dl_dz1, &self.hidden.weight, &mut ws.dl_dx);
        (loss, &ws.dl_dx)
    }
}

/// The update hook of [`Mlp`]: every tensor with its gradient, in order.
fn update_mlp<T: Scalar, const IN: usize, const H: usize, const OUT: usize>(
    net: &mut Mlp<T, IN, H, OUT>,
    grads: &MlpGradients<T, IN, H, OUT>,
    f: &mut UpdateFn<'_, T>,
) {
    {
        let this = net;
        let tensors: [(ParamInfo<'_>, &mut [T], &[T]); 4] = [
            (
                ParamInfo {
                    name: "hidden.weight",
                    shape: &[H, IN],
                    index: 0,
                },
                this.hidden.weight.as_mut_slice(),
                grads.hidden.weight.as_slice(),
            ),
            (
                ParamInfo {
                    name: "hidden.bias",
                    shape: &[H],
                    index: 1,
                },
                this.hidden.bias.as_mut_slice(),
                grads.hidden.bias.as_slice(),
            ),
            (
                ParamInfo {
                    name: "output.weight",
                    shape: &[OUT, H],
                    index: 2,
                },
                this.output.weight.as_mut_slice(),
                grads.output.weight.as_slice(),
            ),
            (
                ParamInfo {
                    name: "output.bias",
                    shape: &[OUT],
                    index: 3,
                },
                this.output.bias.as_mut_slice(),
                grads.output.bias.as_slice(),
            ),
        ];
        for (info, params, grads) in tensors {
            f(info, params, grads);
        }
    }
}
