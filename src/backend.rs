//! How the Auto backend choice is made when the browser's WebGPU adapter cannot be told to be
//! a software fallback (`isFallbackAdapter` false, its description not a known software
//! renderer): the worker times one window on WebGPU and on the CPU, and [`auto_choice`] keeps
//! the faster path, with the reason shown on the page.

/// What the Auto probe measured: one window's seconds on each backend (the faster of two
/// runs, `Segmenter::window_seconds` in `adamm-model`) and how many workers share the CPU path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Probe {
    /// One window on WebGPU, s.
    pub webgpu_window_s: f64,
    /// One window on the wasm CPU backend in one worker, s.
    pub cpu_window_s: f64,
    /// Workers that run the CPU path's windows side by side (the pool; at least 1).
    pub cpu_workers: usize,
}

/// The backend Auto keeps and why.
#[derive(Debug, Clone, PartialEq)]
pub struct AutoChoice {
    /// WebGPU (`true`) or the CPU path (`false`).
    pub webgpu: bool,
    /// The reason, for the page: both measured times.
    pub note: String,
}

/// Keeps the faster path: WebGPU's window time against the CPU's divided by the workers that
/// share the windows. A tie goes to the CPU path (it needs no GPU memory). A time that is not a
/// positive finite number (a failed run) loses.
pub fn auto_choice(probe: Probe) -> AutoChoice {
    let workers = probe.cpu_workers.max(1);
    let cpu = probe.cpu_window_s / workers as f64;
    let valid = |t: f64| t.is_finite() && t > 0.0;
    let webgpu = match (valid(probe.webgpu_window_s), valid(cpu)) {
        (true, true) => probe.webgpu_window_s < cpu,
        (gpu_ok, _) => gpu_ok && !valid(cpu),
    };
    let shared = if workers > 1 {
        format!(
            " ({:.2} s in each of {workers} workers side by side)",
            probe.cpu_window_s
        )
    } else {
        String::new()
    };
    let note = format!(
        "Auto timed one window: {:.2} s on WebGPU, {cpu:.2} s on the CPU{shared}; using {}, the \
         faster",
        probe.webgpu_window_s,
        if webgpu { "WebGPU" } else { "the CPU" }
    );
    AutoChoice { webgpu, note }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(gpu: f64, cpu: f64, workers: usize) -> Probe {
        Probe {
            webgpu_window_s: gpu,
            cpu_window_s: cpu,
            cpu_workers: workers,
        }
    }

    #[test]
    fn keeps_the_faster_path_counting_the_cpu_workers() {
        assert!(auto_choice(probe(0.05, 0.4, 1)).webgpu);
        assert!(!auto_choice(probe(0.5, 0.4, 1)).webgpu);
        // 0.4 s per window on 8 workers side by side is 0.05 s a window: faster than 0.08 s.
        let c = auto_choice(probe(0.08, 0.4, 8));
        assert!(!c.webgpu);
        assert!(c.note.contains("0.08 s on WebGPU"), "{}", c.note);
        assert!(c.note.contains("0.05 s on the CPU"), "{}", c.note);
        assert!(c.note.contains("8 workers"), "{}", c.note);
        assert!(c.note.ends_with("using the CPU, the faster"), "{}", c.note);
        // A tie goes to the CPU; no workers counts as one.
        assert!(!auto_choice(probe(0.2, 0.2, 0)).webgpu);
    }

    #[test]
    fn a_failed_measurement_loses() {
        assert!(!auto_choice(probe(f64::NAN, 0.4, 1)).webgpu);
        assert!(!auto_choice(probe(f64::INFINITY, 0.4, 1)).webgpu);
        assert!(auto_choice(probe(0.3, f64::NAN, 4)).webgpu);
        assert!(!auto_choice(probe(0.0, 0.4, 1)).webgpu);
    }
}
