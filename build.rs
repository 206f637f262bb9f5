//! Link settings of the `aiop` binary and its tests:
//! - libtorch's folder as an rpath, so they run without LD_LIBRARY_PATH;
//! - on Linux, the release profile's line tables zlib-compressed by the linker: backtraces keep
//!   their file:line (std reads compressed sections) at a fraction of the size (the binary is
//!   ≈ 2× its stripped size instead of 5×).
fn main() {
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg=-Wl,--compress-debug-sections=zlib");
    }
}
