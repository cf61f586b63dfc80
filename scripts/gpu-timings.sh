#!/usr/bin/env bash
# WebGPU's code path on a real GPU, natively: the worker's pipeline (`adamm segment`, the same
# `adamm_model::pipeline`) on Burn's wgpu backend (Vulkan), against the CPU, on the bundled
# sample and on a second 240×240×155 four-modality case, windows of 64 and 96. Prints each
# run's timings line and the Dice of the GPU labels against the CPU's. Meant for a borrowed GPU
# machine, where minutes count: build the binary beforehand, where crates can be fetched,
#   cargo build --release -p adamm-cli --features wgpu
# and run this script next to it:
#   ADAMM=target/release/adamm scripts/gpu-timings.sh OUT_DIR
set -euo pipefail

adamm=${ADAMM:-target/release/adamm}
out=${1:?usage: scripts/gpu-timings.sh OUT_DIR}
mkdir -p "$out"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# GNU time adds the peak memory; where it is missing the wall time comes from bash.
timed() {
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f "$1: %e s wall, %M KB peak" "${@:2}"
    else
        local start=$SECONDS
        "${@:2}"
        echo "$1: $((SECONDS - start)) s wall"
    fi
}

# The second case: synthetic, realistic mode, a seed the model never saw.
"$adamm" synth --out "$out/case" --cases 1 --seed 9 > /dev/null
second=$(find "$out/case" -mindepth 1 -maxdepth 1 -type d | head -n 1)

for name in sample second; do
    if [ "$name" = sample ]; then case_dir=public/sample; else case_dir=$second; fi
    for window in 64 96; do
        for device in cpu wgpu; do
            seg="$out/$name-$window-$device.nii.gz"
            # Twice: the first run compiles the GPU kernels; the second is the one to quote.
            for run in 1 2; do
                timed "$name window $window $device run $run" \
                    "$adamm" segment --case "$case_dir" --window "$window" --device "$device" \
                    --out "$seg" 2>&1 | grep -E "^timings:|wall" | sed "s/^/$name $window $device $run: /"
            done
        done
        "$adamm" metrics --pred "$out/$name-$window-wgpu.nii.gz" \
            --truth "$out/$name-$window-cpu.nii.gz" | sed "s/^/$name window $window, wgpu vs cpu: /"
    done
done
