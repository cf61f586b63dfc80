//! Whole-volume inference by Gaussian-weighted sliding windows, and the conversion of the
//! class probabilities to a BraTS label map.
//!
//! The volume stays on the host; only one window at a time is on the device, so device
//! memory is bounded by the window size whatever the volume. Host memory is the input
//! channels plus one accumulator per class and one for the weights.

use adamm_volume::brats::{label, Availability};
use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};

use crate::config::AdammConfig;
use crate::error::{ModelError, Result};
use crate::network::{Student, Teacher};

/// Probability above which a class is called (each class is its own sigmoid), as the authors
/// evaluate.
pub const LABEL_THRESHOLD: f32 = 0.5;

/// Settings of the sliding-window inference.
#[derive(Config, Debug, PartialEq)]
pub struct SlidingWindowConfig {
    /// Window size `[nx, ny, nz]` in voxels; each a multiple of `2^(depth−1)`.
    /// Default: `[128, 128, 128]`.
    #[config(default = "[128, 128, 128]")]
    pub window: [usize; 3],
    /// Fraction of a window shared with its neighbour along each axis, in `[0, 1)`.
    /// Default: 0.5.
    #[config(default = 0.5)]
    pub overlap: f64,
    /// Standard deviation of the Gaussian blending weight, as a fraction of the window size.
    /// Default: 0.125.
    #[config(default = 0.125)]
    pub sigma_scale: f64,
    /// Zero a window's tumour class where its presence head says the class is absent
    /// (probability ≤ 0.5), as the authors' evaluation does. Default: `true`.
    #[config(default = true)]
    pub presence_gating: bool,
}

/// A network that can segment one window: teacher or student.
pub trait SegmentationNetwork: Module {
    /// The network's configuration.
    fn network_config(&self) -> &AdammConfig;
    /// Class probabilities `[1, classes, D, H, W]` and presence `[1, classes − 1]` of one
    /// window whose absent modalities are zeroed.
    fn segment_window(
        &self,
        x: Tensor<5>,
        availability: Availability,
    ) -> Result<(Tensor<5>, Tensor<2>)>;
}

impl SegmentationNetwork for Student {
    fn network_config(&self) -> &AdammConfig {
        &self.config
    }
    fn segment_window(
        &self,
        x: Tensor<5>,
        availability: Availability,
    ) -> Result<(Tensor<5>, Tensor<2>)> {
        let out = self.try_forward(x, availability)?;
        Ok((out.probabilities, out.presence))
    }
}

impl SegmentationNetwork for Teacher {
    fn network_config(&self) -> &AdammConfig {
        &self.config
    }
    /// The teacher has no adapters: it runs the plain path whatever `availability` says
    /// (it was trained with all four modalities).
    fn segment_window(
        &self,
        x: Tensor<5>,
        _availability: Availability,
    ) -> Result<(Tensor<5>, Tensor<2>)> {
        let out = self.try_forward(x)?;
        Ok((out.probabilities, out.presence))
    }
}

/// Progress of a segmentation: windows done out of the total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Windows finished.
    pub done: usize,
    /// Windows in all.
    pub total: usize,
}

/// Per-class probabilities over a whole volume.
#[derive(Debug, Clone, PartialEq)]
pub struct Segmentation {
    /// `[nx, ny, nz]`, as the input.
    pub dims: [usize; 3],
    /// One map per class (NETC, SNFH, ET, background), x fastest.
    pub probabilities: Vec<Vec<f32>>,
    /// The presence head's probability that each tumour class (NETC, SNFH, ET) is in the
    /// case: the largest over the windows.
    pub presence: Vec<f32>,
}

impl Segmentation {
    /// The internal label map (0 background, 1 NETC, 2 SNFH, 3 ET): ET where its probability
    /// exceeds `threshold`, else NETC where it does, else SNFH where it does, else background.
    /// The regions derived from it (WT = any tumour class, TC = NETC ∪ ET, ET) are exactly the
    /// thresholded channels the authors evaluate.
    pub fn labels(&self, threshold: f32) -> Vec<u8> {
        probabilities_to_labels(&self.probabilities, threshold)
    }
}

/// See [`Segmentation::labels`]; `probabilities` holds NETC, SNFH, ET (and optionally
/// background, unused) maps of equal length.
pub fn probabilities_to_labels(probabilities: &[Vec<f32>], threshold: f32) -> Vec<u8> {
    let n = probabilities.first().map_or(0, Vec::len);
    let get = |c: usize, i: usize| probabilities.get(c).map_or(0.0, |p| p[i]);
    (0..n)
        .map(|i| {
            if get(2, i) > threshold {
                label::ET
            } else if get(0, i) > threshold {
                label::NETC
            } else if get(1, i) > threshold {
                label::SNFH
            } else {
                label::BACKGROUND
            }
        })
        .collect()
}

