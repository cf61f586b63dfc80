//! Just enough TOML reading for xtask: the few values it needs from `Cargo.lock`, `Trunk.toml`
//! and crate manifests, all of which are simple `key = "value"` lines under `[section]` headers.

/// The `"value"` of a `key = "value"` line, if `line` is one for `key`.
fn string_value<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let rest = line.trim().strip_prefix(key)?.trim_start();
    let rest = rest.strip_prefix('=')?.trim();
    let rest = rest.strip_prefix('"')?;
    Some(&rest[..rest.find('"')?])
}

/// Splits a TOML document into its sections: `(header, lines)`, the header without brackets
/// (`package`, `tools`, and `package` again for each `[[package]]`).
fn sections(text: &str) -> Vec<(&str, Vec<&str>)> {
    let mut out: Vec<(&str, Vec<&str>)> = vec![("", Vec::new())];
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            let header = trimmed.trim_start_matches('[');
            let header = header.split(']').next().unwrap_or_default().trim();
            out.push((header, Vec::new()));
        } else if let Some((_, lines)) = out.last_mut() {
            lines.push(line);
        }
    }
    out
}

/// The version of the package `name` in a `Cargo.lock`. When the lock file holds several
/// versions of it, the first one listed (the lowest) is returned.
pub fn package_version(lock: &str, name: &str) -> Option<String> {
    sections(lock)
        .into_iter()
        .filter(|(header, _)| *header == "package")
        .find_map(|(_, lines)| {
            lines
                .iter()
                .find_map(|l| string_value(l, "name"))?
                .eq(name)
                .then(|| {
                    lines
                        .iter()
                        .find_map(|l| string_value(l, "version"))
                        .map(str::to_owned)
                })?
        })
}

/// The `wasm_bindgen` version pinned in `Trunk.toml`'s `[tools]` section.
pub fn trunk_wasm_bindgen(trunk_toml: &str) -> Option<String> {
    sections(trunk_toml)
        .into_iter()
        .filter(|(header, _)| *header == "tools")
        .find_map(|(_, lines)| lines.iter().find_map(|l| string_value(l, "wasm_bindgen")))
        .map(str::to_owned)
}

/// The `[package]` name in a crate's `Cargo.toml`.
pub fn manifest_package_name(manifest: &str) -> Option<String> {
    sections(manifest)
        .into_iter()
        .filter(|(header, _)| *header == "package")
        .find_map(|(_, lines)| lines.iter().find_map(|l| string_value(l, "name")))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = r#"
version = 4

[[package]]
name = "wasm-bindgen-futures"
version = "0.4.57"

[[package]]
name = "wasm-bindgen"
version = "0.2.130"
source = "registry+https://github.com/rust-lang/crates.io-index"
dependencies = [
 "cfg-if",
]
"#;

    #[test]
    fn finds_the_exact_package() {
        assert_eq!(
            package_version(LOCK, "wasm-bindgen").as_deref(),
            Some("0.2.130")
        );
        assert_eq!(
            package_version(LOCK, "wasm-bindgen-futures").as_deref(),
            Some("0.4.57")
        );
        assert_eq!(package_version(LOCK, "wasm"), None);
    }

    #[test]
    fn reads_trunk_toml() {
        let toml = "[build]\noffline = true\n\n[tools]\nwasm_bindgen = \"0.2.130\"  # pinned\n";
        assert_eq!(trunk_wasm_bindgen(toml).as_deref(), Some("0.2.130"));
        assert_eq!(trunk_wasm_bindgen("[build]\nwasm_bindgen = \"1\"\n"), None);
    }

    #[test]
    fn reads_manifest_name() {
        let manifest = "[package]\nname = \"adamm-e2e\"\n\n[dependencies]\nname = \"x\"\n";
        assert_eq!(
            manifest_package_name(manifest).as_deref(),
            Some("adamm-e2e")
        );
        assert_eq!(manifest_package_name("[workspace]\n"), None);
    }
}
