//! The Burn wiring: a backend extension routing conv3d on flex to this crate's kernels, with a
//! handwritten backward pass for `Autodiff<Flex>`, and [`conv3d`], the one place that decides
//! between these kernels and Burn's own conv3d. The mechanism is described in the crate docs.

use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Backend, DispatchTensor, DispatchTensorKind, Flex};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Tensor, TensorData};

use crate::{conv3d_forward, Conv3dError, Conv3dGeometry};

/// 3-D convolution as a Burn backend extension, implemented for `Flex` (and, with the
/// `autodiff` feature, for `Autodiff<Flex, C>`); `Dispatch` routes to them.
///
/// Call it through [`conv3d`], which checks that the tensors are on flex first: the generated
/// `Dispatch` methods panic on any other backend. Both methods fall back to Burn's conv3d for
/// a configuration [`geometry_of`] refuses.
#[backend_extension(Flex, Autodiff: cfg(feature = "autodiff"))]
pub trait Conv3dOps: Backend {
    /// `conv3d(x, weight)` without bias; `x` `[n, ci, d, h, w]`, `weight` `[co, ci, kd, kh, kw]`.
    fn fast_conv3d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<3>,
    ) -> FloatTensor<Self>;

    /// `conv3d(x, weight) + bias`; `bias` `[co]`.
    fn fast_conv3d_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<3>,
    ) -> FloatTensor<Self>;
}

/// The geometry of `conv3d(x, weight)` with `options` if this crate's kernels compute it:
/// 5-D NCDHW input and weight with matching channels, one group, dilation 1, symmetric padding.
pub fn geometry_of(
    x_shape: &[usize],
    weight_shape: &[usize],
    options: &ConvOptions<3>,
) -> Result<Conv3dGeometry, Conv3dError> {
    let (&[n, ci, d, h, w], &[co, wci, kd, kh, kw]) = (x_shape, weight_shape) else {
        return Err(Conv3dError::Unsupported(format!(
            "input {x_shape:?} and weight {weight_shape:?} are not both 5-D"
        )));
    };
    if options.groups != 1 {
        return Err(Conv3dError::Unsupported(format!(
            "{} groups",
            options.groups
        )));
    }
    if options.dilation != [1; 3] {
        return Err(Conv3dError::Unsupported(format!(
            "dilation {:?}",
            options.dilation
        )));
    }
    if options.padding.iter().any(|(begin, end)| begin != end) {
        return Err(Conv3dError::Unsupported(format!(
            "asymmetric padding {:?}",
            options.padding
        )));
    }
    if wci != ci {
        return Err(Conv3dError::Unsupported(format!(
            "weight for {wci} input channels on an input with {ci}"
        )));
    }
    Conv3dGeometry::new(
        n,
        ci,
        co,
        [d, h, w],
        [kd, kh, kw],
        options.stride,
        options.padding.map(|(p, _)| p),
    )
}

/// Whether [`conv3d`] runs this crate's kernels for these arguments (else Burn's conv3d): the
/// kernels [`enabled`](crate::enabled), every tensor on the flex device in f32, and
/// [`geometry_of`] accepting the configuration.
pub fn uses_fast_path(
    x: &Tensor<5>,
    weight: &Tensor<5>,
    bias: Option<&Tensor<1>>,
    options: &ConvOptions<3>,
) -> bool {
    let on_flex_f32 = |dtype: DType, t: DispatchTensor| dtype == DType::F32 && is_flex(&t);
    crate::enabled()
        && on_flex_f32(x.dtype(), x.clone().into_dispatch())
        && on_flex_f32(weight.dtype(), weight.clone().into_dispatch())
        && bias.is_none_or(|b| on_flex_f32(b.dtype(), b.clone().into_dispatch()))
        && geometry_of(&x.dims(), &weight.dims(), options).is_ok()
}

