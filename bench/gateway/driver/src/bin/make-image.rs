//! Writes the benchmark's input: a deterministic, photo-sized RGB PNG (a smooth gradient under
//! dense pseudo-random grain, so it barely compresses and weighs ~4 MB like a real photo at
//! that size), the same bytes on every run.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

use clap::Parser;

#[derive(Debug, Parser)]
struct Args {
    /// Where to write the PNG.
    #[arg(long)]
    out: PathBuf,
    /// Width and height in pixels (1160 gives ~4.0 MB).
    #[arg(long, default_value_t = 1160)]
    side: u32,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let side = args.side;
    let mut pixels = Vec::with_capacity(side as usize * side as usize * 3);
    // xorshift64*: fixed seed, so the file (and its sha256) is the same everywhere.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for y in 0..side {
        for x in 0..side {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let noise = state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
            let base = [
                (x * 255 / side) as u8,
                (y * 255 / side) as u8,
                ((x + y) * 127 / side) as u8,
            ];
            for (channel, value) in base.iter().enumerate() {
                pixels.push(value.wrapping_add(noise[channel]));
            }
        }
    }
    let file = BufWriter::new(File::create(&args.out)?);
    let mut encoder = png::Encoder::new(file, side, side);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&pixels)?;
    writer.finish()?;
    Ok(())
}