/// Where the windows go along one axis: start positions, evenly spread from 0 to
/// `size − window` with at most `stride` between neighbours.
pub fn window_starts(size: usize, window: usize, overlap: f64) -> Vec<usize> {
    if size <= window {
        return vec![0];
    }
    let stride = ((window as f64 * (1.0 - overlap)).round() as usize).max(1);
    let span = size - window;
    let steps = span.div_ceil(stride) + 1;
    (0..steps)
        .map(|i| ((i as f64 * span as f64) / (steps - 1) as f64).round() as usize)
        .collect()
}

/// The Gaussian blending weight of a window `[wx, wy, wz]` (x fastest), peak 1, zeros raised
/// to the smallest positive value.
pub fn gaussian_weights(window: [usize; 3], sigma_scale: f64) -> Vec<f32> {
    let axis = |w: usize| -> Vec<f64> {
        let c = (w as f64 - 1.0) / 2.0;
        let s = (w as f64 * sigma_scale).max(1e-6);
        (0..w)
            .map(|i| (-0.5 * ((i as f64 - c) / s).powi(2)).exp())
            .collect()
    };
    let (gx, gy, gz) = (axis(window[0]), axis(window[1]), axis(window[2]));
    let mut out = Vec::with_capacity(window.iter().product());
    for z in &gz {
        for y in &gy {
            for x in &gx {
                out.push((x * y * z) as f32);
            }
        }
    }
    let min_pos = out
        .iter()
        .copied()
        .filter(|&v| v > 0.0)
        .fold(f32::INFINITY, f32::min);
    if min_pos.is_finite() {
        for v in &mut out {
            if *v <= 0.0 {
                *v = min_pos;
            }
        }
    }
    out
}

/// Sliding-window segmentation of whole volumes with a teacher or student.
#[derive(Debug)]
pub struct Segmenter<N: SegmentationNetwork = Student> {
    network: N,
    config: SlidingWindowConfig,
    device: Device,
    weights: Vec<f32>,
}

/// One planned window: start `[x, y, z]`.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: [usize; 3],
}

/// The accumulation buffers of a running segmentation.
struct Blend {
    dims: [usize; 3],
    window: [usize; 3],
    sums: Vec<Vec<f32>>,
    weight: Vec<f32>,
    /// Largest presence probability per tumour class so far.
    presence: Vec<f32>,
}

impl<N: SegmentationNetwork> Segmenter<N> {
    /// A segmenter running `network` (switched to inference mode and moved to `device`).
    pub fn new(network: N, config: SlidingWindowConfig, device: &Device) -> Result<Self> {
        let m = network.network_config().size_multiple();
        if config
            .window
            .iter()
            .any(|&w| w == 0 || !w.is_multiple_of(m))
        {
            return Err(ModelError::InvalidConfig(format!(
                "window {:?} must be positive multiples of {m}",
                config.window
            )));
        }
        if !(0.0..1.0).contains(&config.overlap) || config.sigma_scale <= 0.0 {
            return Err(ModelError::InvalidConfig(format!(
                "overlap must be in [0, 1) and sigma_scale positive, got {} and {}",
                config.overlap, config.sigma_scale
            )));
        }
        let device = device.clone().without_autodiff();
        let network = network.valid().to_device(&device);
        let weights = gaussian_weights(config.window, config.sigma_scale);
        Ok(Segmenter {
            network,
            config,
            device,
            weights,
        })
    }

    /// A segmenter whose single window covers a volume of `dims` (rounded up to the size
    /// multiple): one full-volume pass.
    pub fn full_volume(network: N, dims: [usize; 3], device: &Device) -> Result<Self> {
        let m = network.network_config().size_multiple();
        let window = dims.map(|d| d.max(1).div_ceil(m) * m);
        Segmenter::new(
            network,
            SlidingWindowConfig::new().with_window(window),
            device,
        )
    }

    /// The sliding-window settings.
    pub fn config(&self) -> &SlidingWindowConfig {
        &self.config
    }

    /// The network.
    pub fn network(&self) -> &N {
        &self.network
    }

    /// How many windows a volume of `dims` takes.
    pub fn window_count(&self, dims: [usize; 3]) -> usize {
        self.plan(dims).len()
    }