/// Whether a dispatch tensor lives on flex, directly or under autodiff (then only when this
/// crate's autodiff support is compiled in: the extension would panic otherwise).
fn is_flex(t: &DispatchTensor) -> bool {
    match &t.kind {
        DispatchTensorKind::Flex(_) => {
            cfg!(feature = "autodiff")
                || t.autodiff == burn::backend::DispatchAutodiffContext::Disabled
        }
        #[cfg(feature = "autodiff")]
        DispatchTensorKind::Autodiff(inner) => matches!(**inner, DispatchTensorKind::Flex(_)),
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

/// 3-D convolution, equal to `burn::tensor::module::conv3d(x, weight, bias, options)`: this
/// crate's kernels on flex (forward and, under autodiff, both gradients), Burn's conv3d for
/// anything else — other devices, dtypes, groups, dilation or asymmetric padding.
///
/// Shapes: `x` `[n, ci, d, h, w]`, `weight` `[co, ci, kd, kh, kw]`, `bias` `[co]`; the output
/// is `[n, co, od, oh, ow]`. Invalid shapes panic as Burn's conv3d does.
pub fn conv3d(
    x: Tensor<5>,
    weight: Tensor<5>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<3>,
) -> Tensor<5> {
    use burn::backend::Dispatch;
    if !uses_fast_path(&x, &weight, bias.as_ref(), &options) {
        return burn::tensor::module::conv3d(x, weight, bias, options);
    }
    let (x, weight) = (x.into_dispatch(), weight.into_dispatch());
    let out = match bias {
        Some(bias) => Dispatch::fast_conv3d_bias(x, weight, bias.into_dispatch(), options),
        None => Dispatch::fast_conv3d(x, weight, options),
    };
    Tensor::from_dispatch(out)
}

/// Runs `f` on the tensor's values as one contiguous f32 slice (copying only if it is a view).
fn with_f32<R>(t: &FlexTensor, f: impl FnOnce(&[f32]) -> R) -> R {
    match t.as_slice::<f32>() {
        Some(values) => f(values),
        None => {
            let contiguous = t.to_contiguous();
            let values = contiguous
                .as_slice::<f32>()
                .expect("a contiguous f32 flex tensor has a slice");
            f(values)
        }
    }
}

/// A flex tensor owning `values` in `shape`.
fn flex_tensor(values: Vec<f32>, shape: [usize; 5]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

fn shape5(extent: [usize; 3], lead: [usize; 2]) -> [usize; 5] {
    [lead[0], lead[1], extent[0], extent[1], extent[2]]
}

/// The geometry of a flex convolution, if the kernels take it (f32 and [`geometry_of`]).
fn flex_geometry(
    x: &FlexTensor,
    weight: &FlexTensor,
    options: &ConvOptions<3>,
) -> Option<Conv3dGeometry> {
    if x.dtype() != DType::F32 || weight.dtype() != DType::F32 {
        return None;
    }
    geometry_of(x.layout().shape(), weight.layout().shape(), options).ok()
}

/// Forward on flex primitives whose geometry has been checked.
fn forward(
    g: &Conv3dGeometry,
    x: &FlexTensor,
    w: &FlexTensor,
    b: Option<&FlexTensor>,
) -> FlexTensor {
    let mut y = vec![0.0f32; g.output_len()];
    with_f32(x, |x| {
        with_f32(w, |w| match b {
            Some(b) => with_f32(b, |b| conv3d_forward(g, x, w, Some(b), &mut y)),
            None => conv3d_forward(g, x, w, None, &mut y),
        })
    })
    .expect("buffer lengths follow the checked geometry");
    flex_tensor(y, shape5(g.output(), [g.batch(), g.channels_out()]))
}

impl Conv3dOps for Flex {
    fn fast_conv3d(x: FlexTensor, weight: FlexTensor, options: ConvOptions<3>) -> FlexTensor {
        match flex_geometry(&x, &weight, &options) {
            Some(g) => forward(&g, &x, &weight, None),
            None => <Flex as burn::backend::ops::ModuleOps<Flex>>::conv3d(x, weight, None, options),
        }
    }

    fn fast_conv3d_bias(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        options: ConvOptions<3>,
    ) -> FlexTensor {
        match flex_geometry(&x, &weight, &options) {
            Some(g) if bias.dtype() == DType::F32 => forward(&g, &x, &weight, Some(&bias)),
            _ => <Flex as burn::backend::ops::ModuleOps<Flex>>::conv3d(
                x,
                weight,
                Some(bias),
                options,
            ),
        }
    }
}

#[cfg(feature = "autodiff")]
mod autodiff {
    //! The handwritten backward pass on `Autodiff<Flex, C>`.

    use super::*;
    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
    use burn::backend::autodiff::NodeId;
    use burn::backend::ops::ModuleOps;
    use burn::backend::Autodiff;

    use crate::{conv3d_bias_grad, conv3d_input_grad, conv3d_weight_grad};

    fn input_grad(g: &Conv3dGeometry, w: &FlexTensor, dy: &FlexTensor) -> FlexTensor {
        let mut dx = vec![0.0f32; g.input_len()];
        with_f32(w, |w| {
            with_f32(dy, |dy| conv3d_input_grad(g, w, dy, &mut dx))
        })
        .expect("buffer lengths follow the checked geometry");
        flex_tensor(dx, shape5(g.input(), [g.batch(), g.channels_in()]))
    }

    fn weight_grad(g: &Conv3dGeometry, x: &FlexTensor, dy: &FlexTensor) -> FlexTensor {
        let mut dw = vec![0.0f32; g.weight_len()];
        with_f32(x, |x| {
            with_f32(dy, |dy| conv3d_weight_grad(g, x, dy, &mut dw))
        })
        .expect("buffer lengths follow the checked geometry");
        flex_tensor(dw, shape5(g.kernel(), [g.channels_out(), g.channels_in()]))
    }

    fn bias_grad(g: &Conv3dGeometry, dy: &FlexTensor) -> FlexTensor {
        let mut db = vec![0.0f32; g.channels_out()];
        with_f32(dy, |dy| conv3d_bias_grad(g, dy, &mut db))
            .expect("buffer lengths follow the checked geometry");
        FlexTensor::from_data(TensorData::new(db, [g.channels_out()]))
    }

    /// Backward of the convolution without bias: parents `[x, weight]`.
    #[derive(Debug)]
    struct ConvBackward;

    /// Backward of the convolution with bias: parents `[x, weight, bias]`.
    #[derive(Debug)]
    struct ConvBiasBackward;

    /// The gradients of `x` and `weight`, each computed only if its parent needs it.
    fn register_x_and_weight(
        [node_x, node_w]: [Option<NodeId>; 2],
        g: &Conv3dGeometry,
        (x_id, w_id): (NodeId, NodeId),
        dy: &FlexTensor,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        if let Some(id) = node_x {
            let w = checkpointer.retrieve_node_output::<FlexTensor>(w_id);
            grads.register::<Flex>(id, input_grad(g, &w, dy));
        }
        if let Some(id) = node_w {
            let x = checkpointer.retrieve_node_output::<FlexTensor>(x_id);
            grads.register::<Flex>(id, weight_grad(g, &x, dy));
        }
    }

    impl Backward<Flex, 2> for ConvBackward {
        type State = (NodeId, NodeId, Conv3dGeometry);

        fn backward(
            self,
            ops: Ops<Self::State, 2>,
            grads: &mut Gradients,
            checkpointer: &mut Checkpointer,
        ) {
            let dy = grads.consume::<Flex>(&ops.node);
            let (x_id, w_id, g) = ops.state;
            let parents = ops.parents.map(|node| node.map(|node| node.id));
            register_x_and_weight(parents, &g, (x_id, w_id), &dy, grads, checkpointer);
        }
    }

    impl Backward<Flex, 3> for ConvBiasBackward {
        type State = (NodeId, NodeId, Conv3dGeometry);

        fn backward(
            self,
            ops: Ops<Self::State, 3>,
            grads: &mut Gradients,
            checkpointer: &mut Checkpointer,
        ) {
            let dy = grads.consume::<Flex>(&ops.node);
            let (x_id, w_id, g) = ops.state;
            let [node_x, node_w, node_b] = ops.parents.map(|node| node.map(|node| node.id));
            register_x_and_weight([node_x, node_w], &g, (x_id, w_id), &dy, grads, checkpointer);
            if let Some(id) = node_b {
                grads.register::<Flex>(id, bias_grad(&g, &dy));
            }
        }
    }

    impl<C: CheckpointStrategy> Conv3dOps for Autodiff<Flex, C> {
        fn fast_conv3d(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            options: ConvOptions<3>,
        ) -> FloatTensor<Self> {
            let Some(g) = flex_geometry(x.primitive(), weight.primitive(), &options) else {
                return <Self as ModuleOps<Self>>::conv3d(x, weight, None, options);
            };
            match ConvBackward
                .prepare::<C>([x.node(), weight.node()])
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(mut prep) => {
                    let x_id = prep.checkpoint(&x);
                    let w_id = prep.checkpoint(&weight);
                    let y = forward(&g, x.primitive(), weight.primitive(), None);
                    prep.finish((x_id, w_id, g), y)
                }
                OpsKind::UnTracked(prep) => {
                    prep.finish(forward(&g, x.primitive(), weight.primitive(), None))
                }
            }
        }

        fn fast_conv3d_bias(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            bias: FloatTensor<Self>,
            options: ConvOptions<3>,
        ) -> FloatTensor<Self> {
            let geometry = flex_geometry(x.primitive(), weight.primitive(), &options)
                .filter(|_| bias.primitive().dtype() == DType::F32);
            let Some(g) = geometry else {
                return <Self as ModuleOps<Self>>::conv3d(x, weight, Some(bias), options);
            };
            match ConvBiasBackward
                .prepare::<C>([x.node(), weight.node(), bias.node()])
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(mut prep) => {
                    let x_id = prep.checkpoint(&x);
                    let w_id = prep.checkpoint(&weight);
                    let y = forward(
                        &g,
                        x.primitive(),
                        weight.primitive(),
                        Some(bias.primitive()),
                    );
                    prep.finish((x_id, w_id, g), y)
                }
                OpsKind::UnTracked(prep) => prep.finish(forward(
                    &g,
                    x.primitive(),
                    weight.primitive(),
                    Some(bias.primitive()),
                )),
            }
        }
    }
}
