//! Embeds libtorch's folder as an rpath in this package's test binaries, so they run without
//! LD_LIBRARY_PATH (the `aiop` binary does the same in its own build script).
fn main() {
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
}
