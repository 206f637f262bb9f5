//! Generates synthetic head-training scenes, prints the generation speed, and writes a
//! preview (binary PPM) of the first few images above their masks, with keypoints.
//!
//! `cargo run --release --locked -p aiop-heads --example heads_preview -- OUT.ppm [COUNT]
//! [SIZE] [SEED]` (defaults: 20000 images of 64 px, seed 0; the preview shows 8).

use std::time::Instant;

use aiop_heads::synthetic::SyntheticSet;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(out) = args.first() else {
        return Err("usage: heads_preview OUT.ppm [COUNT] [SIZE] [SEED]".into());
    };
    let number = |i: usize, default: u64| -> Result<u64, Box<dyn std::error::Error>> {
        Ok(args
            .get(i)
            .map(|a| a.parse())
            .transpose()?
            .unwrap_or(default))
    };
    let (count, size, seed) = (
        number(1, 20_000)? as usize,
        number(2, 64)? as usize,
        number(3, 0)?,
    );
    let start = Instant::now();
    let set = SyntheticSet::generate(seed, count, size)?;
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{count} images of {size}×{size} in {seconds:.3} s: {:.0} images/s on {} threads",
        count as f64 / seconds,
        rayon::current_num_threads()
    );
    set.write_preview(out, 8)?;
    println!("preview: {out}");
    Ok(())
}