    fn plan(&self, dims: [usize; 3]) -> Vec<Window> {
        let [sx, sy, sz] =
            [0, 1, 2].map(|a| window_starts(dims[a], self.config.window[a], self.config.overlap));
        let mut out = Vec::with_capacity(sx.len() * sy.len() * sz.len());
        for &z in &sz {
            for &y in &sy {
                for &x in &sx {
                    out.push(Window { start: [x, y, z] });
                }
            }
        }
        out
    }

    fn check(
        &self,
        channels: &[Vec<f32>],
        dims: [usize; 3],
        availability: Availability,
    ) -> Result<()> {
        let n: usize = dims.iter().product();
        let c = self.network.network_config().in_channels;
        if n == 0 {
            return Err(ModelError::InvalidInput("the volume is empty".into()));
        }
        if channels.len() != c || channels.iter().any(|ch| ch.len() != n) {
            return Err(ModelError::InvalidInput(format!(
                "expected {c} channels of {n} voxels ({dims:?})"
            )));
        }
        if availability.is_empty() {
            return Err(ModelError::InvalidInput(
                "the availability code has no modality".into(),
            ));
        }
        Ok(())
    }

    /// The input tensor of one window: the crop of `channels` (zero beyond the volume and for
    /// absent modalities), `[1, C, wz, wy, wx]`.
    fn window_input(
        &self,
        channels: &[Vec<f32>],
        dims: [usize; 3],
        availability: Availability,
        w: Window,
    ) -> Tensor<5> {
        let [wx, wy, wz] = self.config.window;
        let present = availability.present();
        let mut data = vec![0.0f32; channels.len() * wx * wy * wz];
        let [nx, ny, nz] = dims;
        let [x0, y0, z0] = w.start;
        let xs = wx.min(nx - x0);
        for (ci, ch) in channels.iter().enumerate() {
            if !present.get(ci).copied().unwrap_or(true) {
                continue;
            }
            for z in 0..wz.min(nz - z0) {
                for y in 0..wy.min(ny - y0) {
                    let src = x0 + nx * ((y0 + y) + ny * (z0 + z));
                    let dst = wx * (y + wy * (z + wz * ci));
                    data[dst..dst + xs].copy_from_slice(&ch[src..src + xs]);
                }
            }
        }
        Tensor::from_data(
            TensorData::new(data, [1, channels.len(), wz, wy, wx]),
            &self.device,
        )
    }

    /// Runs the network on one window and gates the tumour classes by presence; returns the
    /// probabilities `[1, classes, wz, wy, wx]` and the presence `[1, classes − 1]`, still on
    /// the device.
    fn run_window(
        &self,
        x: Tensor<5>,
        availability: Availability,
    ) -> Result<(Tensor<5>, Tensor<2>)> {
        let (probs, presence) = self.network.segment_window(x, availability)?;
        if !self.config.presence_gating {
            return Ok((probs, presence));
        }
        let [_, k] = presence.dims();
        let gate = presence.clone().greater_elem(0.5).float(); // [1, k]
        let ones = Tensor::<2>::ones([1, 1], &self.device);
        let gate = Tensor::cat(vec![gate, ones], 1).reshape([1, k + 1, 1, 1, 1]);
        Ok((probs * gate, presence))
    }

    fn new_blend(&self, dims: [usize; 3]) -> Blend {
        let n: usize = dims.iter().product();
        let classes = self.network.network_config().num_classes;
        Blend {
            dims,
            window: self.config.window,
            sums: vec![vec![0.0; n]; classes],
            weight: vec![0.0; n],
            presence: vec![0.0; classes.saturating_sub(1)],
        }
    }

