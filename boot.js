// Starts the AdaMM app. Trunk's own loader is an inline script, which the page's
// Content-Security-Policy forbids, so Trunk.toml's `pattern_script` loads this file instead and
// passes the (content-hashed) names of the wasm-bindgen JS module and of the wasm file in the
// script tag's data attributes.
const tag = document.querySelector("script[data-app-js]");
const { default: init } = await import(tag.dataset.appJs);
const wasm = await init({ module_or_path: tag.dataset.appWasm });
dispatchEvent(new CustomEvent("TrunkApplicationStarted", { detail: { wasm } }));