    /// Starts segmenting `channels` (`in_channels` maps of `dims = [nx, ny, nz]` voxels, x
    /// fastest) with the combination `availability` (modalities it marks absent are zeroed):
    /// the windows to run, one at a time, with [`Windows::run`] or [`Windows::run_async`].
    pub fn start<'a>(
        &'a self,
        channels: &'a [Vec<f32>],
        dims: [usize; 3],
        availability: Availability,
    ) -> Result<Windows<'a, N>> {
        self.check(channels, dims, availability)?;
        Ok(Windows {
            segmenter: self,
            channels,
            dims,
            availability,
            landed: vec![false; self.plan(dims).len()],
            plan: self.plan(dims),
            done: 0,
            blend: self.new_blend(dims),
        })
    }

    /// Seconds one window takes on this segmenter's device, read back asynchronously (every
    /// backend, WebGPU in a browser included), with all four modalities on a synthetic input:
    /// the faster of two runs, since the first also compiles a GPU backend's kernels. `now`
    /// is a clock in milliseconds (`performance.now()` in a browser). For choosing a backend.
    pub async fn window_seconds(&self, now: impl Fn() -> f64) -> Result<f64> {
        let window = self.config.window;
        let n: usize = window.iter().product();
        let in_channels = self.network.network_config().in_channels;
        // Any values do: the time does not depend on them. A ramp avoids an all-zero input.
        let channels: Vec<Vec<f32>> = (0..in_channels)
            .map(|c| (0..n).map(|i| ((i * (c + 1)) % 97) as f32 / 97.0).collect())
            .collect();
        let mut best = f64::INFINITY;
        for _ in 0..2 {
            let started = now();
            self.start(&channels, window, Availability::FULL)?
                .run_async(|_| {})
                .await?;
            best = best.min((now() - started) / 1000.0);
        }
        Ok(best)
    }

    /// Segments `channels` at once (see [`Segmenter::start`]), reading each window back
    /// synchronously. Do not use on WebGPU in a browser (use [`Windows::run_async`]).
    pub fn segment_channels(
        &self,
        channels: &[Vec<f32>],
        dims: [usize; 3],
        availability: Availability,
        progress: impl FnMut(Progress),
    ) -> Result<Segmentation> {
        self.start(channels, dims, availability)?.run(progress)
    }
}

/// A sliding-window segmentation under way (from [`Segmenter::start`]): the windows are
/// launched on the device one at a time ([`Windows::launch`]), read back by the caller's
/// driver and blended in ([`Windows::land`]). [`Windows::run`] reads back synchronously,
/// [`Windows::run_async`] asynchronously (WebGPU in a browser); both take the same steps.
pub struct Windows<'a, N: SegmentationNetwork> {
    segmenter: &'a Segmenter<N>,
    channels: &'a [Vec<f32>],
    dims: [usize; 3],
    availability: Availability,
    plan: Vec<Window>,
    /// Which windows have landed.
    landed: Vec<bool>,
    done: usize,
    blend: Blend,
}

/// One window's network output read back to host memory: what a worker that ran window
/// `index` of the same plan sends to the one that blends ([`Windows::land_window`]).
#[derive(Debug, Clone, PartialEq)]
pub struct WindowOutput {
    /// The window's number in the plan.
    pub index: usize,
    /// Class probabilities, `classes × wz × wy × wx` (x fastest), gated by presence.
    pub probabilities: Vec<f32>,
    /// Presence of each tumour class.
    pub presence: Vec<f32>,
}

/// One window's network output, still on the device: read it back and [`Windows::land`] it.
pub struct Launched {
    index: usize,
    /// Class probabilities `[1, classes, wz, wy, wx]`, gated by presence.
    pub probabilities: Tensor<5>,
    /// Presence `[1, classes − 1]`.
    pub presence: Tensor<2>,
}

impl<N: SegmentationNetwork> Windows<'_, N> {
    /// Windows in all.
    pub fn total(&self) -> usize {
        self.plan.len()
    }

    /// Runs the network on the next window not landed yet, in plan order; `None` when every
    /// window has landed.
    pub fn launch(&self) -> Result<Option<Launched>> {
        match self.landed.iter().position(|&l| !l) {
            Some(index) => self.launch_window(index).map(Some),
            None => Ok(None),
        }
    }

    /// Runs the network on window `index` of the plan.
    pub fn launch_window(&self, index: usize) -> Result<Launched> {
        let &w = self.plan.get(index).ok_or_else(|| {
            ModelError::InvalidInput(format!("window {index} of a plan of {}", self.plan.len()))
        })?;
        let s = self.segmenter;
        let x = s.window_input(self.channels, self.dims, self.availability, w);
        let (probabilities, presence) = s.run_window(x, self.availability)?;
        Ok(Launched {
            index,
            probabilities,
            presence,
        })
    }

    /// Runs window `index` and reads it back synchronously (not on WebGPU in a browser): the
    /// output a worker of a pool sends back.
    pub fn compute_window(&self, index: usize) -> Result<WindowOutput> {
        let w = self.launch_window(index)?;
        Ok(WindowOutput {
            index,
            probabilities: host_values(w.probabilities.try_into_data().map_err(readback)?)?,
            presence: host_values(w.presence.try_into_data().map_err(readback)?)?,
        })
    }

    /// Blends in a launched window's output, read back as `probabilities` and `presence`.
    pub fn land(
        &mut self,
        launched: &Launched,
        probabilities: TensorData,
        presence: TensorData,
    ) -> Result<Progress> {
        self.land_window(&WindowOutput {
            index: launched.index,
            probabilities: host_values(probabilities)?,
            presence: host_values(presence)?,
        })
    }

    /// Blends in window `output.index`'s output, computed here or by another worker holding the
    /// same plan ([`Windows::compute_window`]). Windows may land in any order; landing them in
    /// plan order gives bit-for-bit the result of [`Windows::run`]. A window lands once.
    pub fn land_window(&mut self, output: &WindowOutput) -> Result<Progress> {
        let index = output.index;
        let (Some(&w), Some(&landed)) = (self.plan.get(index), self.landed.get(index)) else {
            return Err(ModelError::InvalidInput(format!(
                "window {index} of a plan of {}",
                self.plan.len()
            )));
        };
        if landed {
            return Err(ModelError::InvalidInput(format!(
                "window {index} has landed already"
            )));
        }
        self.blend
            .add(&output.probabilities, w.start, &self.segmenter.weights)?;
        self.blend.add_presence(&output.presence)?;
        self.landed[index] = true;
        self.done += 1;
        Ok(Progress {
            done: self.done,
            total: self.plan.len(),
        })
    }

    /// The blended probabilities (windows not landed contribute nothing).
    pub fn finish(self) -> Segmentation {
        self.blend.finish()
    }

    /// Runs every window, reading each back synchronously (not on WebGPU in a browser).
    pub fn run(mut self, mut progress: impl FnMut(Progress)) -> Result<Segmentation> {
        while let Some(w) = self.launch()? {
            let probabilities = w.probabilities.clone().try_into_data().map_err(readback)?;
            let presence = w.presence.clone().try_into_data().map_err(readback)?;
            progress(self.land(&w, probabilities, presence)?);
        }
        Ok(self.finish())
    }

    /// Runs every window, reading each back asynchronously: works on every backend, WebGPU
    /// in a browser included.
    pub async fn run_async(mut self, mut progress: impl FnMut(Progress)) -> Result<Segmentation> {
        while let Some(w) = self.launch()? {
            let probabilities = w
                .probabilities
                .clone()
                .into_data_async()
                .await
                .map_err(readback)?;
            let presence = w
                .presence
                .clone()
                .into_data_async()
                .await
                .map_err(readback)?;
            progress(self.land(&w, probabilities, presence)?);
        }
        Ok(self.finish())
    }
}

/// A read-back tensor's values as `f32`.
fn host_values(data: TensorData) -> Result<Vec<f32>> {
    data.convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| ModelError::Readback(format!("{e:?}")))
}

fn readback(e: impl std::fmt::Display) -> ModelError {
    ModelError::Readback(e.to_string())
}

impl Blend {
    /// Adds one window's probabilities (`[1, classes, wz, wy, wx]`) at `start`.
    fn add(&mut self, values: &[f32], start: [usize; 3], weights: &[f32]) -> Result<()> {
        let [wx, wy, wz] = self.window;
        let [nx, ny, nz] = self.dims;
        let [x0, y0, z0] = start;
        let wn = wx * wy * wz;
        if values.len() != wn * self.sums.len() {
            return Err(ModelError::Readback(format!(
                "a window came back with {} values, expected {}",
                values.len(),
                wn * self.sums.len()
            )));
        }
        let xs = wx.min(nx - x0);
        for z in 0..wz.min(nz - z0) {
            for y in 0..wy.min(ny - y0) {
                let src = wx * (y + wy * z);
                let dst = x0 + nx * ((y0 + y) + ny * (z0 + z));
                let g = &weights[src..src + xs];
                for (acc, &gv) in self.weight[dst..dst + xs].iter_mut().zip(g) {
                    *acc += gv;
                }
                for (c, sum) in self.sums.iter_mut().enumerate() {
                    let p = &values[c * wn + src..c * wn + src + xs];
                    for ((acc, &pv), &gv) in sum[dst..dst + xs].iter_mut().zip(p).zip(g) {
                        *acc += pv * gv;
                    }
                }
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Segmentation {
        for sum in &mut self.sums {
            for (v, &w) in sum.iter_mut().zip(&self.weight) {
                if w > 0.0 {
                    *v /= w;
                }
            }
        }
        Segmentation {
            dims: self.dims,
            probabilities: self.sums,
            presence: self.presence,
        }
    }

    /// Takes one window's presence probabilities (`[1, classes − 1]`) into the maxima.
    fn add_presence(&mut self, values: &[f32]) -> Result<()> {
        if values.len() != self.presence.len() {
            return Err(ModelError::Readback(format!(
                "a window's presence came back with {} values, expected {}",
                values.len(),
                self.presence.len()
            )));
        }
        for (p, &v) in self.presence.iter_mut().zip(values) {
            *p = p.max(v);
        }
        Ok(())
    }
}
